package store

import (
	"context"
	"fmt"

	"payhub/contracts"
)

// CreateStoreClient registers a client with its stores and keys in one transaction. An
// existing client id or kid is ErrConflict. Each key's ClientID is taken from c.ID.
func (s *DB) CreateStoreClient(ctx context.Context, c contracts.StoreClient) error {
	return s.inTx(ctx, func(t *tx) error {
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
			if _, err := t.tx.ExecContext(ctx, t.d.q(`INSERT INTO client_keys
				(kid, client_id, algorithm, public_key_pem, created_at, revoked_at)
				VALUES (?, ?, ?, ?, ?, ?)`),
				k.KID, c.ID, k.Algorithm, k.PublicKeyPEM, t.d.ts(k.CreatedAt), t.d.nullTS(k.RevokedAt)); err != nil {
				return t.d.wrap("register key "+k.KID, err)
			}
		}
		return nil
	})
}

// LookupClientKey finds an unrevoked key by kid, with its client (stores in registration
// order, and all its keys, revoked ones included). An unknown or revoked kid is
// ErrNotFound.
func (s *DB) LookupClientKey(ctx context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	var clientID string
	err := s.db.QueryRowContext(ctx, s.d.q(
		"SELECT client_id FROM client_keys WHERE kid = ? AND revoked_at IS NULL"), kid).Scan(&clientID)
	if err != nil {
		return contracts.ClientKey{}, contracts.StoreClient{}, s.d.wrap("lookup key "+kid, err)
	}
	c, err := s.getStoreClient(ctx, clientID)
	if err != nil {
		return contracts.ClientKey{}, contracts.StoreClient{}, err
	}
	for _, k := range c.Keys {
		if k.KID == kid {
			return k, c, nil
		}
	}
	// The key was deleted between the two reads.
	return contracts.ClientKey{}, contracts.StoreClient{}, fmt.Errorf("store: lookup key %s: %w", kid, contracts.ErrNotFound)
}

// getStoreClient reads a client with its stores and keys.
func (s *DB) getStoreClient(ctx context.Context, id string) (contracts.StoreClient, error) {
	var c contracts.StoreClient
	err := s.db.QueryRowContext(ctx, s.d.q("SELECT id, name, created_at FROM store_clients WHERE id = ?"), id).
		Scan(&c.ID, &c.Name, timeCol{&c.CreatedAt})
	if err != nil {
		return c, s.d.wrap("get store client "+id, err)
	}
	rows, err := s.db.QueryContext(ctx, s.d.q(
		"SELECT store_id FROM client_stores WHERE client_id = ? ORDER BY position"), id)
	if err != nil {
		return c, s.d.wrap("get client stores", err)
	}
	defer rows.Close()
	for rows.Next() {
		var storeID string
		if err := rows.Scan(&storeID); err != nil {
			return c, s.d.wrap("get client stores", err)
		}
		c.Stores = append(c.Stores, storeID)
	}
	if err := rows.Err(); err != nil {
		return c, s.d.wrap("get client stores", err)
	}
	keys, err := s.db.QueryContext(ctx, s.d.q(`SELECT kid, client_id, algorithm, public_key_pem, created_at, revoked_at
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
