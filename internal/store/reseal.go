package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/secrets"
)

// The columns that hold sealed values, as Reseal and Inventory name them.
const (
	// ColumnPartnerSecrets holds each payment's partner credential (GMO-PG's AccessID and
	// AccessPass), sealed for the payment id.
	ColumnPartnerSecrets = "payments.partner_secret"
	// ColumnWebhookSecrets holds the endpoints' signing secrets, sealed for the endpoint id
	// (in clear when written before secrets were sealed).
	ColumnWebhookSecrets = "webhook_secrets.secret"
	// ColumnOperatorSecrets holds the operators' TOTP secrets, sealed for
	// "operator_totp:<operator>" (docs/security.md §7).
	ColumnOperatorSecrets = "operator_totp.sealed_secret"
)

// SealedColumns are the columns of sealed values, in the order Reseal walks them.
var SealedColumns = []string{ColumnPartnerSecrets, ColumnWebhookSecrets, ColumnOperatorSecrets}

// sealOwner is the owner a value of col was sealed for (its additional data).
func sealOwner(col string, r sealedRow) string {
	if col == ColumnOperatorSecrets {
		return "operator_totp:" + r.id
	}
	return r.id
}

// DefaultResealBatch is how many values one reseal transaction moves.
const DefaultResealBatch = 200

// resealPasses bounds the passes of one reseal: the first moves everything; a value an
// instance still sealing under an older key writes meanwhile is found by the next.
const resealPasses = 3

// ResealOptions tune a reseal.
type ResealOptions struct {
	// BatchSize is how many values one transaction looks at; 0 means DefaultResealBatch.
	BatchSize int
	// Pause waits between batches, to spare a busy database.
	Pause time.Duration
	// Progress is told of each committed batch; an error it returns stops the reseal
	// (what was committed stays: a reseal run again goes on from there).
	Progress func(ResealBatch) error
}

// ResealBatch is what one committed reseal transaction did.
type ResealBatch struct {
	// Column is the column it walked, Pass its pass over the columns (1, 2, …).
	Column string
	Pass   int
	// Resealed values moved to the sealing key (a webhook secret in clear: sealed).
	Resealed int
	// Through is the last row the batch looked at (a payment id, or an endpoint id and the
	// secret's creation time): never a secret.
	Through string
}

// ResealResult is what a reseal did.
type ResealResult struct {
	// KeyID is the key every value now is under.
	KeyID string
	// Resealed counts the values moved, per column.
	Resealed map[string]int
	// Unreadable lists, per column, the rows whose value opens under no key of the ring
	// (a missing key, or a value damaged or bound elsewhere): left as they are.
	Unreadable map[string][]string
}

// ErrResealIncomplete is Reseal's error when values it cannot move remain: unreadable ones,
// or values an instance keeps sealing under an older key.
var ErrResealIncomplete = errors.New("store: reseal incomplete")

// Reseal moves every sealed value of the database to box's sealing key (docs/security.md
// §13): the payments' partner credentials and the endpoints' signing secrets (sealing
// those still in clear). It walks each column in batches of opts.BatchSize, each batch in
// its own transaction: a value moves only if it is still what the batch read (a
// concurrent write wins), and a value already under the sealing key is never rewritten,
// so a reseal that was killed or stopped goes on where it stopped when run again, and one
// that has nothing left to do changes nothing. After the first pass it walks the columns
// again until a pass moves nothing (values written meanwhile under an older key), at most
// resealPasses times. Values that open under no key of the ring are left as they are and
// listed; then, or when a value under an older key remains after the last pass, the error
// is ErrResealIncomplete. Nothing it reports, and no error, contains a secret.
func Reseal(ctx context.Context, st contracts.Store, box *secrets.Box, opts ResealOptions) (ResealResult, error) {
	db, ok := dbOf(st)
	if !ok {
		return ResealResult{}, fmt.Errorf("store: reseal needs payhub's SQL store, not %T", st)
	}
	if box == nil {
		return ResealResult{}, errors.New("store: reseal without a key ring")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultResealBatch
	}
	res := ResealResult{KeyID: box.KeyID(), Resealed: map[string]int{}}
	for pass := 1; pass <= resealPasses; pass++ {
		moved := 0
		res.Unreadable = map[string][]string{}
		for _, col := range SealedColumns {
			n, unreadable, err := db.resealColumn(ctx, box, col, pass, opts)
			res.Resealed[col] += n
			moved += n
			if len(unreadable) > 0 {
				res.Unreadable[col] = unreadable
			}
			if err != nil {
				return res, err
			}
		}
		if moved == 0 {
			break
		}
		if pass == resealPasses {
			return res, fmt.Errorf("%w: pass %d still moved %d values written under an older key: is every instance running with the new key first in PAYHUB_SECRET_KEYS?", ErrResealIncomplete, pass, moved)
		}
	}
	n := 0
	for _, col := range SealedColumns {
		n += len(res.Unreadable[col])
	}
	if n > 0 {
		return res, fmt.Errorf("%w: %d values open under no key of the ring", ErrResealIncomplete, n)
	}
	return res, nil
}

// sealedRow is one stored value: its row's key and its owner (the sealed value's
// additional data).
type sealedRow struct {
	// id is the payment or endpoint id: the owner.
	id string
	// createdAt completes a webhook secret's key.
	createdAt time.Time
	value     string
}

// through names the row in reports: its id, and a webhook secret's creation time.
func (r sealedRow) through(col string) string {
	if col == ColumnWebhookSecrets {
		return r.id + "@" + r.createdAt.Format(time.RFC3339Nano)
	}
	return r.id
}

// resealColumn walks one column from its start, a batch per transaction.
func (s *DB) resealColumn(ctx context.Context, box *secrets.Box, col string, pass int, opts ResealOptions) (int, []string, error) {
	var (
		after      sealedRow
		total      int
		unreadable []string
	)
	for {
		var (
			rows    []sealedRow
			moved   int
			refused []string
		)
		err := s.inTx(ctx, func(t *tx) error {
			if !t.d.postgres {
				// The bytes a rewrite frees are zeroed, so that the value it replaces (a
				// webhook secret in clear) is not left in the file's free space.
				if _, err := t.tx.ExecContext(ctx, "PRAGMA secure_delete = ON"); err != nil {
					return t.d.wrap("secure delete", err)
				}
			}
			var err error
			if rows, err = readSealed(ctx, t.tx, t.d, col, box.CurrentPrefix(), after, opts.BatchSize, true); err != nil {
				return err
			}
			moved, refused = 0, nil
			for _, r := range rows {
				next, changed, err := resealValue(box, col, r)
				if err != nil {
					refused = append(refused, r.through(col)) // opens under no key: left as it is
					continue
				}
				if !changed {
					continue
				}
				n, err := t.replaceSealed(ctx, col, r, next)
				if err != nil {
					return err
				}
				moved += n
			}
			return nil
		})
		if err != nil {
			return total, unreadable, fmt.Errorf("store: reseal %s: %w", col, err)
		}
		total += moved
		unreadable = append(unreadable, refused...)
		if len(rows) == 0 {
			return total, unreadable, nil
		}
		after = rows[len(rows)-1]
		if opts.Progress != nil {
			if err := opts.Progress(ResealBatch{Column: col, Pass: pass, Resealed: moved, Through: after.through(col)}); err != nil {
				return total, unreadable, err
			}
		}
		if len(rows) < opts.BatchSize {
			return total, unreadable, nil
		}
		if opts.Pause > 0 {
			select {
			case <-time.After(opts.Pause):
			case <-ctx.Done():
				return total, unreadable, ctx.Err()
			}
		}
	}
}

// resealValue is a stored value moved to the sealing key: a sealed one resealed, a webhook
// secret in clear sealed. A value that does not open is secrets.ErrUnreadable.
func resealValue(box *secrets.Box, col string, r sealedRow) (string, bool, error) {
	if col == ColumnWebhookSecrets && strings.HasPrefix(r.value, clearWebhookSecretPrefix) {
		return box.Seal(r.id, r.value), true, nil
	}
	return box.Reseal(sealOwner(col, r), r.value)
}

// readSealed reads up to limit non-empty values of col after the row after, in key order:
// only those not under the sealing key (not beginning with current) unless current is "";
// locked for update when lock is set (on PostgreSQL; a SQLite transaction holds the write
// lock already).
func readSealed(ctx context.Context, q querier, d dialect, col, current string, after sealedRow, limit int, lock bool) ([]sealedRow, error) {
	var (
		query, filter, forUpdate string
		args                     []any
	)
	if lock {
		forUpdate = d.forUpdate()
	}
	switch col {
	case ColumnPartnerSecrets:
		if current != "" {
			filter = " AND substr(partner_secret, 1, " + strconv.Itoa(len(current)) + ") <> ?"
		}
		query = `SELECT id, partner_secret FROM payments WHERE id > ? AND partner_secret <> ''` + filter +
			` ORDER BY id LIMIT ?` + forUpdate
		args = []any{after.id}
	case ColumnWebhookSecrets:
		if current != "" {
			filter = " AND substr(secret, 1, " + strconv.Itoa(len(current)) + ") <> ?"
		}
		query = `SELECT endpoint_id, created_at, secret FROM webhook_secrets
			WHERE (endpoint_id > ? OR (endpoint_id = ? AND created_at > ?)) AND secret <> ''` + filter +
			` ORDER BY endpoint_id, created_at LIMIT ?` + forUpdate
		args = []any{after.id, after.id, d.ts(after.createdAt)}
	case ColumnOperatorSecrets:
		if current != "" {
			filter = " AND substr(sealed_secret, 1, " + strconv.Itoa(len(current)) + ") <> ?"
		}
		query = `SELECT operator, sealed_secret FROM operator_totp WHERE operator > ?` + filter +
			` ORDER BY operator LIMIT ?` + forUpdate
		args = []any{after.id}
	default:
		return nil, fmt.Errorf("store: no sealed column %q", col)
	}
	if current != "" {
		args = append(args, current)
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, d.wrap("read sealed values", err)
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		var r sealedRow
		dest := []any{&r.id, &r.value}
		if col == ColumnWebhookSecrets {
			dest = []any{&r.id, timeCol{&r.createdAt}, &r.value}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, d.wrap("read sealed values", err)
		}
		out = append(out, r)
	}
	return out, d.wrap("read sealed values", rows.Err())
}

// replaceSealed writes next in place of r's value if it is still r's value; it says how
// many rows it changed (0: a concurrent write came first, and wins).
func (t *tx) replaceSealed(ctx context.Context, col string, r sealedRow, next string) (int, error) {
	var (
		query string
		args  []any
	)
	switch col {
	case ColumnPartnerSecrets:
		query = `UPDATE payments SET partner_secret = ? WHERE id = ? AND partner_secret = ?`
		args = []any{next, r.id, r.value}
	case ColumnWebhookSecrets:
		query = `UPDATE webhook_secrets SET secret = ? WHERE endpoint_id = ? AND created_at = ? AND secret = ?`
		args = []any{next, r.id, t.d.ts(r.createdAt), r.value}
	case ColumnOperatorSecrets:
		query = `UPDATE operator_totp SET sealed_secret = ? WHERE operator = ? AND sealed_secret = ?`
		args = []any{next, r.id, r.value}
	}
	res, err := t.tx.ExecContext(ctx, t.d.q(query), args...)
	if err != nil {
		return 0, t.d.wrap("reseal "+r.through(col), err)
	}
	n, err := res.RowsAffected()
	return int(n), t.d.wrap("reseal "+r.through(col), err)
}

// SealedCounts describe one column's values: how many are under each key, how many open.
type SealedCounts struct {
	// ByKey counts values per sealing key id; "v1" counts those of the format without key
	// ids, "clear" webhook secrets kept in clear, "unknown" anything else.
	ByKey map[string]int
	// Unreadable counts values that open under no key of the ring.
	Unreadable int
}

// Inventory counts, per column, the stored values by the key that sealed them, and those
// box cannot open: what `payhub secrets status` shows before a key is dropped. It reads
// in batches, outside any transaction, and changes nothing.
func Inventory(ctx context.Context, st contracts.Store, box *secrets.Box) (map[string]SealedCounts, error) {
	db, ok := dbOf(st)
	if !ok {
		return nil, fmt.Errorf("store: inventory needs payhub's SQL store, not %T", st)
	}
	out := map[string]SealedCounts{}
	for _, col := range SealedColumns {
		c := SealedCounts{ByKey: map[string]int{}}
		var after sealedRow
		for {
			rows, err := readSealed(ctx, db.db, db.d, col, "", after, DefaultResealBatch, false)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				format, id := secrets.Format(r.value)
				switch {
				case format == "v2":
					c.ByKey[id]++
				case format == "v1":
					c.ByKey["v1"]++
				case col == ColumnWebhookSecrets && strings.HasPrefix(r.value, clearWebhookSecretPrefix):
					c.ByKey["clear"]++
					continue // opens trivially
				default:
					c.ByKey["unknown"]++
				}
				if _, err := box.Open(sealOwner(col, r), r.value); err != nil {
					c.Unreadable++
				}
			}
			if len(rows) < DefaultResealBatch {
				break
			}
			after = rows[len(rows)-1]
		}
		out[col] = c
	}
	return out, nil
}
