-- Keep in step with ../sqlite/00026_work_leases.sql.

-- +goose Up
-- Work leases (docs/design.md, "Background work under leases"): several payhub instances
-- share the database, and every background worker takes what it works on — an open
-- payment, refund or top-up, a maintenance task's pass — under a lease (owner, expiry)
-- taken in one statement, so that at most one instance works on it at a time. One table
-- for every kind rather than lease columns on each table: maintenance tasks have no row of
-- their own, a lease never writes (or waits for the lock of) the payment row a store
-- request works on, and the leases in force are one read for operators. A lease held by
-- a killed instance expires and the next taker's INSERT … ON CONFLICT DO UPDATE replaces
-- it.
CREATE TABLE work_leases (
    kind       TEXT        COLLATE "C" NOT NULL,
    object_id  TEXT        COLLATE "C" NOT NULL,
    owner      TEXT        NOT NULL,
    -- The holder's instance: its leases are taken over once its heartbeat stops.
    instance_id TEXT       NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, object_id)
);

-- +goose Down
DROP TABLE work_leases;
