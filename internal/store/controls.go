package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"payhub/contracts"
)

// Kill switches (docs/security.md §4): the store keeps them and the controls version that
// every change bumps in its own transaction.

// ControlsChannel is the PostgreSQL NOTIFY channel every kill switch change signals, in
// the change's transaction (delivered at commit).
const ControlsChannel = "payhub_controls"

const killSwitchColumns = "id, partner, method, operation, store_id, terminal_id, client_id, public_reason, " +
	"internal_note, set_by, set_at, expires_at, lifted_by, lifted_at, lift_reason"

// bumpControls advances the controls version and, on PostgreSQL, notifies the listeners.
func (t *tx) bumpControls(ctx context.Context) error {
	if _, err := t.tx.ExecContext(ctx, "UPDATE controls_version SET version = version + 1 WHERE id = 1"); err != nil {
		return t.d.wrap("bump controls version", err)
	}
	if t.d.postgres {
		if _, err := t.tx.ExecContext(ctx, "SELECT pg_notify('"+ControlsChannel+"', '')"); err != nil {
			return t.d.wrap("notify controls change", err)
		}
	}
	return nil
}

// InsertKillSwitch records a new switch in force and bumps the controls version.
func (t *tx) InsertKillSwitch(ctx context.Context, k contracts.KillSwitch) error {
	if k.ID == "" || k.PublicReason == "" || k.SetBy == "" {
		return errors.New("store: insert kill switch: id, public reason and set_by are required")
	}
	s := k.Scope
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO kill_switches ("+killSwitchColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, '')"),
		k.ID, s.Partner, string(s.Method), string(s.Operation), s.StoreID, s.TerminalID, s.ClientID,
		k.PublicReason, k.InternalNote, k.SetBy, t.d.ts(k.SetAt), t.d.nullTS(k.ExpiresAt))
	if err != nil {
		return t.d.wrap("insert kill switch "+k.ID, err)
	}
	return t.bumpControls(ctx)
}

// LiftKillSwitch lifts the switch id at at and bumps the controls version.
func (t *tx) LiftKillSwitch(ctx context.Context, id, by, reason string, at time.Time) (contracts.KillSwitch, error) {
	k, err := getKillSwitch(ctx, t.tx, t.d, id, true)
	if err != nil {
		return contracts.KillSwitch{}, err
	}
	if k.LiftedAt != nil {
		return k, fmt.Errorf("store: lift kill switch %s: lifted before: %w", id, contracts.ErrInvalidTransition)
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("UPDATE kill_switches SET lifted_by = ?, lifted_at = ?, lift_reason = ? WHERE id = ?"),
		by, t.d.ts(at), reason, id); err != nil {
		return contracts.KillSwitch{}, t.d.wrap("lift kill switch "+id, err)
	}
	lifted := normTime(at)
	k.LiftedBy, k.LiftedAt, k.LiftReason = by, &lifted, reason
	return k, t.bumpControls(ctx)
}

// GetControlsVersion reads the controls version.
func (s *DB) GetControlsVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.r().QueryRowContext(ctx, "SELECT version FROM controls_version WHERE id = 1").Scan(&v)
	return v, s.d.wrap("read controls version", err)
}

// ListKillSwitches reads the switches not lifted (all with includeLifted), by id.
func (s *DB) ListKillSwitches(ctx context.Context, includeLifted bool) ([]contracts.KillSwitch, error) {
	query := "SELECT " + killSwitchColumns + " FROM kill_switches"
	if !includeLifted {
		query += " WHERE lifted_at IS NULL"
	}
	rows, err := s.r().QueryContext(ctx, query+" ORDER BY id")
	if err != nil {
		return nil, s.d.wrap("list kill switches", err)
	}
	defer rows.Close()
	var out []contracts.KillSwitch
	for rows.Next() {
		k, err := scanKillSwitch(rows)
		if err != nil {
			return nil, s.d.wrap("list kill switches", err)
		}
		out = append(out, k)
	}
	return out, s.d.wrap("list kill switches", rows.Err())
}

// GetKillSwitch reads one switch.
func (s *DB) GetKillSwitch(ctx context.Context, id string) (contracts.KillSwitch, error) {
	return getKillSwitch(ctx, s.r(), s.d, id, false)
}

func getKillSwitch(ctx context.Context, q querier, d dialect, id string, lock bool) (contracts.KillSwitch, error) {
	query := d.q("SELECT " + killSwitchColumns + " FROM kill_switches WHERE id = ?")
	if lock {
		query += d.forUpdate()
	}
	k, err := scanKillSwitch(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.KillSwitch{}, fmt.Errorf("store: kill switch %s: %w", id, contracts.ErrNotFound)
	}
	return k, d.wrap("read kill switch "+id, err)
}

type scanner interface{ Scan(dest ...any) error }

func scanKillSwitch(r scanner) (contracts.KillSwitch, error) {
	var (
		k          contracts.KillSwitch
		method, op string
	)
	err := r.Scan(&k.ID, &k.Scope.Partner, &method, &op, &k.Scope.StoreID, &k.Scope.TerminalID, &k.Scope.ClientID,
		&k.PublicReason, &k.InternalNote, &k.SetBy, timeCol{&k.SetAt}, nullTimeCol{&k.ExpiresAt},
		&k.LiftedBy, nullTimeCol{&k.LiftedAt}, &k.LiftReason)
	k.Scope.Method, k.Scope.Operation = contracts.Method(method), contracts.ControlOperation(op)
	return k, err
}
