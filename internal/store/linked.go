package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"payhub/contracts"
)

// Linked accounts (docs/api.md §4.4).

const linkedAccountColumns = "id, client_id, store_id, method, status, scopes, user_authorization_id, nonce, link_url, " +
	"return_url, expires_at, idempotency_key, created_at, updated_at, linked_at, unlinked_at"

// InsertLinkedAccount writes a new link.
func (t *tx) InsertLinkedAccount(ctx context.Context, a contracts.LinkedAccount) error {
	if a.ID == "" || a.ClientID == "" || a.Nonce == "" {
		return errors.New("store: insert linked account: id, client and nonce are required")
	}
	_, err := t.tx.ExecContext(ctx, t.d.q("INSERT INTO linked_accounts ("+linkedAccountColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		a.ID, a.ClientID, a.StoreID, string(a.Method), string(a.Status), strings.Join(a.Scopes, " "), a.UserAuthorizationID,
		a.Nonce, a.LinkURL, a.ReturnURL, t.d.nullTS(a.ExpiresAt), a.IdempotencyKey, t.d.ts(a.CreatedAt), t.d.ts(a.UpdatedAt),
		t.d.nullTS(a.LinkedAt), t.d.nullTS(a.UnlinkedAt))
	return t.d.wrap("insert linked account "+a.ID, err)
}

// GetLinkedAccountForUpdate reads a link, locked.
func (t *tx) GetLinkedAccountForUpdate(ctx context.Context, id string) (contracts.LinkedAccount, error) {
	return getLinkedAccount(ctx, t.tx, t.d, "id = ?", t.d.forUpdate(), id)
}

// UpdateLinkedAccount writes a's changing fields over the stored link.
func (t *tx) UpdateLinkedAccount(ctx context.Context, a contracts.LinkedAccount) error {
	res, err := t.tx.ExecContext(ctx, t.d.q(`UPDATE linked_accounts SET status = ?, scopes = ?, user_authorization_id = ?,
		link_url = ?, expires_at = ?, updated_at = ?, linked_at = ?, unlinked_at = ? WHERE id = ?`),
		string(a.Status), strings.Join(a.Scopes, " "), a.UserAuthorizationID, a.LinkURL, t.d.nullTS(a.ExpiresAt),
		t.d.ts(a.UpdatedAt), t.d.nullTS(a.LinkedAt), t.d.nullTS(a.UnlinkedAt), a.ID)
	if err != nil {
		return t.d.wrap("update linked account "+a.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: update linked account %s: %w", a.ID, contracts.ErrNotFound)
	}
	return nil
}

// GetLinkedAccount reads one of clientID's links.
func (s *DB) GetLinkedAccount(ctx context.Context, clientID, id string) (contracts.LinkedAccount, error) {
	return getLinkedAccount(ctx, s.r(), s.d, "id = ? AND client_id = ?", "", id, clientID)
}

// GetLinkedAccountByID reads a link whoever linked it.
func (s *DB) GetLinkedAccountByID(ctx context.Context, id string) (contracts.LinkedAccount, error) {
	return getLinkedAccount(ctx, s.r(), s.d, "id = ?", "", id)
}

// FindActiveLink reads clientID's active link of a partner authorization.
func (s *DB) FindActiveLink(ctx context.Context, clientID, userAuthorizationID string) (contracts.LinkedAccount, error) {
	return getLinkedAccount(ctx, s.r(), s.d, "client_id = ? AND user_authorization_id = ? AND status = 'active'", "",
		clientID, userAuthorizationID)
}

func getLinkedAccount(ctx context.Context, q querier, d dialect, where, suffix string, args ...any) (contracts.LinkedAccount, error) {
	var (
		a                      contracts.LinkedAccount
		method, status, scopes string
	)
	err := q.QueryRowContext(ctx, d.q("SELECT "+linkedAccountColumns+" FROM linked_accounts WHERE "+where+" LIMIT 1")+suffix, args...).Scan(
		&a.ID, &a.ClientID, &a.StoreID, &method, &status, &scopes, &a.UserAuthorizationID, &a.Nonce, &a.LinkURL, &a.ReturnURL,
		nullTimeCol{&a.ExpiresAt}, &a.IdempotencyKey, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, nullTimeCol{&a.LinkedAt},
		nullTimeCol{&a.UnlinkedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return contracts.LinkedAccount{}, fmt.Errorf("store: linked account: %w", contracts.ErrNotFound)
	}
	if err != nil {
		return contracts.LinkedAccount{}, d.wrap("read linked account", err)
	}
	a.Method, a.Status = contracts.Method(method), contracts.LinkedAccountStatus(status)
	if scopes != "" {
		a.Scopes = strings.Fields(scopes)
	}
	return a, nil
}
