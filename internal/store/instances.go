package store

import (
	"context"
	"time"

	"payhub/contracts"
)

// RegisterInstance records a starting payhub process; an id registered before is
// ErrConflict.
func (s *DB) RegisterInstance(ctx context.Context, i contracts.Instance) error {
	_, err := s.r().ExecContext(ctx, s.d.q(`INSERT INTO instances
		(id, version, started_at, heartbeat_at, stopped_at) VALUES (?, ?, ?, ?, ?)`),
		i.ID, i.Version, s.d.ts(i.StartedAt), s.d.ts(i.HeartbeatAt), s.d.nullTS(i.StoppedAt))
	return s.d.wrap("register instance "+i.ID, err)
}

// HeartbeatInstance records that the instance is alive at at. It never moves a heartbeat
// back, and an unknown instance is ErrNotFound.
func (s *DB) HeartbeatInstance(ctx context.Context, id string, at time.Time) error {
	return s.touchInstance(ctx, "heartbeat instance", `UPDATE instances SET heartbeat_at = ?
		WHERE id = ? AND heartbeat_at <= ?`, id, s.d.ts(at), id, s.d.ts(at))
}

// StopInstance records that the instance stopped at at; an unknown instance is
// ErrNotFound.
func (s *DB) StopInstance(ctx context.Context, id string, at time.Time) error {
	return s.touchInstance(ctx, "stop instance", `UPDATE instances SET stopped_at = ?
		WHERE id = ? AND stopped_at IS NULL`, id, s.d.ts(at), id)
}

// touchInstance runs one update of instance id; no row changed is fine when the instance
// exists (a heartbeat from a slower clock, a second stop) and ErrNotFound otherwise.
func (s *DB) touchInstance(ctx context.Context, what, query, id string, args ...any) error {
	res, err := s.r().ExecContext(ctx, s.d.q(query), args...)
	if err != nil {
		return s.d.wrap(what, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return s.d.wrap(what, err)
	}
	_, err = s.GetInstance(ctx, id)
	return err
}

// DeleteInstancesSilentSince deletes the instances whose latest heartbeat is before
// heartbeatBefore and says how many.
func (s *DB) DeleteInstancesSilentSince(ctx context.Context, heartbeatBefore time.Time) (int64, error) {
	res, err := s.r().ExecContext(ctx, s.d.q("DELETE FROM instances WHERE heartbeat_at < ?"), s.d.ts(heartbeatBefore))
	if err != nil {
		return 0, s.d.wrap("delete silent instances", err)
	}
	n, err := res.RowsAffected()
	return n, s.d.wrap("delete silent instances", err)
}

// GetInstance reads one instance; ErrNotFound when it was never registered.
func (s *DB) GetInstance(ctx context.Context, id string) (contracts.Instance, error) {
	var i contracts.Instance
	err := s.r().QueryRowContext(ctx, s.d.q(`SELECT id, version, started_at, heartbeat_at, stopped_at
		FROM instances WHERE id = ?`), id).
		Scan(&i.ID, &i.Version, timeCol{&i.StartedAt}, timeCol{&i.HeartbeatAt}, nullTimeCol{&i.StoppedAt})
	if err != nil {
		return contracts.Instance{}, s.d.wrap("get instance "+id, err)
	}
	return i, nil
}
