// Package migrate runs the retired wallet's migration (issue 18; docs/migration.md §8,
// `payhub migrate run`): it streams the export with internal/migration's Reader, applies
// the caps, and for each row that moves money writes the move (pending) and its ledger
// posting before the partner call — nanaco value transfer into centre-held, PayPay
// cashback to the linked account — then records the outcome and posts the ledger in one
// transaction. Bank refunds are written to a CSV file for the bank transfer system.
//
// A run is one export file (by SHA-256) on one day. Each move's partner reference is
// derived from the run, the row and the attempt, and a run stopped at any moment (killed,
// cancelled, or stopped by a kill switch over operation migration) is continued by
// running it again: rows before the checkpoint are not written again, moves left pending
// or unknown are settled by inquiry — nanaco's transaction inquiry, PayPay's cashback
// details — and never re-sent blind. A finished run moves nothing more.
package migrate
