package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
)

// Linked accounts (docs/api.md §4.4). A store client starts a link; the partner (PayPay)
// shows the customer a link QR; the customer's decision comes back through the customer's
// browser to LinkReturnPath as a signed response token, which must carry the link's id and
// the nonce payhub chose. The link then belongs to that client: its payments may charge it
// by id (flow linked, linked_account), and a raw user_authorization_id is accepted only when
// the same client holds an active link to it — one store's customer cannot be charged from
// another client by guessing or copying a reference.

// LinkReturnPath is where the partner sends the customer's browser with its answer:
// LinkReturnPath + the linked account's id.
const LinkReturnPath = "/v1/link-returns/"

// DefaultLinkScopes is what a link asks for when the request names nothing.
var DefaultLinkScopes = []string{"direct_debit"}

// CreateLink is a store's request to link a customer's account.
type CreateLink struct {
	// Method is the partner (MethodPayPay).
	Method contracts.Method
	// Scopes are the permissions to ask for (DefaultLinkScopes when empty).
	Scopes []string
	// ReturnURL is the store's page for the customer's browser afterwards (optional; on one
	// of the client's return origins).
	ReturnURL string
}

// linker is the partner of m that links accounts.
func (h *Hub) linker(m contracts.Method) (contracts.AccountLinking, error) {
	if l, ok := h.partners[m].(contracts.AccountLinking); ok {
		return l, nil
	}
	return nil, fieldError(contracts.CodeMethodNotSupported, "/method", "Method %q does not link accounts here.", m)
}

// CreateLinkedAccount starts a link: it asks the partner for a link session and records the
// pending link with its URL. Nothing moves money, so no intent precedes the call: a retry
// after a lost answer only asks for another session, and only the session payhub recorded
// can complete (its id and nonce are in the partner's answer).
func (h *Hub) CreateLinkedAccount(ctx context.Context, c Caller, idem idempotency.Key, cmd CreateLink) (Response, error) {
	l, err := h.linker(cmd.Method)
	if err == nil {
		err = h.checkLinkRequest(ctx, c, &cmd)
	}
	if err == nil {
		err = h.checkControls(ctx, contracts.ControlScope{Partner: contracts.PartnerOf(cmd.Method), Method: cmd.Method,
			Operation: contracts.OperationAccountLink, StoreID: c.StoreID, ClientID: c.ClientID})
	}
	if err != nil {
		return Response{}, err
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		now := h.now()
		a := contracts.LinkedAccount{ID: h.ids.New(contracts.PrefixLinkedAccount), ClientID: c.ClientID, StoreID: c.StoreID,
			Method: cmd.Method, Status: contracts.LinkPending, Scopes: cmd.Scopes, Nonce: rand.Text(), ReturnURL: cmd.ReturnURL,
			IdempotencyKey: idem.Key, CreatedAt: now, UpdatedAt: now}
		sess, err := l.CreateLinkSession(ctx, contracts.LinkSessionRequest{Scopes: a.Scopes, Nonce: a.Nonce, ReferenceID: a.ID,
			RedirectURL: h.publicURL + LinkReturnPath + a.ID})
		if err != nil {
			h.log.WarnContext(ctx, "link session refused or unanswered", "method", cmd.Method, "err", err)
			return contracts.Answer{}, &contracts.Error{Code: contracts.CodePartnerUnavailable,
				Detail: "The partner did not open a link session; nothing was linked. Retry later with the same Idempotency-Key."}
		}
		a.LinkURL = sess.URL
		if !sess.ExpiresAt.IsZero() {
			exp := sess.ExpiresAt.UTC().Truncate(time.Microsecond)
			a.ExpiresAt = &exp
		}
		resp := contracts.Answer{Kind: contracts.AnswerCreated, Body: render.LinkedAccount(a)}
		err = h.store.InTx(ctx, func(tx contracts.Tx) error {
			if err := tx.InsertLinkedAccount(ctx, a); err != nil {
				return err
			}
			return h.guard.Answer(ctx, tx, c.ClientID, &idem, resp, now)
		})
		if err != nil {
			return contracts.Answer{}, fmt.Errorf("record linked account: %w", err)
		}
		return resp, nil
	})
}

// checkLinkRequest fills in the default scopes and checks the return URL as a redirect
// payment's (an https page on one of the client's return origins).
func (h *Hub) checkLinkRequest(ctx context.Context, c Caller, cmd *CreateLink) error {
	if len(cmd.Scopes) == 0 {
		cmd.Scopes = DefaultLinkScopes
	}
	cmd.Scopes = slices.Compact(slices.Sorted(slices.Values(cmd.Scopes)))
	if cmd.ReturnURL == "" {
		return nil
	}
	asRedirect := CreatePayment{Flow: contracts.FlowRedirect, ReturnURL: cmd.ReturnURL}
	if err := h.checkReturnURL(asRedirect); err != nil {
		return err
	}
	return h.checkReturnOrigin(ctx, c, asRedirect)
}

// GetLinkedAccount reads one of the caller's links; a pending link past its expiry is
// marked expired first.
func (h *Hub) GetLinkedAccount(ctx context.Context, c Caller, id string) (contracts.LinkedAccount, error) {
	if !contracts.ValidID(contracts.PrefixLinkedAccount, id) {
		return contracts.LinkedAccount{}, notFound()
	}
	a, err := h.store.GetLinkedAccount(ctx, c.ClientID, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return a, notFound()
	}
	if err != nil || a.Status != contracts.LinkPending || a.ExpiresAt == nil || h.now().Before(*a.ExpiresAt) {
		return a, err
	}
	return h.decideLink(ctx, id, func(a *contracts.LinkedAccount, now time.Time) error {
		a.Status = contracts.LinkExpired
		return nil
	})
}

// decideLink applies decide to the link id, locked, if it is still pending, and returns it.
func (h *Hub) decideLink(ctx context.Context, id string, decide func(a *contracts.LinkedAccount, now time.Time) error) (contracts.LinkedAccount, error) {
	var out contracts.LinkedAccount
	err := h.store.InTx(ctx, func(tx contracts.Tx) error {
		a, err := tx.GetLinkedAccountForUpdate(ctx, id)
		if err != nil {
			return err
		}
		out = a
		if a.Status != contracts.LinkPending {
			return nil
		}
		now := h.now()
		if err := decide(&a, now); err != nil {
			return err
		}
		a.UpdatedAt, a.LinkURL = now, ""
		out = a
		return tx.UpdateLinkedAccount(ctx, a)
	})
	return out, err
}

// CompleteLinkReturn takes the partner's answer that the customer's browser brought back to
// LinkReturnPath + id: a response token that must verify (signature, issuer, audience,
// expiry) and carry this link's id and nonce. The link becomes active (or declined); the
// answer is where to send the browser next ("" when the store gave no return URL). A token
// that does not verify, or belongs to another link, changes nothing.
func (h *Hub) CompleteLinkReturn(ctx context.Context, id string, source netip.Addr, token string) (contracts.LinkedAccount, string, error) {
	// Anyone may call it: bounded per source address like the payments' returns, before
	// any database read.
	if wait, ok := h.returns.admitAddress(source, h.clock.Now()); !ok {
		return contracts.LinkedAccount{}, "", retryLater("Too many returns from this address; try again shortly.", wait)
	}
	invalid := contracts.Errorf(contracts.CodeInvalidRequest, "This link answer is not valid for this link; nothing was linked.")
	if !contracts.ValidID(contracts.PrefixLinkedAccount, id) {
		return contracts.LinkedAccount{}, "", notFound()
	}
	a, err := h.store.GetLinkedAccountByID(ctx, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return a, "", notFound()
	}
	if err != nil {
		return a, "", err
	}
	l, err := h.linker(a.Method)
	if err != nil {
		return a, "", err
	}
	resp, err := l.VerifyLinkResponse(token, h.now())
	if err != nil {
		h.log.WarnContext(ctx, "link answer refused", "linked_account", id, "err", err)
		return a, "", invalid
	}
	if resp.ReferenceID != a.ID || resp.Nonce != a.Nonce {
		h.log.WarnContext(ctx, "link answer for another link refused", "linked_account", id)
		return a, "", invalid
	}
	a, err = h.decideLink(ctx, id, func(a *contracts.LinkedAccount, now time.Time) error {
		if resp.Result != contracts.LinkResultSucceeded || resp.UserAuthorizationID == "" {
			a.Status = contracts.LinkDeclined
			return nil
		}
		a.Status, a.UserAuthorizationID, a.LinkedAt, a.ExpiresAt = contracts.LinkActive, resp.UserAuthorizationID, &now, nil
		return nil
	})
	if err != nil {
		return a, "", err
	}
	h.log.InfoContext(ctx, "link decided", "linked_account", id, "status", a.Status)
	return a, linkReturnTo(a), nil
}

// linkReturnTo is the store's return URL with the link's id and status added.
func linkReturnTo(a contracts.LinkedAccount) string {
	if a.ReturnURL == "" {
		return ""
	}
	u, err := url.Parse(a.ReturnURL)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("linked_account", a.ID)
	q.Set("status", string(a.Status))
	u.RawQuery = q.Encode()
	return u.String()
}

// UnlinkLinkedAccount ends the caller's link: the partner revokes the authorization first
// (an active link), then the link is marked unlinked. A partner that does not answer
// leaves the link active (503, retry). Unlinking again answers the unlinked link.
func (h *Hub) UnlinkLinkedAccount(ctx context.Context, c Caller, id string) (contracts.LinkedAccount, error) {
	a, err := h.GetLinkedAccount(ctx, c, id)
	if err != nil || a.Status == contracts.LinkUnlinked {
		return a, err
	}
	if a.Status == contracts.LinkActive {
		l, err := h.linker(a.Method)
		if err != nil {
			return a, err
		}
		if err := l.Unlink(ctx, a.UserAuthorizationID); err != nil {
			var pe *contracts.PartnerError
			if !errors.As(err, &pe) || pe.Outcome != contracts.OutcomeFailed {
				h.log.WarnContext(ctx, "unlink unanswered", "linked_account", id, "err", err)
				return a, &contracts.Error{Code: contracts.CodePartnerUnavailable,
					Detail: "The partner did not confirm the unlink; the account stays linked. Retry later."}
			}
			// The partner no longer knows the authorization: it is gone there already.
			h.log.InfoContext(ctx, "partner no longer knows the authorization", "linked_account", id, "code", pe.PartnerCode)
		}
	}
	var out contracts.LinkedAccount
	err = h.store.InTx(ctx, func(tx contracts.Tx) error {
		a, err := tx.GetLinkedAccountForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if a.Status != contracts.LinkUnlinked {
			now := h.now()
			a.Status, a.UnlinkedAt, a.UpdatedAt, a.LinkURL = contracts.LinkUnlinked, &now, now, ""
			if err := tx.UpdateLinkedAccount(ctx, a); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	return out, err
}

// resolveLinkedAccount turns a linked payment's reference into the partner authorization
// it charges, refusing what the caller did not link: linked_account must be the caller's
// active link of the method; a raw user_authorization_id must be one the caller linked.
func (h *Hub) resolveLinkedAccount(ctx context.Context, c Caller, cmd *CreatePayment) error {
	switch {
	case cmd.LinkedAccountID != "" && cmd.UserAuthorizationID != "":
		return fieldError(contracts.CodeInvalidRequest, "/linked_account", "Give linked_account or user_authorization_id, not both.")
	case cmd.LinkedAccountID != "":
		var a contracts.LinkedAccount
		var err error
		if contracts.ValidID(contracts.PrefixLinkedAccount, cmd.LinkedAccountID) {
			a, err = h.store.GetLinkedAccount(ctx, c.ClientID, cmd.LinkedAccountID)
		} else {
			err = contracts.ErrNotFound
		}
		if errors.Is(err, contracts.ErrNotFound) {
			return unacceptableField("/linked_account", "No linked account %s for this client.", cmd.LinkedAccountID)
		}
		if err != nil {
			return err
		}
		if a.Status != contracts.LinkActive {
			return fieldError(contracts.CodeInvalidState, "/linked_account", "Linked account %s is %s, not active.", a.ID, a.Status)
		}
		if cmd.Method != a.Method && cmd.Method != contracts.MethodAuto {
			return unacceptableField("/method", "Linked account %s is a %s account.", a.ID, a.Method)
		}
		cmd.UserAuthorizationID = a.UserAuthorizationID
	case cmd.UserAuthorizationID != "":
		_, err := h.store.FindActiveLink(ctx, c.ClientID, cmd.UserAuthorizationID)
		if errors.Is(err, contracts.ErrNotFound) {
			e := contracts.Errorf(contracts.CodeForbidden,
				"This client has no active link to that account: link it (POST /v1/linked-accounts) and pay with linked_account.")
			e.Pointer = "/user_authorization_id"
			return e
		}
		return err
	}
	return nil
}
