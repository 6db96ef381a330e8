package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"payhub/contracts"
)

// TakeLease takes l in one statement: inserted when no lease on (kind, object) exists,
// replaced when the one there expired at now, is l.Owner's, or is held for an instance that
// is gone (stopped, unregistered, or silent since aliveAfter: a killed process's work is
// taken over within seconds, not at the lease's end), left alone otherwise (then no row
// comes back). On PostgreSQL the conflicting row is locked while the statement runs, so
// two instances taking one expired lease at once cannot both win; a transaction holding the
// lease (HoldLease) makes the taker wait until it ends.
func (s *DB) TakeLease(ctx context.Context, l contracts.WorkLease, now, aliveAfter time.Time) (bool, error) {
	var owner string
	err := s.r().QueryRowContext(ctx, s.d.q(`INSERT INTO work_leases (kind, object_id, owner, instance_id, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, object_id) DO UPDATE SET owner = excluded.owner, instance_id = excluded.instance_id, expires_at = excluded.expires_at
		WHERE work_leases.expires_at <= ? OR work_leases.owner = excluded.owner
			OR (work_leases.instance_id <> '' AND NOT EXISTS (SELECT 1 FROM instances i
				WHERE i.id = work_leases.instance_id AND i.stopped_at IS NULL AND i.heartbeat_at > ?))
		RETURNING owner`), string(l.Kind), l.Object, l.Owner, l.Instance, s.d.ts(l.ExpiresAt), s.d.ts(now), s.d.ts(aliveAfter)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // in force and another owner's
	}
	if err != nil {
		return false, s.d.wrap("take lease "+string(l.Kind)+" "+l.Object, err)
	}
	return owner == l.Owner, nil
}

// RenewLease moves the expiry of owner's lease on (kind, object) to until, only while the
// lease is still owner's and in force at now. Unlike taking it again (TakeLease), it never
// brings back a lease that lapsed: another instance may have taken, worked under and
// released it meanwhile, and the worker's view of the object is stale.
func (s *DB) RenewLease(ctx context.Context, kind contracts.LeaseKind, object, owner string, now, until time.Time) (bool, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`UPDATE work_leases SET expires_at = ?
		WHERE kind = ? AND object_id = ? AND owner = ? AND expires_at > ?`),
		s.d.ts(until), string(kind), object, owner, s.d.ts(now))
	if err != nil {
		return false, s.d.wrap("renew lease "+string(kind)+" "+object, err)
	}
	n, err := res.RowsAffected()
	return n == 1, s.d.wrap("renew lease "+string(kind)+" "+object, err)
}

// ReleaseLease deletes owner's lease on (kind, object).
func (s *DB) ReleaseLease(ctx context.Context, kind contracts.LeaseKind, object, owner string) error {
	_, err := s.r().ExecContext(ctx, s.d.q(`DELETE FROM work_leases WHERE kind = ? AND object_id = ? AND owner = ?`),
		string(kind), object, owner)
	return s.d.wrap("release lease "+string(kind)+" "+object, err)
}

// DeleteLeasesExpiredBefore deletes the leases that expired before before.
func (s *DB) DeleteLeasesExpiredBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q(`DELETE FROM work_leases WHERE expires_at < ?`), s.d.ts(before))
	if err != nil {
		return 0, s.d.wrap("delete expired leases", err)
	}
	n, err := res.RowsAffected()
	return n, s.d.wrap("delete expired leases", err)
}

// ListLeases reads the leases in force at now.
func (s *DB) ListLeases(ctx context.Context, now time.Time) ([]contracts.WorkLease, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(`SELECT kind, object_id, owner, expires_at FROM work_leases
		WHERE expires_at > ? ORDER BY kind, object_id`), s.d.ts(now))
	if err != nil {
		return nil, s.d.wrap("list leases", err)
	}
	defer rows.Close()
	var out []contracts.WorkLease
	for rows.Next() {
		var l contracts.WorkLease
		var kind string
		if err := rows.Scan(&kind, &l.Object, &l.Owner, timeCol{&l.ExpiresAt}); err != nil {
			return nil, s.d.wrap("list leases", err)
		}
		l.Kind = contracts.LeaseKind(kind)
		out = append(out, l)
	}
	return out, s.d.wrap("list leases", rows.Err())
}

// HoldLease locks owner's lease on (kind, object) for the rest of the transaction and
// checks that it is in force at now. On SQLite the transaction's write lock already keeps
// every other writer out.
func (t *tx) HoldLease(ctx context.Context, kind contracts.LeaseKind, object, owner string, now time.Time) error {
	var holder string
	var expires time.Time
	err := t.tx.QueryRowContext(ctx, t.d.q(`SELECT owner, expires_at FROM work_leases WHERE kind = ? AND object_id = ?`+t.d.forUpdate()),
		string(kind), object).Scan(&holder, timeCol{&expires})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: hold lease %s %s: none: %w", kind, object, contracts.ErrLeaseLost)
	}
	if err != nil {
		return t.d.wrap("hold lease "+string(kind)+" "+object, err)
	}
	if holder != owner || !expires.After(normTime(now)) {
		return fmt.Errorf("store: hold lease %s %s: held by %s until %s: %w", kind, object, holder,
			expires.Format(time.RFC3339Nano), contracts.ErrLeaseLost)
	}
	return nil
}

// ListInstances reads every registered instance, the latest started first.
func (s *DB) ListInstances(ctx context.Context) ([]contracts.Instance, error) {
	rows, err := s.r().QueryContext(ctx, `SELECT id, version, started_at, heartbeat_at, stopped_at
		FROM instances ORDER BY started_at DESC, id DESC`)
	if err != nil {
		return nil, s.d.wrap("list instances", err)
	}
	defer rows.Close()
	var out []contracts.Instance
	for rows.Next() {
		var i contracts.Instance
		if err := rows.Scan(&i.ID, &i.Version, timeCol{&i.StartedAt}, timeCol{&i.HeartbeatAt}, nullTimeCol{&i.StoppedAt}); err != nil {
			return nil, s.d.wrap("list instances", err)
		}
		out = append(out, i)
	}
	return out, s.d.wrap("list instances", rows.Err())
}

// SchemaVersion reports goose's latest applied version and the latest migration embedded
// in this build.
func (s *DB) SchemaVersion(ctx context.Context) (applied, known int64, err error) {
	known, err = knownSchemaVersion(s.d)
	if err != nil {
		return 0, 0, err
	}
	if err := s.r().QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&applied); err != nil {
		return 0, known, s.d.wrap("read schema version", err)
	}
	return applied, known, nil
}
