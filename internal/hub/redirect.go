package hub

import (
	"context"
	"errors"
	"net/url"

	"payhub/contracts"
)

// ReturnPath is where the partner sends the customer's browser back for a redirect
// payment: ReturnPath + payment id, under the configured public URL.
const ReturnPath = "/v1/payment-returns/"

// sealSecret seals a partner credential for payment id. Without a key it is dropped, never
// kept in clear; the adapter must then recover it from the partner (GMO: SearchTrade).
func (h *Hub) sealSecret(ctx context.Context, paymentID, secret string) string {
	if h.secrets == nil {
		h.log.ErrorContext(ctx, "no secrets key configured: a partner credential of the payment is not kept", "payment_id", paymentID)
		return ""
	}
	return h.secrets.Seal(paymentID, secret)
}

// openSecret opens p's sealed partner credential; "" when there is none or it cannot be
// opened (the adapter recovers it from the partner).
func (h *Hub) openSecret(ctx context.Context, p contracts.Payment) string {
	if p.PartnerSecret == "" || h.secrets == nil {
		return ""
	}
	s, err := h.secrets.Open(p.ID, p.PartnerSecret)
	if err != nil {
		h.log.ErrorContext(ctx, "partner credential of the payment does not open (another key?)", "payment_id", p.ID)
		return ""
	}
	return s
}

// returnURLFor is the URL the partner sends the browser back to for a redirect payment;
// "" for other flows.
func (h *Hub) returnURLFor(p contracts.Payment) string {
	if p.Flow != contracts.FlowRedirect {
		return ""
	}
	return h.publicURL + ReturnPath + p.ID
}

// checkReturnURL checks the store's return_url of a redirect payment: an absolute https URL
// (http only to loopback, for demos and tests), without credentials or a fragment.
func (h *Hub) checkReturnURL(cmd CreatePayment) error {
	if cmd.Flow != contracts.FlowRedirect {
		if cmd.ReturnURL != "" {
			return fieldError(contracts.CodeInvalidRequest, "/return_url", "return_url is for flow redirect only.")
		}
		return nil
	}
	if h.publicURL == "" {
		return fieldError(contracts.CodeMethodNotSupported, "/flow", "Flow redirect is not available: payhub has no public URL configured.")
	}
	u, err := url.Parse(cmd.ReturnURL)
	bad := err != nil || cmd.ReturnURL == "" || len(cmd.ReturnURL) > 2048 || u.User != nil || u.Fragment != "" || u.Host == ""
	if !bad {
		switch u.Scheme {
		case "https":
		case "http":
			bad = u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1"
		default:
			bad = true
		}
	}
	if bad {
		return fieldError(contracts.CodeInvalidRequest, "/return_url", "return_url must be an absolute https URL without credentials or fragment (required for flow redirect).")
	}
	return nil
}

// storeReturnURL is where the browser goes after the return: the store's page with the
// payment's id added.
func storeReturnURL(p contracts.Payment) string {
	u, err := url.Parse(p.ReturnURL)
	if err != nil {
		return p.ReturnURL // checked at create; cannot happen
	}
	q := u.Query()
	q.Set("payment_id", p.ID)
	u.RawQuery = q.Encode()
	return u.String()
}

// CompleteReturn handles the customer's browser coming back from the partner's page for a
// redirect payment: the partner completes the payment (LINE Pay confirm, GMO SecureTran2)
// and payhub records the answer like any other, in one transaction with its event. It
// returns where to send the browser next (the store's return_url). The return proves
// nothing by itself; the adapter checks what the browser brought, and only the partner's
// answer moves the payment. A payment no longer waiting for the customer is not touched
// again: the browser just goes on.
func (h *Hub) CompleteReturn(ctx context.Context, paymentID string, query url.Values) (string, error) {
	if !contracts.ValidID(contracts.PrefixPayment, paymentID) {
		return "", notFound()
	}
	p, err := h.store.GetPayment(ctx, "", paymentID)
	if errors.Is(err, contracts.ErrNotFound) {
		return "", notFound()
	}
	if err != nil {
		return "", err
	}
	if p.Flow != contracts.FlowRedirect || p.ReturnURL == "" {
		return "", notFound()
	}
	if p.Status != contracts.StatusRequiresAction {
		return storeReturnURL(p), nil
	}
	handler, ok := h.partners[p.Method].(contracts.ReturnHandler)
	if !ok {
		return "", contracts.Errorf(contracts.CodePartnerUnavailable, "The partner for %s is not configured.", p.Method)
	}
	res := handler.CompleteReturn(context.WithoutCancel(ctx), h.paymentRef(ctx, p), query)
	if res.Outcome == contracts.OutcomePending {
		return storeReturnURL(p), nil // still with the customer; the poller keeps looking
	}
	if _, err := h.applyRefresh(ctx, p, res); err != nil {
		return "", err
	}
	return storeReturnURL(p), nil
}
