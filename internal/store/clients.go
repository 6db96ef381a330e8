package store

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"payhub/contracts"
)

// CreateStoreClient registers a client with its stores, keys and return origins in one
// transaction. An existing client id or kid is ErrConflict. Each key's ClientID is taken
// from c.ID.
func (s *DB) CreateStoreClient(ctx context.Context, c contracts.StoreClient) error {
	return s.inTx(ctx, func(t *tx) error { return t.CreateStoreClient(ctx, c) })
}

// CreateStoreClient is DB.CreateStoreClient in the caller's transaction (contracts.ClientTx),
// so the registration commits with its audit entry.
func (t *tx) CreateStoreClient(ctx context.Context, c contracts.StoreClient) error {
	if _, err := t.tx.ExecContext(ctx, t.d.q(
		"INSERT INTO store_clients (id, name, created_at) VALUES (?, ?, ?)"),
		c.ID, c.Name, t.d.ts(c.CreatedAt)); err != nil {
		return t.d.wrap("create store client "+c.ID, err)
	}
	for i, storeID := range c.Stores {
		if _, err := t.tx.ExecContext(ctx, t.d.q(
			"INSERT INTO client_stores (client_id, store_id, position) VALUES (?, ?, ?)"),
			c.ID, storeID, i); err != nil {
			return t.d.wrap(fmt.Sprintf("grant store %s to client %s", storeID, c.ID), err)
		}
	}
	for _, k := range c.Keys {
		if k.ClientID != "" && k.ClientID != c.ID {
			return fmt.Errorf("store: create store client %s: key %s names client %s",
				c.ID, k.KID, k.ClientID)
		}
		k.ClientID = c.ID
		if err := t.insertClientKey(ctx, k); err != nil {
			return err
		}
	}
	if err := t.insertReturnOrigins(ctx, c.ID, c.ReturnOrigins); err != nil {
		return err
	}
	return t.insertSourceAllowlist(ctx, c.ID, c.SourceAllowlist)
}

// insertSourceAllowlist records a client's source networks, masked (docs/security.md §6).
// An invalid prefix is refused; one listed twice (once masked) is ErrConflict.
func (t *tx) insertSourceAllowlist(ctx context.Context, clientID string, networks []netip.Prefix) error {
	for i, p := range networks {
		if !p.IsValid() {
			return fmt.Errorf("store: source allowlist of client %s: invalid network at %d", clientID, i)
		}
		cidr := p.Masked().String()
		if _, err := t.tx.ExecContext(ctx, t.d.q(
			"INSERT INTO client_source_allowlists (client_id, cidr, position) VALUES (?, ?, ?)"),
			clientID, cidr, i); err != nil {
			return t.d.wrap(fmt.Sprintf("allow source %s for client %s", cidr, clientID), err)
		}
	}
	return nil
}

// SetClientSourceAllowlist replaces a client's source allowlist (none: any source); a
// missing client is ErrNotFound.
func (s *DB) SetClientSourceAllowlist(ctx context.Context, clientID string, networks []netip.Prefix) error {
	return s.inTx(ctx, func(t *tx) error { return t.SetClientSourceAllowlist(ctx, clientID, networks) })
}

// SetClientSourceAllowlist is DB.SetClientSourceAllowlist in the caller's transaction
// (contracts.ClientTx).
func (t *tx) SetClientSourceAllowlist(ctx context.Context, clientID string, networks []netip.Prefix) error {
	if err := t.clientExists(ctx, clientID); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("DELETE FROM client_source_allowlists WHERE client_id = ?"), clientID); err != nil {
		return t.d.wrap("clear source allowlist of client "+clientID, err)
	}
	return t.insertSourceAllowlist(ctx, clientID, networks)
}

func (t *tx) insertClientKey(ctx context.Context, k contracts.ClientKey) error {
	if _, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO client_keys
		(kid, client_id, algorithm, public_key_pem, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?)`),
		k.KID, k.ClientID, k.Algorithm, k.PublicKeyPEM, t.d.ts(k.CreatedAt), t.d.nullTS(k.RevokedAt)); err != nil {
		return t.d.wrap("register key "+k.KID, err)
	}
	return nil
}

func (t *tx) insertReturnOrigins(ctx context.Context, clientID string, origins []string) error {
	for i, o := range origins {
		if _, err := t.tx.ExecContext(ctx, t.d.q(
			"INSERT INTO client_return_origins (client_id, origin, position) VALUES (?, ?, ?)"),
			clientID, o, i); err != nil {
			return t.d.wrap(fmt.Sprintf("register return origin %s of client %s", o, clientID), err)
		}
	}
	return nil
}

// AddClientKey registers another key of an existing client (key rotation). A missing
// client is ErrNotFound, a taken kid ErrConflict.
func (s *DB) AddClientKey(ctx context.Context, k contracts.ClientKey) error {
	return s.inTx(ctx, func(t *tx) error { return t.AddClientKey(ctx, k) })
}

// AddClientKey is DB.AddClientKey in the caller's transaction (contracts.ClientTx).
func (t *tx) AddClientKey(ctx context.Context, k contracts.ClientKey) error {
	if err := t.clientExists(ctx, k.ClientID); err != nil {
		return err
	}
	return t.insertClientKey(ctx, k)
}

// RevokeClientKey revokes the key kid at at and returns it as stored; a key revoked before
// keeps its first RevokedAt. No key with that kid is ErrNotFound.
func (s *DB) RevokeClientKey(ctx context.Context, kid string, at time.Time) (contracts.ClientKey, error) {
	var k contracts.ClientKey
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		k, err = t.RevokeClientKey(ctx, kid, at)
		return err
	})
	return k, err
}

// RevokeClientKey is DB.RevokeClientKey in the caller's transaction (contracts.ClientTx).
func (t *tx) RevokeClientKey(ctx context.Context, kid string, at time.Time) (contracts.ClientKey, error) {
	var k contracts.ClientKey
	if _, err := t.tx.ExecContext(ctx, t.d.q(
		"UPDATE client_keys SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL"), t.d.ts(at), kid); err != nil {
		return k, t.d.wrap("revoke key "+kid, err)
	}
	err := t.tx.QueryRowContext(ctx, t.d.q(`SELECT kid, client_id, algorithm, public_key_pem, created_at, revoked_at
		FROM client_keys WHERE kid = ?`), kid).
		Scan(&k.KID, &k.ClientID, &k.Algorithm, &k.PublicKeyPEM, timeCol{&k.CreatedAt}, nullTimeCol{&k.RevokedAt})
	return k, t.d.wrap("revoke key "+kid, err)
}

// SetClientReturnOrigins replaces a client's return origins; a missing client is
// ErrNotFound.
func (s *DB) SetClientReturnOrigins(ctx context.Context, clientID string, origins []string) error {
	return s.inTx(ctx, func(t *tx) error { return t.SetClientReturnOrigins(ctx, clientID, origins) })
}

// SetClientReturnOrigins is DB.SetClientReturnOrigins in the caller's transaction
// (contracts.ClientTx).
func (t *tx) SetClientReturnOrigins(ctx context.Context, clientID string, origins []string) error {
	if err := t.clientExists(ctx, clientID); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, t.d.q("DELETE FROM client_return_origins WHERE client_id = ?"), clientID); err != nil {
		return t.d.wrap("clear return origins of client "+clientID, err)
	}
	return t.insertReturnOrigins(ctx, clientID, origins)
}

func (t *tx) clientExists(ctx context.Context, id string) error {
	var one int
	err := t.tx.QueryRowContext(ctx, t.d.q("SELECT 1 FROM store_clients WHERE id = ?"+t.d.forUpdate()), id).Scan(&one)
	return t.d.wrap("find store client "+id, err)
}

// LookupClientKey finds an unrevoked key by kid, with its client (stores in registration
// order, and all its keys, revoked ones included). An unknown or revoked kid is
// ErrNotFound.
func (s *DB) LookupClientKey(ctx context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	var clientID string
	err := s.r().QueryRowContext(ctx, s.d.q(
		"SELECT client_id FROM client_keys WHERE kid = ? AND revoked_at IS NULL"), kid).Scan(&clientID)
	if err != nil {
		return contracts.ClientKey{}, contracts.StoreClient{}, s.d.wrap("lookup key "+kid, err)
	}
	c, err := s.GetStoreClient(ctx, clientID)
	if err != nil {
		return contracts.ClientKey{}, contracts.StoreClient{}, err
	}
	for _, k := range c.Keys {
		if k.KID == kid && k.RevokedAt == nil {
			return k, c, nil
		}
	}
	// The key was deleted or revoked between the two reads.
	return contracts.ClientKey{}, contracts.StoreClient{}, fmt.Errorf("store: lookup key %s: %w", kid, contracts.ErrNotFound)
}

// ListStoreClients reads every client with its stores, keys and return origins, by id.
func (s *DB) ListStoreClients(ctx context.Context) ([]contracts.StoreClient, error) {
	rows, err := s.r().QueryContext(ctx, "SELECT id FROM store_clients ORDER BY id")
	if err != nil {
		return nil, s.d.wrap("list store clients", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, s.d.wrap("list store clients", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.d.wrap("list store clients", err)
	}
	out := make([]contracts.StoreClient, 0, len(ids))
	for _, id := range ids {
		c, err := s.GetStoreClient(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// GetStoreClient reads a client with its stores (in registration order), keys (revoked
// ones included), return origins and source allowlist (both in registration order);
// ErrNotFound when there is none.
func (s *DB) GetStoreClient(ctx context.Context, id string) (contracts.StoreClient, error) {
	var c contracts.StoreClient
	err := s.r().QueryRowContext(ctx, s.d.q("SELECT id, name, created_at FROM store_clients WHERE id = ?"), id).
		Scan(&c.ID, &c.Name, timeCol{&c.CreatedAt})
	if err != nil {
		return c, s.d.wrap("get store client "+id, err)
	}
	if c.Stores, err = s.clientStrings(ctx, "get client stores",
		"SELECT store_id FROM client_stores WHERE client_id = ? ORDER BY position", id); err != nil {
		return c, err
	}
	if c.ReturnOrigins, err = s.clientStrings(ctx, "get client return origins",
		"SELECT origin FROM client_return_origins WHERE client_id = ? ORDER BY position", id); err != nil {
		return c, err
	}
	cidrs, err := s.clientStrings(ctx, "get client source allowlist",
		"SELECT cidr FROM client_source_allowlists WHERE client_id = ? ORDER BY position", id)
	if err != nil {
		return c, err
	}
	for _, cidr := range cidrs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return c, fmt.Errorf("store: source allowlist of client %s: %w", id, err)
		}
		c.SourceAllowlist = append(c.SourceAllowlist, p)
	}
	keys, err := s.r().QueryContext(ctx, s.d.q(`SELECT kid, client_id, algorithm, public_key_pem, created_at, revoked_at
		FROM client_keys WHERE client_id = ? ORDER BY created_at, kid`), id)
	if err != nil {
		return c, s.d.wrap("get client keys", err)
	}
	defer keys.Close()
	for keys.Next() {
		var k contracts.ClientKey
		if err := keys.Scan(&k.KID, &k.ClientID, &k.Algorithm, &k.PublicKeyPEM,
			timeCol{&k.CreatedAt}, nullTimeCol{&k.RevokedAt}); err != nil {
			return c, s.d.wrap("get client keys", err)
		}
		c.Keys = append(c.Keys, k)
	}
	return c, s.d.wrap("get client keys", keys.Err())
}

// clientStrings reads one column of a client's rows.
func (s *DB) clientStrings(ctx context.Context, op, query, id string) ([]string, error) {
	rows, err := s.r().QueryContext(ctx, s.d.q(query), id)
	if err != nil {
		return nil, s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, s.d.wrap(op, err)
		}
		out = append(out, v)
	}
	return out, s.d.wrap(op, rows.Err())
}
