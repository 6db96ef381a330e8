package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
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

// CreateWebhookEndpoint writes a new endpoint with its first secret.
func (t *tx) CreateWebhookEndpoint(ctx context.Context, e contracts.WebhookEndpoint, secret contracts.WebhookSecret) error {
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
	return getEndpoint(ctx, s.db, s.d, storeID, id)
}

func getEndpoint(ctx context.Context, q querier, d dialect, storeID, id string) (contracts.WebhookEndpoint, error) {
	var e contracts.WebhookEndpoint
	err := scanEndpoint(q.QueryRowContext(ctx, d.q(endpointSelect+" WHERE id = ? AND store_id = ?"), id, storeID), &e)
	return e, d.wrap("get webhook endpoint", err)
}

// ListWebhookEndpoints reads a store's endpoints, oldest first.
func (s *DB) ListWebhookEndpoints(ctx context.Context, storeID string) ([]contracts.WebhookEndpoint, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(endpointSelect+" WHERE store_id = ? ORDER BY id"), storeID)
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
// endpoint of its store that subscribes to its type.
func fanOut(ctx context.Context, t *tx, e contracts.Event) error {
	at := t.d.ts(e.CreatedAt)
	_, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO webhook_deliveries
		(event_id, endpoint_id, status, attempts, next_at, lease_owner, lease_until, created_at, updated_at)
		SELECT ?, id, ?, 0, ?, '', NULL, ?, ? FROM webhook_endpoints
		WHERE store_id = ? AND status = ? AND (event_types = '' OR `+t.d.contains("event_types", "?")+`)`),
		e.ID, string(contracts.DeliveryPending), at, at, at, e.StoreID, string(contracts.EndpointEnabled), ","+string(e.Type)+",")
	return t.d.wrap("fan out event "+e.ID, err)
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
// lessee at a time.
func (s *DB) LeaseDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]contracts.DeliveryJob, error) {
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
// owner's lease.
func (s *DB) FinishDelivery(ctx context.Context, owner string, o contracts.DeliveryOutcome) error {
	a := o.Attempt
	return s.inTx(ctx, func(t *tx) error {
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
			// is plenty for "no success in three days" and spares the row lock.
			_, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET last_success_at = ?
				WHERE id = ? AND (last_success_at IS NULL OR last_success_at < ?)`),
				t.d.ts(a.AttemptedAt), a.EndpointID, t.d.ts(a.AttemptedAt.Add(-time.Second)))
			return t.d.wrap("note delivery success", err)
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

// EnableWebhookEndpoint re-enables a store's endpoint.
func (t *tx) EnableWebhookEndpoint(ctx context.Context, storeID, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE webhook_endpoints SET status = ?, disabled_reason = '', updated_at = ?
		WHERE id = ? AND store_id = ?`), string(contracts.EndpointEnabled), t.d.ts(at), id, storeID)
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
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT a.id, a.event_id, a.endpoint_id, a.attempted_at, a.http_status, a.latency_us, a.error, a.sent_by
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
	rows, err := s.db.QueryContext(ctx, s.d.q(deliverySelect+" WHERE d.event_id = ? ORDER BY d.endpoint_id"), eventID)
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
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT id, type, store_id, COALESCE(payment_id, ''), refund_id, sequence, payload, created_at
		FROM events WHERE id = ? AND store_id = ?`), id, storeID).
		Scan(&e.ID, &e.Type, &e.StoreID, &e.PaymentID, &e.RefundID, &e.Sequence, &e.Payload, timeCol{&e.CreatedAt})
	return e, s.d.wrap("get event", err)
}
