-- Keep in step with ../sqlite/00024_migration_runs.sql.

-- +goose Up
-- The retired wallet's migration runs (docs/migration.md, payhub migrate run): one run per
-- export file (its SHA-256) and day; checkpoint is the byte offset of the export up to
-- which every row's move is written.
CREATE TABLE migration_runs (
    id            TEXT PRIMARY KEY,
    export_sha256 TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    daily_cap     BIGINT  NOT NULL,
    total_cap     BIGINT  NOT NULL,
    nanaco_room   BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    approval_id   TEXT    NOT NULL DEFAULT '',
    checkpoint    BIGINT  NOT NULL DEFAULT 0,
    started_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    UNIQUE (export_sha256, day)
);

-- One row per user move (a row may have two: its wallet move and the bank refund of what
-- the total cap leaves over): written (pending) before the partner call, with the partner ref
-- derived from the run, the row and the attempt, so a retry can never move twice.
CREATE TABLE migration_moves (
    run_id         TEXT    NOT NULL REFERENCES migration_runs (id),
    line           BIGINT  NOT NULL,
    user_id        TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    amount         BIGINT  NOT NULL,
    credited       BIGINT  NOT NULL DEFAULT 0,
    attempt        BIGINT  NOT NULL DEFAULT 1,
    partner_ref    TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    partner_txn_id TEXT    NOT NULL DEFAULT '',
    detail         TEXT    NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, line, kind)
);
-- The moves a resumed run settles by inquiry.
-- A user moved by one run is never moved again by another (a re-exported file).
CREATE INDEX migration_moves_user ON migration_moves (user_id);
CREATE INDEX migration_moves_unsettled ON migration_moves (run_id, line, kind) WHERE status IN ('pending', 'unknown');

-- +goose Down
DROP TABLE migration_moves;
DROP TABLE migration_runs;
