package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"payhub/contracts"
)

// The retired wallet's migration runs and moves (migration 00024; payhub migrate run).

const migrationRunColumns = "id, export_sha256, day, daily_cap, total_cap, nanaco_room, status, approval_id, checkpoint, " +
	"started_at, updated_at, finished_at"

const migrationMoveColumns = "run_id, line, user_id, kind, amount, credited, attempt, partner_ref, status, partner_txn_id, " +
	"detail, created_at, updated_at"

// InsertMigrationRun writes a new run.
func (t *tx) InsertMigrationRun(ctx context.Context, r contracts.MigrationRun) error {
	if r.ID == "" || r.ExportSHA256 == "" || r.Day == "" || r.Status == "" {
		return errors.New("store: insert migration run: id, export, day and status are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO migration_runs ("+migrationRunColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		r.ID, r.ExportSHA256, r.Day, r.DailyCap, r.TotalCap, r.NanacoRoom, string(r.Status), r.ApprovalID, r.Checkpoint,
		t.d.ts(r.StartedAt), t.d.ts(r.UpdatedAt), t.d.nullTS(r.FinishedAt))
	return t.d.wrap("insert migration run "+r.ID, err)
}

// UpdateMigrationRun writes r's status, checkpoint, approval and dates.
func (t *tx) UpdateMigrationRun(ctx context.Context, r contracts.MigrationRun) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE migration_runs SET status = ?, approval_id = ?, checkpoint = ?,
		updated_at = ?, finished_at = ? WHERE id = ?`),
		string(r.Status), r.ApprovalID, r.Checkpoint, t.d.ts(r.UpdatedAt), t.d.nullTS(r.FinishedAt), r.ID)
	if err != nil {
		return t.d.wrap("update migration run "+r.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: update migration run %s: %w", r.ID, contracts.ErrNotFound)
	}
	return nil
}

// InsertMigrationMove writes a new move.
func (t *tx) InsertMigrationMove(ctx context.Context, m contracts.MigrationMove) error {
	if m.RunID == "" || m.Line < 1 || m.Status == "" || m.Kind == "" {
		return errors.New("store: insert migration move: run, line, kind and status are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO migration_moves ("+migrationMoveColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		m.RunID, m.Line, m.UserID, m.Kind, m.Amount, m.Credited, m.Attempt, m.PartnerRef, string(m.Status), m.PartnerTxnID,
		m.Detail, t.d.ts(m.CreatedAt), t.d.ts(m.UpdatedAt))
	return t.d.wrap(fmt.Sprintf("insert migration move %s/%d", m.RunID, m.Line), err)
}

// GetMigrationMoveForUpdate reads a move, locked.
func (t *tx) GetMigrationMoveForUpdate(ctx context.Context, runID string, line int64, kind string) (contracts.MigrationMove, error) {
	var m contracts.MigrationMove
	var status string
	err := t.tx.QueryRowContext(ctx, t.d.q("SELECT "+migrationMoveColumns+" FROM migration_moves WHERE run_id = ? AND line = ? AND kind = ?")+
		t.d.forUpdate(), runID, line, kind).Scan(moveDest(&m, &status)...)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("store: migration move %s/%d: %w", runID, line, contracts.ErrNotFound)
	}
	if err != nil {
		return m, t.d.wrap("read migration move", err)
	}
	m.Status = contracts.MigrationMoveStatus(status)
	return m, nil
}

// UpdateMigrationMove writes m's changing fields; a final move keeps its status.
func (t *tx) UpdateMigrationMove(ctx context.Context, m contracts.MigrationMove) error {
	var stored string
	err := t.tx.QueryRowContext(ctx, t.d.q("SELECT status FROM migration_moves WHERE run_id = ? AND line = ? AND kind = ?")+t.d.forUpdate(),
		m.RunID, m.Line, m.Kind).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: update migration move %s/%d: %w", m.RunID, m.Line, contracts.ErrNotFound)
	}
	if err != nil {
		return t.d.wrap("update migration move", err)
	}
	if from := contracts.MigrationMoveStatus(stored); from.Final() && from != m.Status {
		return fmt.Errorf("store: migration move %s/%d is %s: %w", m.RunID, m.Line, from, contracts.ErrInvalidTransition)
	}
	_, err = t.tx.ExecContext(ctx, t.d.q(`UPDATE migration_moves SET credited = ?, attempt = ?, partner_ref = ?, status = ?,
		partner_txn_id = ?, detail = ?, updated_at = ? WHERE run_id = ? AND line = ? AND kind = ?`),
		m.Credited, m.Attempt, m.PartnerRef, string(m.Status), m.PartnerTxnID, m.Detail, t.d.ts(m.UpdatedAt), m.RunID, m.Line, m.Kind)
	return t.d.wrap("update migration move", err)
}

// GetMigrationRun reads a run.
func (s *DB) GetMigrationRun(ctx context.Context, id string) (contracts.MigrationRun, error) {
	return getMigrationRun(ctx, s.r(), s.d, "id = ?", id)
}

// FindMigrationRun reads the run of an export on a day.
func (s *DB) FindMigrationRun(ctx context.Context, exportSHA256, day string) (contracts.MigrationRun, error) {
	return getMigrationRun(ctx, s.r(), s.d, "export_sha256 = ? AND day = ?", exportSHA256, day)
}

// ListMigrationRuns reads every run of an export, by day.
func (s *DB) ListMigrationRuns(ctx context.Context, exportSHA256 string) ([]contracts.MigrationRun, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q("SELECT "+migrationRunColumns+" FROM migration_runs WHERE export_sha256 = ? ORDER BY day"), exportSHA256)
	if err != nil {
		return nil, s.d.wrap("list migration runs", err)
	}
	defer rows.Close()
	var out []contracts.MigrationRun
	for rows.Next() {
		r, err := scanMigrationRun(rows)
		if err != nil {
			return nil, s.d.wrap("list migration runs", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap("list migration runs", err)
	}
	return out, nil
}

func getMigrationRun(ctx context.Context, q querier, d dialect, where string, args ...any) (contracts.MigrationRun, error) {
	r, err := scanMigrationRun(q.QueryRowContext(ctx, d.q("SELECT "+migrationRunColumns+" FROM migration_runs WHERE "+where), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: migration run: %w", contracts.ErrNotFound)
	}
	if err != nil {
		return r, d.wrap("read migration run", err)
	}
	return r, nil
}

func scanMigrationRun(row interface{ Scan(...any) error }) (contracts.MigrationRun, error) {
	var r contracts.MigrationRun
	var status string
	err := row.Scan(&r.ID, &r.ExportSHA256, &r.Day, &r.DailyCap, &r.TotalCap, &r.NanacoRoom, &status, &r.ApprovalID, &r.Checkpoint,
		timeCol{&r.StartedAt}, timeCol{&r.UpdatedAt}, nullTimeCol{&r.FinishedAt})
	r.Status = contracts.MigrationRunStatus(status)
	return r, err
}

// ListMigrationMoves reads a run's moves after afterLine, by line.
func (s *DB) ListMigrationMoves(ctx context.Context, runID string, afterLine int64, limit int, statuses ...contracts.MigrationMoveStatus) ([]contracts.MigrationMove, error) {
	where, args := "run_id = ? AND line > ?", []any{runID, afterLine}
	if len(statuses) > 0 {
		where += " AND status IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ") + ")"
		for _, st := range statuses {
			args = append(args, string(st))
		}
	}
	lim, args := limitClause(limit, args)
	rows, err := s.r().QueryContext(ctx, s.d.q("SELECT "+migrationMoveColumns+" FROM migration_moves WHERE "+where+" ORDER BY line, kind"+lim), args...)
	if err != nil {
		return nil, s.d.wrap("list migration moves", err)
	}
	defer rows.Close()
	var out []contracts.MigrationMove
	for rows.Next() {
		var m contracts.MigrationMove
		var status string
		if err := rows.Scan(moveDest(&m, &status)...); err != nil {
			return nil, s.d.wrap("list migration moves", err)
		}
		m.Status = contracts.MigrationMoveStatus(status)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap("list migration moves", err)
	}
	// A full page ends at a line boundary, so that paging by line loses no move.
	if limit > 0 && len(out) == limit {
		last := out[len(out)-1].Line
		n := len(out)
		for n > 0 && out[n-1].Line == last {
			n--
		}
		if n > 0 {
			out = out[:n]
		}
	}
	return out, nil
}

func moveDest(m *contracts.MigrationMove, status *string) []any {
	return []any{&m.RunID, &m.Line, &m.UserID, &m.Kind, &m.Amount, &m.Credited, &m.Attempt, &m.PartnerRef, status,
		&m.PartnerTxnID, &m.Detail, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}}
}

// PriorMoves sums each user's moves that are not failed, per other run.
func (s *DB) PriorMoves(ctx context.Context, userIDs []string, exceptRunID string) (map[string][]contracts.PriorMoves, error) {
	out := map[string][]contracts.PriorMoves{}
	for len(userIDs) > 0 {
		chunk := userIDs[:min(len(userIDs), 500)]
		userIDs = userIDs[len(chunk):]
		args := []any{string(contracts.MoveSucceeded), string(contracts.MoveBankRefund), string(contracts.MovePending),
			string(contracts.MoveUnknown), exceptRunID, string(contracts.MoveFailed)}
		for _, u := range chunk {
			args = append(args, u)
		}
		rows, err := s.r().QueryContext(ctx, s.d.q(`SELECT m.user_id, m.run_id, r.export_sha256, r.day,
    COALESCE(SUM(CASE WHEN m.status = ? THEN m.credited ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN m.status = ? THEN m.amount ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN m.status IN (?, ?) THEN m.amount ELSE 0 END), 0)
FROM migration_moves m JOIN migration_runs r ON r.id = m.run_id
WHERE m.run_id <> ? AND m.status <> ? AND m.user_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)
GROUP BY m.user_id, m.run_id, r.export_sha256, r.day
ORDER BY m.user_id, r.day, m.run_id`), args...)
		if err != nil {
			return nil, s.d.wrap("read earlier runs' moves", err)
		}
		for rows.Next() {
			var u string
			var p contracts.PriorMoves
			if err := rows.Scan(&u, &p.RunID, &p.ExportSHA256, &p.Day, &p.Credited, &p.BankRefund, &p.Open); err != nil {
				rows.Close()
				return nil, s.d.wrap("read earlier runs' moves", err)
			}
			out[u] = append(out[u], p)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.d.wrap("read earlier runs' moves", err)
		}
	}
	return out, nil
}
