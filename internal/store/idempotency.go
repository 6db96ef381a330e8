package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"payhub/contracts"
)

// BeginIdempotency claims (ClientID, Key). The insert does nothing when the key exists, so
// of two concurrent first requests exactly one gets created=true; both read the stored row.
func (s *DB) BeginIdempotency(ctx context.Context, k contracts.IdempotencyKey) (contracts.IdempotencyRecord, bool, error) {
	var (
		rec     contracts.IdempotencyRecord
		created bool
	)
	err := s.inTx(ctx, func(t *tx) error {
		if t.d.postgres {
			// The claim need not wait for its WAL flush: a claim lost in a crash had no
			// intent written under it (the intent's own commit is synchronous and flushes
			// the WAL up to it, claim included), so the till's retry simply runs afresh.
			if _, err := t.tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return t.d.wrap("begin idempotency", err)
			}
		}
		res, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO idempotency_keys
			(client_id, key, fingerprint, completed, created_at, owner)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (client_id, key) DO NOTHING`),
			k.ClientID, k.Key, k.Fingerprint, false, t.d.ts(k.CreatedAt), k.Owner)
		if err != nil {
			return t.d.wrap("begin idempotency", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return t.d.wrap("begin idempotency", err)
		}
		created = n == 1
		rec, err = getIdempotency(ctx, t, k.ClientID, k.Key)
		return err
	})
	if err != nil {
		return contracts.IdempotencyRecord{}, false, err
	}
	return rec, created, nil
}

// getIdempotency reads one key's record.
func getIdempotency(ctx context.Context, t *tx, clientID, key string) (contracts.IdempotencyRecord, error) {
	return readIdempotency(ctx, t.tx, t.d, clientID, key)
}

func readIdempotency(ctx context.Context, q querier, d dialect, clientID, key string) (contracts.IdempotencyRecord, error) {
	var r contracts.IdempotencyRecord
	err := q.QueryRowContext(ctx, d.q(`SELECT
		client_id, key, fingerprint, completed, answer_kind, answer_code, response_body, created_at, completed_at,
		owner, intent_written, attempt_id
		FROM idempotency_keys WHERE client_id = ? AND key = ?`), clientID, key).
		Scan(&r.ClientID, &r.Key, &r.Fingerprint, &r.Completed, &r.Answer.Kind, &r.Answer.Code, &r.Answer.Body,
			timeCol{&r.CreatedAt}, nullTimeCol{&r.CompletedAt}, &r.Owner, &r.IntentWritten, &r.AttemptID)
	if err != nil {
		return contracts.IdempotencyRecord{}, d.wrap("read idempotency key", err)
	}
	return r, nil
}

// GetIdempotency reads the record of (clientID, key); ErrNotFound when there is none.
func (s *DB) GetIdempotency(ctx context.Context, clientID, key string) (contracts.IdempotencyRecord, error) {
	return readIdempotency(ctx, s.r(), s.d, clientID, key)
}

// TakeOverIdempotency moves the claim on an in-flight key from a gone owner to the caller,
// in one statement: of several instances taking over at once exactly one succeeds.
func (s *DB) TakeOverIdempotency(ctx context.Context, clientID, key, from, to string, at time.Time) (bool, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`UPDATE idempotency_keys SET owner = ?, created_at = ?
		WHERE client_id = ? AND key = ? AND owner = ? AND completed = ?`),
		to, s.d.ts(at), clientID, key, from, false)
	if err != nil {
		return false, s.d.wrap("take over idempotency", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.d.wrap("take over idempotency", err)
	}
	return n == 1, nil
}

// LookupIdempotency reads the record of (clientID, key) as the transaction sees it, its own
// uncommitted changes included; ErrNotFound when there is none.
func (t *tx) LookupIdempotency(ctx context.Context, clientID, key string) (contracts.IdempotencyRecord, error) {
	return getIdempotency(ctx, t, clientID, key)
}

// CompleteIdempotency stores the first answer for (clientID, key), in the transaction of
// the state change it answers. The key must exist (ErrNotFound) and still be in flight
// (ErrConflict).
func (t *tx) CompleteIdempotency(ctx context.Context, clientID, key string, a contracts.Answer, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE idempotency_keys
		SET completed = ?, answer_kind = ?, answer_code = ?, response_body = ?, completed_at = ?
		WHERE client_id = ? AND key = ? AND completed = ?`),
		true, string(a.Kind), string(a.Code), a.Body, t.d.ts(at), clientID, key, false)
	if err != nil {
		return t.d.wrap("complete idempotency", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return t.d.wrap("complete idempotency", err)
	}
	if _, err := getIdempotency(ctx, t, clientID, key); err != nil {
		return err
	}
	return fmt.Errorf("store: complete idempotency: key already completed: %w", contracts.ErrConflict)
}

// ClaimIdempotencyIntent claims the key with its intent in the transaction writing the
// intent (one upsert): a new key is inserted; an existing one is marked only when it is a
// claim k.Owner holds for the same request with neither an intent nor an answer — one
// taken over from an instance of an earlier release, whose claims came before their
// intents. On PostgreSQL a concurrent claim of the same key waits for the first to commit
// or roll back, then finds it here.
func (t *tx) ClaimIdempotencyIntent(ctx context.Context, k contracts.IdempotencyKey, attemptID string) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO idempotency_keys
		(client_id, key, fingerprint, completed, created_at, owner, intent_written, attempt_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (client_id, key) DO UPDATE SET intent_written = excluded.intent_written, attempt_id = excluded.attempt_id
		WHERE `+ownClaimWithoutIntent),
		k.ClientID, k.Key, k.Fingerprint, false, t.d.ts(k.CreatedAt), k.Owner, true, attemptID)
	return claimed(t.d, "claim idempotency intent", res, err)
}

// AnswerIdempotency claims the key and stores its answer in one upsert, under the same rule
// as ClaimIdempotencyIntent.
func (t *tx) AnswerIdempotency(ctx context.Context, k contracts.IdempotencyKey, a contracts.Answer, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO idempotency_keys
		(client_id, key, fingerprint, completed, answer_kind, answer_code, response_body, created_at, completed_at, owner)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (client_id, key) DO UPDATE SET completed = excluded.completed, answer_kind = excluded.answer_kind,
			answer_code = excluded.answer_code, response_body = excluded.response_body, completed_at = excluded.completed_at
		WHERE `+ownClaimWithoutIntent),
		k.ClientID, k.Key, k.Fingerprint, true, string(a.Kind), string(a.Code), a.Body, t.d.ts(k.CreatedAt), t.d.ts(at), k.Owner)
	return claimed(t.d, "answer idempotency", res, err)
}

// ownClaimWithoutIntent is the upserts' condition on an existing key: the caller's own
// claim of the same request, with neither an intent nor an answer yet.
const ownClaimWithoutIntent = `idempotency_keys.owner = excluded.owner AND idempotency_keys.fingerprint = excluded.fingerprint
		AND idempotency_keys.completed = FALSE AND idempotency_keys.intent_written = FALSE`

// claimed reads a claiming upsert's result: one row written, or the key taken.
func claimed(d dialect, op string, res sql.Result, err error) error {
	if err != nil {
		return d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return d.wrap(op, err)
	}
	if n != 1 {
		return fmt.Errorf("store: %s: %w", op, contracts.ErrIdempotencyKeyTaken)
	}
	return nil
}

// ReleaseOrphanedIdempotency deletes keys claimed before createdBefore whose request never
// wrote an intent nor an answer: the request died (a crash) before any partner heard of
// it, so a retry under the key may run it afresh. It says how many it released.
func (s *DB) ReleaseOrphanedIdempotency(ctx context.Context, createdBefore time.Time) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q("DELETE FROM idempotency_keys"+s.d.indexedBy("idempotency_keys_orphaned")+
		" WHERE completed = FALSE AND intent_written = FALSE AND created_at < ?"), s.d.ts(createdBefore))
	if err != nil {
		return 0, s.d.wrap("release orphaned idempotency", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.d.wrap("release orphaned idempotency", err)
	}
	return n, nil
}

// AbandonIdempotency deletes an uncompleted key claimed by owner so the client may retry
// it. An unknown key is ErrNotFound; a completed key is kept (its response must be
// replayed), so is a key whose request wrote its intent (a partner may have acted on it),
// and so is a key another instance took over: all are ErrConflict.
func (s *DB) AbandonIdempotency(ctx context.Context, clientID, key, owner string) error {
	return s.inTx(ctx, func(t *tx) error {
		res, err := t.tx.ExecContext(ctx, t.d.q(
			"DELETE FROM idempotency_keys WHERE client_id = ? AND key = ? AND completed = ? AND intent_written = ? AND owner = ?"),
			clientID, key, false, false, owner)
		if err != nil {
			return t.d.wrap("abandon idempotency", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return t.d.wrap("abandon idempotency", err)
		}
		if _, err := getIdempotency(ctx, t, clientID, key); err != nil {
			return err
		}
		return fmt.Errorf("store: abandon idempotency: key completed, its intent written or taken over: %w", contracts.ErrConflict)
	})
}

// DeleteExpiredIdempotency deletes keys completed before completedBefore and says how many.
// Keys still in flight are never deleted.
func (s *DB) DeleteExpiredIdempotency(ctx context.Context, completedBefore time.Time) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(
		"DELETE FROM idempotency_keys WHERE completed = ? AND completed_at < ?"),
		true, s.d.ts(completedBefore))
	if err != nil {
		return 0, s.d.wrap("delete expired idempotency", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.d.wrap("delete expired idempotency", err)
	}
	return n, nil
}
