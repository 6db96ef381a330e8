-- Keep in step with ../postgres/00018_kill_switches.sql. Timestamps are TEXT in UTC (see
-- 00001_init.sql).

-- +goose Up
-- Kill switches (docs/security.md §4): set and lifted, never edited or deleted. An empty
-- scope column means any. controls_version is bumped in the transaction of every change,
-- so that each instance learns of a change by reading one row.
CREATE TABLE kill_switches (
    id            TEXT PRIMARY KEY,
    partner       TEXT NOT NULL DEFAULT '',
    method        TEXT NOT NULL DEFAULT '',
    operation     TEXT NOT NULL DEFAULT '',
    store_id      TEXT NOT NULL DEFAULT '',
    terminal_id   TEXT NOT NULL DEFAULT '',
    client_id     TEXT NOT NULL DEFAULT '',
    public_reason TEXT NOT NULL,
    internal_note TEXT NOT NULL DEFAULT '',
    set_by        TEXT NOT NULL,
    set_at        TEXT NOT NULL,
    expires_at    TEXT,
    lifted_by     TEXT NOT NULL DEFAULT '',
    lifted_at     TEXT,
    lift_reason   TEXT NOT NULL DEFAULT ''
) STRICT;
-- The switches in force, read by every instance on every change.
CREATE INDEX kill_switches_active ON kill_switches (id) WHERE lifted_at IS NULL;

CREATE TABLE controls_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO controls_version (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE controls_version;
DROP TABLE kill_switches;
