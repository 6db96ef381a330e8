package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"payhub/contracts"
)

// testMigrationRuns: a run is unique per export and day and keeps its checkpoint; a move is
// unique per run and line, settles from pending, never leaves a final status, and lists by
// line and status.
func testMigrationRuns(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	r := contracts.MigrationRun{ID: "mr_01KMIGRATION00000000000000", ExportSHA256: "ab12", Day: "20261206", DailyCap: 20000,
		TotalCap: 100000, NanacoRoom: 50000, Status: contracts.MigrationRunRunning, ApprovalID: "apr_1", StartedAt: now, UpdatedAt: now}
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertMigrationRun(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	dup := r
	dup.ID = "mr_01KMIGRATION00000000000001"
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertMigrationRun(ctx, dup) }); !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("a second run of the same export and day: %v", err)
	}
	if _, err := s.FindMigrationRun(ctx, "ab12", "20261207"); !errors.Is(err, contracts.ErrNotFound) {
		t.Fatalf("another day's run: %v", err)
	}
	if runs, err := s.ListMigrationRuns(ctx, "ab12"); err != nil || len(runs) != 1 || runs[0].ID != r.ID || runs[0].DailyCap != 20000 {
		t.Fatalf("runs of the export: %+v, %v", runs, err)
	}
	if runs, err := s.ListMigrationRuns(ctx, "cd34"); err != nil || len(runs) != 0 {
		t.Fatalf("runs of another export: %+v, %v", runs, err)
	}
	moves := []contracts.MigrationMove{
		{RunID: r.ID, Line: 2, UserID: "u2", Kind: "nanaco", Amount: 20000, Attempt: 1, PartnerRef: "MIG-x.20261206.000002", Status: contracts.MovePending},
		{RunID: r.ID, Line: 3, UserID: "u3", Kind: "bank", Amount: 500, Attempt: 1, Status: contracts.MoveBankRefund},
		{RunID: r.ID, Line: 3, UserID: "u3", Kind: "paypay", Amount: 100000, Attempt: 1, PartnerRef: "mig-3", Status: contracts.MoveFailed, Detail: "link not active"},
		{RunID: r.ID, Line: 5, UserID: "u5", Kind: "paypay", Amount: 700, Attempt: 1, PartnerRef: "mig-5", Status: contracts.MovePending},
	}
	err := s.InTx(ctx, func(tx contracts.Tx) error {
		for _, m := range moves {
			m.CreatedAt, m.UpdatedAt = now, now
			if err := tx.InsertMigrationMove(ctx, m); err != nil {
				return err
			}
		}
		r.Checkpoint, r.UpdatedAt = 4096, now.Add(time.Second)
		return tx.UpdateMigrationRun(ctx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.InsertMigrationMove(ctx, moves[0]) }); !errors.Is(err, contracts.ErrConflict) {
		t.Fatalf("a second move of the same line: %v", err)
	}
	got, err := s.FindMigrationRun(ctx, "ab12", "20261206")
	if err != nil || got.ID != r.ID || got.Checkpoint != 4096 || got.NanacoRoom != 50000 || got.FinishedAt != nil {
		t.Fatalf("read %+v, %v", got, err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		m, err := tx.GetMigrationMoveForUpdate(ctx, r.ID, 2, "nanaco")
		if err != nil {
			return err
		}
		m.Status, m.Credited, m.PartnerTxnID, m.UpdatedAt = contracts.MoveSucceeded, 20000, "T1", now.Add(time.Minute)
		return tx.UpdateMigrationMove(ctx, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(tx contracts.Tx) error {
		m, err := tx.GetMigrationMoveForUpdate(ctx, r.ID, 2, "nanaco")
		if err != nil {
			return err
		}
		m.Status = contracts.MoveFailed
		return tx.UpdateMigrationMove(ctx, m)
	})
	if !errors.Is(err, contracts.ErrInvalidTransition) {
		t.Fatalf("a succeeded move failed: %v", err)
	}
	all, err := s.ListMigrationMoves(ctx, r.ID, 0, 0)
	if err != nil || len(all) != 4 || all[0].Line != 2 || all[0].Credited != 20000 || all[0].PartnerTxnID != "T1" || all[1].Kind != "bank" || all[2].Kind != "paypay" || all[3].Line != 5 {
		t.Fatalf("list %+v, %v", all, err)
	}
	open, err := s.ListMigrationMoves(ctx, r.ID, 0, 10, contracts.MovePending, contracts.MoveUnknown)
	if err != nil || len(open) != 1 || open[0].Line != 5 {
		t.Fatalf("unsettled %+v, %v", open, err)
	}
	if page, err := s.ListMigrationMoves(ctx, r.ID, 3, 1); err != nil || len(page) != 1 || page[0].Line != 5 {
		t.Fatalf("page %+v, %v", page, err)
	}
	prior, err := s.PriorMoves(ctx, []string{"u2", "u3", "u5", "u9"}, "mr_other")
	if err != nil || len(prior) != 3 || len(prior["u9"]) != 0 {
		t.Fatalf("prior moves: %v, %v", prior, err)
	}
	want := map[string]contracts.PriorMoves{
		"u2": {RunID: r.ID, ExportSHA256: "ab12", Day: "20261206", Credited: 20000}, // succeeded
		"u3": {RunID: r.ID, ExportSHA256: "ab12", Day: "20261206", BankRefund: 500}, // the failed move is not counted
		"u5": {RunID: r.ID, ExportSHA256: "ab12", Day: "20261206", Open: 700},       // pending
	}
	for u, w := range want {
		if len(prior[u]) != 1 || prior[u][0] != w {
			t.Fatalf("prior moves of %s: %+v, want %+v", u, prior[u], w)
		}
	}
	if prior, err := s.PriorMoves(ctx, []string{"u2"}, r.ID); err != nil || len(prior) != 0 {
		t.Fatalf("prior moves of the run itself: %v, %v", prior, err)
	}
	fin := now.Add(time.Hour)
	r.Status, r.FinishedAt, r.UpdatedAt = contracts.MigrationRunFinished, &fin, fin
	if err := s.InTx(ctx, func(tx contracts.Tx) error { return tx.UpdateMigrationRun(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMigrationRun(ctx, r.ID); err != nil || got.Status != contracts.MigrationRunFinished || got.FinishedAt == nil || !got.FinishedAt.Equal(fin) {
		t.Fatalf("finished %+v, %v", got, err)
	}
}
