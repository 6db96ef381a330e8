package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/webhooks/policy"
)

// eventTypesColumn is how an endpoint's subscription is stored: ",a,b," so that one
// substring test matches a type; "" subscribes to all.
func eventTypesColumn(types []contracts.EventType) string {
	if len(types) == 0 {
		return ""
	}
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return "," + strings.Join(parts, ",") + ","
}

func parseEventTypes(col string) []contracts.EventType {
	var out []contracts.EventType
	for _, p := range strings.Split(strings.Trim(col, ","), ",") {
		if p != "" {
			out = append(out, contracts.EventType(p))
		}
	}
	return out
}

// contains is the dialect's substring test of needle in haystack (SQL expressions):
// strpos on PostgreSQL, instr on SQLite.
func (d dialect) contains(haystack, needle string) string {
	if d.postgres {
		return "strpos(" + haystack + ", " + needle + ") > 0"
	}
	return "instr(" + haystack + ", " + needle + ") > 0"
}

// skipLocked lets concurrent deliverers on PostgreSQL lease around each other's rows;
// SQLite has one writer at a time and needs none.
func (d dialect) skipLocked() string {
	if d.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// nullString stores "" as NULL (an event about no payment).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const endpointSelect = `SELECT id, store_id, client_id, url, description, event_types, status, disabled_reason,
	last_success_at, created_at, updated_at FROM webhook_endpoints`

func scanEndpoint(row interface{ Scan(...any) error }, e *contracts.WebhookEndpoint) error {
	var types string
	err := row.Scan(&e.ID, &e.StoreID, &e.ClientID, &e.URL, &e.Description, &types, &e.Status, &e.DisabledReason,
		nullTimeCol{&e.LastSuccessAt}, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt})
	e.EventTypes = parseEventTypes(types)
	return err
}

// CreateWebhookEndpoint writes a new endpoint with its first secret. With an endpoint
// limit on ctx (policy.WithMaxEndpoints) a store already at it gets
// policy.ErrTooManyEndpoints.
func (t *tx) CreateWebhookEndpoint(ctx context.Context, e contracts.WebhookEndpoint, secret contracts.WebhookSecret) error {
	if err := checkEndpointLimit(ctx, t, e.StoreID); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO webhook_endpoints
		(id, store_id, client_id, url, description, event_types, status, disabled_reason, last_success_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.StoreID, e.ClientID, e.URL, e.Description, eventTypesColumn(e.EventTypes), string(e.Status),
		e.DisabledReason, t.d.nullTS(e.LastSuccessAt), t.d.ts(e.CreatedAt), t.d.ts(e.UpdatedAt)); err != nil {
		return t.d.wrap("create webhook endpoint "+e.ID, err)
	}
	return insertSecret(ctx, t, secret)
}

func insertSecret(ctx context.Context, t *tx, secret contracts.WebhookSecret) error {
	_, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO webhook_secrets (endpoint_id, secret, created_at, expires_at)
		VALUES (?, ?, ?, ?)`), secret.EndpointID, secret.Secret, t.d.ts(secret.CreatedAt), t.d.nullTS(secret.ExpiresAt))
	return t.d.wrap("insert webhook secret", err)
}

// GetWebhookEndpoint reads an endpoint of a store; another store's is ErrNotFound.
func (s *DB) GetWebhookEndpoint(ctx context.Context, storeID, id string) (contracts.WebhookEndpoint, error) {
	return getEndpoint(ctx, s.r(), s.d, storeID, id)
}

func getEndpoint(ctx context.Context, q querier, d dialect, storeID, id string) (contracts.WebhookEndpoint, error) {
	var e contracts.WebhookEndpoint
	err := scanEndpoint(q.QueryRowContext(ctx, d.q(endpointSelect+" WHERE id = ? AND store_id = ?"), id, storeID), &e)
	return e, d.wrap("get webhook endpoint", err)
}

// ListWebhookEndpoints reads a store's endpoints, oldest first.
func (s *DB) ListWebhookEndpoints(ctx context.Context, storeID string) ([]contracts.WebhookEndpoint, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(endpointSelect+" WHERE store_id = ? ORDER BY id"), storeID)
	if err != nil {
		return nil, s.d.wrap("list webhook endpoints", err)
	}
	defer rows.Close()
	var out []contracts.WebhookEndpoint
	for rows.Next() {
		var e contracts.WebhookEndpoint
		if err := scanEndpoint(rows, &e); err != nil {
			return nil, s.d.wrap("list webhook endpoints", err)
		}
		out = append(out, e)
	}
	return out, s.d.wrap("list webhook endpoints", rows.Err())
}

// DeleteWebhookEndpoint removes a store's endpoint; its secrets and deliveries go with it.
func (s *DB) DeleteWebhookEndpoint(ctx context.Context, storeID, id string) error {
	return s.inTx(ctx, func(t *tx) error {
		// SQLite enforces ON DELETE CASCADE only with foreign keys on; delete explicitly.
		for _, q := range []string{"DELETE FROM webhook_deliveries WHERE endpoint_id = ?", "DELETE FROM webhook_secrets WHERE endpoint_id = ?"} {
			if _, err := t.tx.ExecContext(ctx, t.d.q(q+" AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE store_id = ?)"), id, storeID); err != nil {
				return t.d.wrap("delete webhook endpoint", err)
			}
		}
		res, err := t.tx.ExecContext(ctx, t.d.q("DELETE FROM webhook_endpoints WHERE id = ? AND store_id = ?"), id, storeID)
		if err != nil {
			return t.d.wrap("delete webhook endpoint", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("store: delete webhook endpoint %s: %w", id, contracts.ErrNotFound)
		}
		return nil
	})
}

// RotateWebhookSecret makes secret the endpoint's current one; earlier secrets without an
// expiry expire at oldExpiresAt (the grace period in which both sign).
func (t *tx) RotateWebhookSecret(ctx context.Context, storeID string, secret contracts.WebhookSecret, oldExpiresAt time.Time) error {
	var one int
	if err := t.tx.QueryRowContext(ctx, t.d.q("SELECT 1 FROM webhook_endpoints WHERE id = ? AND store_id = ?"+t.d.forUpdate()),
		secret.EndpointID, storeID).Scan(&one); err != nil {
		return t.d.wrap("rotate webhook secret", err)
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("UPDATE webhook_secrets SET expires_at = ? WHERE endpoint_id = ? AND expires_at IS NULL"),
		t.d.ts(oldExpiresAt), secret.EndpointID); err != nil {
		return t.d.wrap("rotate webhook secret", err)
	}
	return insertSecret(ctx, t, secret)
}

// fanOut creates, in the event's transaction, one pending delivery of e per enabled
// endpoint of its store that subscribes to its type: due at once, or, while the endpoint's
// circuit is open, when it half-opens (deferWhileOpen).
func fanOut(ctx context.Context, t *tx, e contracts.Event) error {
	at := t.d.ts(e.CreatedAt)
	return t.execLater(ctx, "fan out event "+e.ID, t.d.q(`INSERT INTO webhook_deliveries
		(event_id, endpoint_id, status, attempts, next_at, lease_owner, lease_until, created_at, updated_at)
		SELECT ?, id, ?, 0, CASE WHEN circuit_open_until > ? THEN circuit_open_until ELSE ? END, '', NULL, ?, ? FROM webhook_endpoints
		WHERE store_id = ? AND status = ? AND (event_types = '' OR `+t.d.contains("event_types", "?")+`)`),
		e.ID, string(contracts.DeliveryPending), at, at, at, at, e.StoreID, string(contracts.EndpointEnabled), ","+string(e.Type)+",")
}

const deliverySelect = `SELECT d.event_id, d.endpoint_id, d.status, d.attempts, d.next_at, d.lease_owner, d.lease_until,
	d.created_at, d.updated_at FROM webhook_deliveries d`

func scanDelivery(row interface{ Scan(...any) error }, d *contracts.Delivery) error {
	return row.Scan(&d.EventID, &d.EndpointID, &d.Status, &d.Attempts, timeCol{&d.NextAt}, &d.LeaseOwner,
		nullTimeCol{&d.LeaseUntil}, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
}

// LeaseDeliveries leases up to limit due deliveries to owner in one statement and reads
// what sending them needs in one more (plus one per endpoint for its secrets). On
// PostgreSQL concurrent deliverers skip each other's locked rows, so each delivery has one
// lessee at a time. With a lease policy on ctx (policy.WithLease) the lease is fair instead
// (leaseFairly).
func (s *DB) LeaseDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]contracts.DeliveryJob, error) {
	if p, ok := policy.LeaseFrom(ctx); ok {
		return s.leaseFairly(ctx, owner, now, leaseUntil, limit, p)
	}
	var jobs []contracts.DeliveryJob
	err := s.inTx(ctx, func(t *tx) error {
		keys, err := leaseKeys(ctx, t, owner, now, leaseUntil, limit)
		if err != nil || len(keys) == 0 {
			return err
		}
		jobs, err = readJobs(ctx, t, keys, now)
		return err
	})
	return jobs, err
}

// leaseKeys takes the due deliveries whose lease is free and returns their keys.
func leaseKeys(ctx context.Context, t *tx, owner string, now, leaseUntil time.Time, limit int) ([][2]string, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE (event_id, endpoint_id) IN (
			SELECT event_id, endpoint_id FROM webhook_deliveries
			WHERE status = ? AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY next_at, event_id, endpoint_id LIMIT ?`+t.d.skipLocked()+`)
		RETURNING event_id, endpoint_id`),
		owner, t.d.ts(leaseUntil), t.d.ts(now), string(contracts.DeliveryPending), t.d.ts(now), t.d.ts(now), limit)
	if err != nil {
		return nil, t.d.wrap("lease deliveries", err)
	}
	defer rows.Close()
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, t.d.wrap("lease deliveries", err)
		}
		keys = append(keys, k)
	}
	return keys, t.d.wrap("lease deliveries", rows.Err())
}

// readJobs reads the leased deliveries with their events' payloads and their endpoints,
// oldest due first.
func readJobs(ctx context.Context, t *tx, keys [][2]string, now time.Time) ([]contracts.DeliveryJob, error) {
	pairs := make([]string, len(keys))
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		pairs[i] = "(?, ?)"
		args = append(args, k[0], k[1])
	}
	rows, err := t.tx.QueryContext(ctx, t.d.q(`SELECT d.event_id, d.endpoint_id, d.status, d.attempts, d.next_at, d.lease_owner,
		d.lease_until, d.created_at, d.updated_at, e.payload,
		w.id, w.store_id, w.client_id, w.url, w.description, w.event_types, w.status, w.disabled_reason, w.last_success_at,
		w.created_at, w.updated_at
		FROM webhook_deliveries d JOIN events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
		WHERE (d.event_id, d.endpoint_id) IN (`+strings.Join(pairs, ", ")+`) ORDER BY d.next_at, d.event_id, d.endpoint_id`), args...)
	if err != nil {
		return nil, t.d.wrap("read leased deliveries", err)
	}
	var jobs []contracts.DeliveryJob
	for rows.Next() {
		var j contracts.DeliveryJob
		var types string
		w := &j.Endpoint
		if err := rows.Scan(&j.Delivery.EventID, &j.Delivery.EndpointID, &j.Delivery.Status, &j.Delivery.Attempts,
			timeCol{&j.Delivery.NextAt}, &j.Delivery.LeaseOwner, nullTimeCol{&j.Delivery.LeaseUntil}, timeCol{&j.Delivery.CreatedAt},
			timeCol{&j.Delivery.UpdatedAt}, &j.Payload, &w.ID, &w.StoreID, &w.ClientID, &w.URL, &w.Description, &types, &w.Status,
			&w.DisabledReason, nullTimeCol{&w.LastSuccessAt}, timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt}); err != nil {
			rows.Close()
			return nil, t.d.wrap("read leased deliveries", err)
		}
		w.EventTypes = parseEventTypes(types)
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, t.d.wrap("read leased deliveries", err)
	}
	secrets := map[string][]string{}
	for i := range jobs {
		id := jobs[i].Endpoint.ID
		if _, ok := secrets[id]; !ok {
			if secrets[id], err = signingSecrets(ctx, t, id, now); err != nil {
				return nil, err
			}
		}
		jobs[i].Secrets = secrets[id]
	}
	return jobs, nil
}

// signingSecrets are the endpoint's secrets that sign at now, newest first.
func signingSecrets(ctx context.Context, t *tx, endpointID string, now time.Time) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.q(`SELECT secret FROM webhook_secrets
		WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC`), endpointID, t.d.ts(now))
	if err != nil {
		return nil, t.d.wrap("read webhook secrets", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, t.d.wrap("read webhook secrets", err)
		}
		out = append(out, s)
	}
	return out, t.d.wrap("read webhook secrets", rows.Err())
}

// FinishDelivery records a send (as sent by owner) and the delivery's new state under
// owner's lease. A success closes the endpoint's circuit; with a circuit policy on ctx
// (policy.WithCircuit) a failure counts towards opening it.
func (s *DB) FinishDelivery(ctx context.Context, owner string, o contracts.DeliveryOutcome) error {
	a := o.Attempt
	circuit, withCircuit := policy.CircuitFrom(ctx)
	withCircuit = withCircuit && o.Status != contracts.DeliverySucceeded
	return s.inTx(ctx, func(t *tx) error {
		var failures int
		var openUntil *time.Time
		if withCircuit {
			// The endpoint's row first, as every failure does: concurrent failures of one
			// endpoint queue here instead of locking their deliveries and the endpoint in
			// different orders.
			err := t.tx.QueryRowContext(ctx, t.d.q("SELECT consecutive_failures, circuit_open_until FROM webhook_endpoints WHERE id = ?"+
				t.d.forUpdate()), a.EndpointID).Scan(&failures, nullTimeCol{&openUntil})
			if err != nil {
				return t.d.wrap("read endpoint circuit", err)
			}
		}
		res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_deliveries
			SET status = ?, attempts = attempts + 1, next_at = ?, lease_owner = '', lease_until = NULL, updated_at = ?
			WHERE event_id = ? AND endpoint_id = ? AND lease_owner = ? AND status = ?`),
			string(o.Status), t.d.ts(o.NextAt), t.d.ts(a.AttemptedAt), a.EventID, a.EndpointID, owner, string(contracts.DeliveryPending))
		if err != nil {
			return t.d.wrap("finish delivery", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("store: finish delivery %s → %s: lease lost: %w", a.EventID, a.EndpointID, contracts.ErrConflict)
		}
		if _, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO webhook_attempts
			(id, event_id, endpoint_id, attempted_at, http_status, latency_us, error, sent_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.EventID, a.EndpointID, t.d.ts(a.AttemptedAt), a.HTTPStatus, a.Latency.Microseconds(), a.Error, owner); err != nil {
			return t.d.wrap("record delivery attempt", err)
		}
		if o.Status == contracts.DeliverySucceeded {
			// Every delivery to the endpoint would write its one row; a second's precision
			// is plenty for "no success in three days" and spares the row lock. A success
			// closes the circuit.
			_, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET
				last_success_at = CASE WHEN last_success_at IS NULL OR last_success_at < ? THEN ? ELSE last_success_at END,
				consecutive_failures = 0, circuit_open_until = NULL
				WHERE id = ? AND (last_success_at IS NULL OR last_success_at < ? OR consecutive_failures > 0)`),
				t.d.ts(a.AttemptedAt.Add(-time.Second)), t.d.ts(a.AttemptedAt), a.EndpointID, t.d.ts(a.AttemptedAt.Add(-time.Second)))
			return t.d.wrap("note delivery success", err)
		}
		if withCircuit {
			if err := countFailure(ctx, t, a, failures, openUntil, circuit); err != nil {
				return err
			}
		}
		if o.DisableEndpoint == "" {
			return nil
		}
		if err := disableEndpoint(ctx, t, a.EndpointID, o.DisableEndpoint, a.AttemptedAt); err != nil {
			return err
		}
		if o.DisabledEvent == nil {
			return nil
		}
		return t.AppendEvent(ctx, *o.DisabledEvent)
	})
}

// EnableWebhookEndpoint re-enables a store's endpoint, its circuit closed: the deliveries
// its open circuit deferred are due again at once.
func (t *tx) EnableWebhookEndpoint(ctx context.Context, storeID, id string, at time.Time) error {
	if _, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_deliveries SET next_at = ?
		WHERE endpoint_id = ? AND status = `+pendingSQL+` AND next_at > ?
		AND next_at <= (SELECT circuit_open_until FROM webhook_endpoints WHERE id = ? AND store_id = ?)`),
		t.d.ts(at), id, t.d.ts(at), id, storeID); err != nil {
		return t.d.wrap("enable webhook endpoint", err)
	}
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET status = ?, disabled_reason = '', updated_at = ?,
		consecutive_failures = 0, circuit_open_until = NULL WHERE id = ? AND store_id = ?`), string(contracts.EndpointEnabled), t.d.ts(at), id, storeID)
	if err != nil {
		return t.d.wrap("enable webhook endpoint", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("store: enable webhook endpoint %s: %w", id, contracts.ErrNotFound)
	}
	return nil
}

// redeliverUpsert makes the selected (event, endpoint) pairs due again: a new delivery, or
// an existing one reset to pending with a fresh schedule. Its SELECT yields event_id,
// endpoint_id. (WHERE TRUE lets SQLite's parser tell the upsert's ON from a join's.)
const redeliverUpsert = `INSERT INTO webhook_deliveries
	(event_id, endpoint_id, status, attempts, next_at, lease_owner, lease_until, created_at, updated_at)
	SELECT x.event_id, x.endpoint_id, ?, 0, ?, '', NULL, ?, ? FROM (%s) x WHERE TRUE
	ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = excluded.status, attempts = 0,
		next_at = excluded.next_at, lease_owner = '', lease_until = NULL, updated_at = excluded.updated_at`

func (t *tx) redeliver(ctx context.Context, what, selection string, args ...any) (int, error) {
	res, err := t.tx.ExecContext(ctx, t.d.q(fmt.Sprintf(redeliverUpsert, selection)), args...)
	if err != nil {
		return 0, t.d.wrap(what, err)
	}
	n, err := res.RowsAffected()
	return int(n), t.d.wrap(what, err)
}

// RedeliverEvent makes one of a store's events due again for one endpoint or all that
// subscribe to it. An event of another store is ErrNotFound.
func (t *tx) RedeliverEvent(ctx context.Context, storeID, eventID, endpointID string, now time.Time) (int, error) {
	var typ string
	if err := t.tx.QueryRowContext(ctx, t.d.q("SELECT type FROM events WHERE id = ? AND store_id = ?"), eventID, storeID).Scan(&typ); err != nil {
		return 0, t.d.wrap("redeliver event", err)
	}
	at := t.d.ts(now)
	sel := `SELECT ? AS event_id, w.id AS endpoint_id FROM webhook_endpoints w
		WHERE w.store_id = ? AND w.status = ? AND (w.event_types = '' OR ` + t.d.contains("w.event_types", "?") + `)`
	args := []any{string(contracts.DeliveryPending), at, at, at, eventID, storeID, string(contracts.EndpointEnabled), "," + typ + ","}
	if endpointID != "" {
		sel = `SELECT ? AS event_id, w.id AS endpoint_id FROM webhook_endpoints w WHERE w.store_id = ? AND w.status = ? AND w.id = ?`
		args = []any{string(contracts.DeliveryPending), at, at, at, eventID, storeID, string(contracts.EndpointEnabled), endpointID}
	}
	return t.redeliver(ctx, "redeliver event", sel, args...)
}

// RedeliverRange makes a store's events of [from, to) due again for one enabled endpoint.
func (t *tx) RedeliverRange(ctx context.Context, storeID, endpointID string, from, to time.Time, types []contracts.EventType, now time.Time) (int, error) {
	ep, err := getEndpoint(ctx, t.tx, t.d, storeID, endpointID)
	if err != nil {
		return 0, err
	}
	if ep.Status != contracts.EndpointEnabled {
		return 0, fmt.Errorf("store: redeliver to disabled endpoint %s: %w", endpointID, contracts.ErrConflict)
	}
	if len(types) == 0 {
		types = ep.EventTypes
	}
	at := t.d.ts(now)
	sel := `SELECT e.id AS event_id, ? AS endpoint_id FROM events e WHERE e.store_id = ? AND e.created_at >= ? AND e.created_at < ?`
	args := []any{string(contracts.DeliveryPending), at, at, at, endpointID, storeID, t.d.ts(from), t.d.ts(to)}
	if len(types) > 0 {
		sel += " AND " + t.d.contains("?", "',' || e.type || ','")
		args = append(args, eventTypesColumn(types))
	}
	return t.redeliver(ctx, "redeliver range", sel, args...)
}

// disableEndpoint stops an endpoint's deliveries: it is disabled and what it still had
// pending fails (a redelivery sends it again once re-enabled).
func disableEndpoint(ctx context.Context, t *tx, id, reason string, at time.Time) error {
	if _, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET status = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`),
		string(contracts.EndpointDisabled), reason, t.d.ts(at), id); err != nil {
		return t.d.wrap("disable webhook endpoint", err)
	}
	_, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_deliveries SET status = ?, lease_owner = '', lease_until = NULL, updated_at = ?
		WHERE endpoint_id = ? AND status = ?`), string(contracts.DeliveryFailed), t.d.ts(at), id, string(contracts.DeliveryPending))
	return t.d.wrap("disable webhook endpoint", err)
}

// ListDeliveryAttempts reads the sends of one of a store's events, oldest first.
func (s *DB) ListDeliveryAttempts(ctx context.Context, storeID, eventID string) ([]contracts.DeliveryAttempt, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(`SELECT a.id, a.event_id, a.endpoint_id, a.attempted_at, a.http_status, a.latency_us, a.error, a.sent_by
		FROM webhook_attempts a JOIN events e ON e.id = a.event_id
		WHERE a.event_id = ? AND e.store_id = ? ORDER BY a.attempted_at, a.id`), eventID, storeID)
	if err != nil {
		return nil, s.d.wrap("list delivery attempts", err)
	}
	defer rows.Close()
	var out []contracts.DeliveryAttempt
	for rows.Next() {
		var a contracts.DeliveryAttempt
		var us int64
		if err := rows.Scan(&a.ID, &a.EventID, &a.EndpointID, timeCol{&a.AttemptedAt}, &a.HTTPStatus, &us, &a.Error, &a.SentBy); err != nil {
			return nil, s.d.wrap("list delivery attempts", err)
		}
		a.Latency = time.Duration(us) * time.Microsecond
		out = append(out, a)
	}
	return out, s.d.wrap("list delivery attempts", rows.Err())
}

// ListDeliveries reads an event's deliveries, by endpoint.
func (s *DB) ListDeliveries(ctx context.Context, eventID string) ([]contracts.Delivery, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(deliverySelect+" WHERE d.event_id = ? ORDER BY d.endpoint_id"), eventID)
	if err != nil {
		return nil, s.d.wrap("list deliveries", err)
	}
	defer rows.Close()
	var out []contracts.Delivery
	for rows.Next() {
		var d contracts.Delivery
		if err := scanDelivery(rows, &d); err != nil {
			return nil, s.d.wrap("list deliveries", err)
		}
		out = append(out, d)
	}
	return out, s.d.wrap("list deliveries", rows.Err())
}

// GetEvent reads one of a store's events.
func (s *DB) GetEvent(ctx context.Context, storeID, id string) (contracts.Event, error) {
	var e contracts.Event
	err := s.r().QueryRowContext(ctx, s.d.q(`SELECT id, type, store_id, COALESCE(payment_id, ''), refund_id, sequence, payload, created_at
		FROM events WHERE id = ? AND store_id = ?`), id, storeID).
		Scan(&e.ID, &e.Type, &e.StoreID, &e.PaymentID, &e.RefundID, &e.Sequence, &e.Payload, timeCol{&e.CreatedAt})
	return e, s.d.wrap("get event", err)
}

// The fair lease (policy.Lease; docs/api.md §8.4): one store, however many endpoints it has
// and however they answer, holds at most PerStore sends in flight and each endpoint at most
// PerEndpoint, over every deliverer sharing the database; the rest of the work goes round-
// robin across the stores that have some.

// leaseFairly is LeaseDeliveries under p. On PostgreSQL the deliverers of one schema lease
// one at a time (a transaction-scoped advisory lock), so the counts of sends in flight each
// one reads are exact; the lock is held for a few short statements, and what sending needs
// is read after the lease commits.
//
// The lease reads the queue as LeaseDeliveries does, oldest due first on the due index, one
// table at a time (the endpoints by primary key), so it costs what the plain lease costs
// whatever the planner knows of the tables; it skips what cannot be leased now (endpoints
// and stores at their bound, open circuits) in the query itself.
func (s *DB) leaseFairly(ctx context.Context, owner string, now, leaseUntil time.Time, limit int, p policy.Lease) ([]contracts.DeliveryJob, error) {
	if limit <= 0 {
		return nil, nil
	}
	var keys [][2]string
	err := s.inTx(ctx, func(t *tx) error {
		if t.d.postgres {
			// A lease need not wait for the disk: should the server crash before the lease
			// is written out, the deliveries are simply free again (and a send made under
			// the lost lease is sent again: at least once). Not waiting shortens the time
			// the lock is held.
			if _, err := t.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('payhub.webhook_leases:' || current_schema())),
				set_config('synchronous_commit', 'off', true)`); err != nil {
				return t.d.wrap("lease deliveries", err)
			}
		}
		byEndpoint, byStore, err := inFlight(ctx, t, now)
		if err != nil {
			return err
		}
		k := newLeasePicker(p, limit, byEndpoint, byStore)
		if err := k.learnCircuits(ctx, t, now); err != nil {
			return err
		}
		if err := k.learnFullStores(ctx, t); err != nil {
			return err
		}
		// Each scan reads the oldest due deliveries the picker can still use; a store whose
		// backlog fills one scan is out of room, or out of the way, by the next.
		batch := max(4*limit, 100)
		for range 4 {
			rows, err := k.scan(ctx, t, now, batch)
			if err != nil {
				return err
			}
			if err := k.learnEndpoints(ctx, t, rows); err != nil {
				return err
			}
			k.pick(rows)
			if len(rows) < batch || k.left == 0 {
				break
			}
		}
		keys, err = leaseKeysOf(ctx, t, owner, now, leaseUntil, k.keys)
		if err != nil {
			return err
		}
		for _, id := range k.trials {
			trial, err := leaseTrial(ctx, t, owner, now, leaseUntil, id)
			if err != nil {
				return err
			}
			keys = append(keys, trial...)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	// The leases keep the deliveries this deliverer's; should this read fail, they expire.
	var jobs []contracts.DeliveryJob
	err = s.inTx(ctx, func(t *tx) error {
		jobs, err = readJobs(ctx, t, keys, now)
		return err
	})
	return jobs, err
}

// pendingSQL is the pending status as a literal: a partial index is usable only where a
// query states its condition itself (a placeholder does not tell SQLite).
const pendingSQL = "'" + string(contracts.DeliveryPending) + "'"

// inFlight counts the deliveries leased and not yet finished (their lease still running),
// by endpoint and by store.
func inFlight(ctx context.Context, t *tx, now time.Time) (byEndpoint, byStore map[string]int, err error) {
	rows, err := t.tx.QueryContext(ctx, t.d.q(`SELECT d.endpoint_id, w.store_id, COUNT(*)
		FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
		WHERE d.status = `+pendingSQL+` AND d.lease_owner <> '' AND d.lease_until >= ?
		GROUP BY d.endpoint_id, w.store_id`), t.d.ts(now))
	if err != nil {
		return nil, nil, t.d.wrap("count deliveries in flight", err)
	}
	defer rows.Close()
	byEndpoint, byStore = map[string]int{}, map[string]int{}
	for rows.Next() {
		var endpoint, store string
		var n int
		if err := rows.Scan(&endpoint, &store, &n); err != nil {
			return nil, nil, t.d.wrap("count deliveries in flight", err)
		}
		byEndpoint[endpoint] += n
		byStore[store] += n
	}
	return byEndpoint, byStore, t.d.wrap("count deliveries in flight", rows.Err())
}

// placeholderList is n placeholders, comma-separated.
func placeholderList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// endpointState is what the picker knows of an endpoint.
type endpointState struct {
	storeID string
	// usable: enabled, its circuit closed or half-open; halfOpen: one trial at a time.
	usable, halfOpen bool
	// room is how many more deliveries this lease may take of it.
	room int
}

// leasePicker decides what one lease takes: round-robin across stores (the store with the
// oldest due delivery first) and, within a store, across its endpoints (oldest first), one
// delivery per store per round, never taking an endpoint past PerEndpoint in flight (one
// trial while its circuit is half-open) nor a store past PerStore, limit in all.
type leasePicker struct {
	p    policy.Lease
	left int
	// inFlight* are the sends in flight; endpoints what is known of the endpoints met;
	// storeRoom how many more deliveries this lease may take of each store met.
	inFlightEndpoint, inFlightStore map[string]int
	endpoints                       map[string]*endpointState
	storeRoom                       map[string]int
	// skip are endpoints no scan needs to read again.
	skip map[string]bool
	// keys are the deliveries picked; trials the half-open endpoints to try once each.
	keys   [][2]string
	trials []string
}

func newLeasePicker(p policy.Lease, limit int, byEndpoint, byStore map[string]int) *leasePicker {
	k := &leasePicker{p: p, left: limit, inFlightEndpoint: byEndpoint, inFlightStore: byStore,
		endpoints: map[string]*endpointState{}, storeRoom: map[string]int{}, skip: map[string]bool{}}
	for id, n := range byEndpoint {
		if n >= p.PerEndpoint {
			k.skip[id] = true
		}
	}
	return k
}

// learnCircuits notes the endpoints whose circuit opened: skipped while open, and once
// half-open skipped too while their trial is in flight.
func (k *leasePicker) learnCircuits(ctx context.Context, t *tx, now time.Time) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, store_id, circuit_open_until FROM webhook_endpoints WHERE circuit_open_until IS NOT NULL`)
	if err != nil {
		return t.d.wrap("read endpoint circuits", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, storeID string
		var until time.Time
		if err := rows.Scan(&id, &storeID, timeCol{&until}); err != nil {
			return t.d.wrap("read endpoint circuits", err)
		}
		if until.After(now) || k.inFlightEndpoint[id] > 0 {
			k.skip[id] = true
		}
	}
	return t.d.wrap("read endpoint circuits", rows.Err())
}

// learnFullStores skips every endpoint of the stores at their bound.
func (k *leasePicker) learnFullStores(ctx context.Context, t *tx) error {
	var full []any
	for id, n := range k.inFlightStore {
		if n >= k.p.PerStore {
			full = append(full, id)
		}
	}
	if len(full) == 0 {
		return nil
	}
	rows, err := t.tx.QueryContext(ctx, t.d.q("SELECT id FROM webhook_endpoints WHERE store_id IN ("+placeholderList(len(full))+")"), full...)
	if err != nil {
		return t.d.wrap("read full stores' endpoints", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return t.d.wrap("read full stores' endpoints", err)
		}
		k.skip[id] = true
	}
	return t.d.wrap("read full stores' endpoints", rows.Err())
}

// scan reads up to n of the oldest due and free deliveries, without those of skipped
// endpoints and those picked already.
func (k *leasePicker) scan(ctx context.Context, t *tx, now time.Time, n int) ([][2]string, error) {
	at := t.d.ts(now)
	q := `SELECT event_id, endpoint_id FROM webhook_deliveries
		WHERE status = ` + pendingSQL + ` AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)`
	args := []any{at, at}
	if len(k.skip) > 0 {
		q += " AND endpoint_id NOT IN (" + placeholderList(len(k.skip)) + ")"
		for id := range k.skip {
			args = append(args, id)
		}
	}
	if len(k.keys) > 0 {
		q += " AND (event_id, endpoint_id) NOT IN (" + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(k.keys)), ", ") + ")"
		for _, key := range k.keys {
			args = append(args, key[0], key[1])
		}
	}
	q += " ORDER BY next_at, event_id, endpoint_id LIMIT ?"
	args = append(args, n)
	rows, err := t.tx.QueryContext(ctx, t.d.q(q), args...)
	if err != nil {
		return nil, t.d.wrap("read due deliveries", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var key [2]string
		if err := rows.Scan(&key[0], &key[1]); err != nil {
			return nil, t.d.wrap("read due deliveries", err)
		}
		out = append(out, key)
	}
	return out, t.d.wrap("read due deliveries", rows.Err())
}

// learnEndpoints reads, by primary key, the endpoints of rows not met before.
func (k *leasePicker) learnEndpoints(ctx context.Context, t *tx, rows [][2]string) error {
	var ids []any
	for _, r := range rows {
		if _, ok := k.endpoints[r[1]]; !ok {
			k.endpoints[r[1]] = &endpointState{}
			ids = append(ids, r[1])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	res, err := t.tx.QueryContext(ctx, t.d.q(`SELECT id, store_id, status, circuit_open_until IS NOT NULL FROM webhook_endpoints
		WHERE id IN (`+placeholderList(len(ids))+`)`), ids...)
	if err != nil {
		return t.d.wrap("read endpoints", err)
	}
	defer res.Close()
	for res.Next() {
		var id, storeID, status string
		var tripped bool
		if err := res.Scan(&id, &storeID, &status, &tripped); err != nil {
			return t.d.wrap("read endpoints", err)
		}
		bound := k.p.PerEndpoint
		if tripped {
			bound = 1
		}
		*k.endpoints[id] = endpointState{storeID: storeID, usable: status == string(contracts.EndpointEnabled), halfOpen: tripped,
			room: bound - k.inFlightEndpoint[id]}
	}
	if err := res.Err(); err != nil {
		return t.d.wrap("read endpoints", err)
	}
	for _, id := range ids {
		// Gone, disabled, or at its bound (or its store at its bound): no scan needs it.
		if e := k.endpoints[id.(string)]; !e.usable || e.room <= 0 || k.storeRoomOf(e.storeID) <= 0 {
			k.skip[id.(string)] = true
		}
	}
	return nil
}

func (k *leasePicker) storeRoomOf(storeID string) int {
	if n, ok := k.storeRoom[storeID]; ok {
		return n
	}
	n := k.p.PerStore - k.inFlightStore[storeID]
	k.storeRoom[storeID] = n
	return n
}

// pick takes from rows (oldest first), round-robin as leasePicker says.
func (k *leasePicker) pick(rows [][2]string) {
	type storeQueue struct {
		id        string
		endpoints []string
		next      int
	}
	var queues []*storeQueue
	byStore := map[string]*storeQueue{}
	byEndpoint := map[string][][2]string{}
	for _, r := range rows {
		e := k.endpoints[r[1]]
		if !e.usable {
			continue
		}
		q := byStore[e.storeID]
		if q == nil {
			q = &storeQueue{id: e.storeID}
			byStore[e.storeID] = q
			queues = append(queues, q)
		}
		if _, ok := byEndpoint[r[1]]; !ok {
			q.endpoints = append(q.endpoints, r[1])
		}
		byEndpoint[r[1]] = append(byEndpoint[r[1]], r)
	}
	for k.left > 0 {
		progress := false
		for _, q := range queues {
			if k.storeRoomOf(q.id) <= 0 {
				continue
			}
			for range q.endpoints {
				id := q.endpoints[q.next]
				q.next = (q.next + 1) % len(q.endpoints)
				e, rs := k.endpoints[id], byEndpoint[id]
				if len(rs) == 0 || e.room <= 0 {
					continue
				}
				if e.halfOpen {
					// The trial is the delivery that failed most (leaseTrial), not the oldest.
					k.trials = append(k.trials, id)
					byEndpoint[id] = nil
				} else {
					k.keys = append(k.keys, rs[0])
					byEndpoint[id] = rs[1:]
				}
				e.room--
				k.storeRoom[q.id]--
				k.left--
				progress = true
				break
			}
			if k.left == 0 {
				break
			}
		}
		if !progress {
			break
		}
	}
	for id, e := range k.endpoints {
		if e.room <= 0 || k.storeRoomOf(e.storeID) <= 0 {
			k.skip[id] = true
		}
	}
}

// leaseKeysOf leases the picked deliveries to owner, those still due and free (on
// PostgreSQL skipping rows another transaction holds).
func leaseKeysOf(ctx context.Context, t *tx, owner string, now, leaseUntil time.Time, keys [][2]string) ([][2]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	at := t.d.ts(now)
	args := []any{owner, t.d.ts(leaseUntil), at}
	for _, key := range keys {
		args = append(args, key[0], key[1])
	}
	args = append(args, at, at)
	return scanKeys(t.tx.QueryContext(ctx, t.d.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE (event_id, endpoint_id) IN (
			SELECT event_id, endpoint_id FROM webhook_deliveries
			WHERE (event_id, endpoint_id) IN (`+strings.TrimSuffix(strings.Repeat("(?, ?), ", len(keys)), ", ")+`)
			AND status = `+pendingSQL+` AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)`+t.d.skipLocked()+`)
		RETURNING event_id, endpoint_id`), args...))
}

// leaseTrial leases a half-open endpoint's trial: of its due and free deliveries, the one
// that failed most, so that a dead endpoint's oldest delivery still runs out its schedule
// and the endpoint is disabled as docs/api.md §8.5 says, however many wait behind it.
func leaseTrial(ctx context.Context, t *tx, owner string, now, leaseUntil time.Time, endpointID string) ([][2]string, error) {
	at := t.d.ts(now)
	return scanKeys(t.tx.QueryContext(ctx, t.d.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE (event_id, endpoint_id) IN (
			SELECT event_id, endpoint_id FROM webhook_deliveries
			WHERE endpoint_id = ? AND status = `+pendingSQL+` AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY attempts DESC, next_at, event_id LIMIT 1`+t.d.skipLocked()+`)
		RETURNING event_id, endpoint_id`),
		owner, t.d.ts(leaseUntil), at, endpointID, at, at))
}

// scanKeys reads the (event_id, endpoint_id) rows a lease returned.
func scanKeys(rows *sql.Rows, err error) ([][2]string, error) {
	if err != nil {
		return nil, fmt.Errorf("store: lease deliveries: %w", err)
	}
	defer rows.Close()
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("store: lease deliveries: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: lease deliveries: %w", err)
	}
	return keys, nil
}

// countFailure counts a failed send a towards the endpoint's circuit (policy.Circuit), whose
// state the caller read, locked: from c.Failures consecutive failures on the circuit opens,
// for longer at each failure; a send that began while it was open (one already in flight
// when it opened) does not prolong it.
func countFailure(ctx context.Context, t *tx, a contracts.DeliveryAttempt, failures int, openUntil *time.Time, c policy.Circuit) error {
	failures++
	opened := false
	if at := a.AttemptedAt; failures >= c.Failures && (openUntil == nil || !at.Before(*openUntil)) {
		until := at.Add(a.Latency).Add(c.OpenFor(failures))
		openUntil, opened = &until, true
	}
	_, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET consecutive_failures = ?, circuit_open_until = ? WHERE id = ?`),
		failures, t.d.nullTS(openUntil), a.EndpointID)
	if err != nil || !opened {
		return t.d.wrap("count endpoint failure", err)
	}
	return deferWhileOpen(ctx, t, a.EndpointID, a.AttemptedAt, *openUntil)
}

// deferWhileOpen moves the free deliveries of an endpoint whose circuit just opened to the
// moment it half-opens: they are not due while it is open, so no lease reads past them. A
// store whose endpoints are dead can pile up a long backlog; were it left due, every lease
// of every store would scan it (docs/api.md §8.4). Deliveries due later keep their time.
func deferWhileOpen(ctx context.Context, t *tx, endpointID string, now, until time.Time) error {
	_, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_deliveries SET next_at = ?
		WHERE endpoint_id = ? AND status = `+pendingSQL+` AND next_at < ? AND (lease_until IS NULL OR lease_until < ?)`),
		t.d.ts(until), endpointID, t.d.ts(until), t.d.ts(now))
	return t.d.wrap("defer deliveries of an open circuit", err)
}

// checkEndpointLimit refuses, with policy.ErrTooManyEndpoints, a store's endpoint beyond the
// limit on ctx. On PostgreSQL the creations of one store's endpoints queue on an advisory
// lock until their transaction ends, so that two at once cannot both pass the count; SQLite
// transactions hold the write lock from their start.
func checkEndpointLimit(ctx context.Context, t *tx, storeID string) error {
	limit, ok := policy.MaxEndpointsFrom(ctx)
	if !ok {
		return nil
	}
	if t.d.postgres {
		if _, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('payhub.webhook_endpoints:' || current_schema() || ':' || CAST($1 AS TEXT)))",
			storeID); err != nil {
			return t.d.wrap("count webhook endpoints", err)
		}
	}
	var n int
	if err := t.tx.QueryRowContext(ctx, t.d.q("SELECT COUNT(*) FROM webhook_endpoints WHERE store_id = ?"), storeID).Scan(&n); err != nil {
		return t.d.wrap("count webhook endpoints", err)
	}
	if n >= limit {
		return fmt.Errorf("store: create webhook endpoint for %s: %w", storeID, policy.ErrTooManyEndpoints)
	}
	return nil
}
