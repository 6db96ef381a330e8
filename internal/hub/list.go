package hub

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"payhub/contracts"
)

// ListPayments is a request for a page of the caller's payments.
type ListPayments struct {
	// Limit is the page size, 1–100 (default 20).
	Limit int
	// Cursor is the opaque next_cursor of the previous page, or empty for the first.
	Cursor string
	// Status, TerminalID, Method and OrderID filter; they must repeat on every page.
	Status contracts.Status
	// TerminalID filters by till.
	TerminalID string
	// Method filters by method.
	Method contracts.Method
	// OrderID filters by the store's order reference.
	OrderID string
	// CreatedGTE and CreatedLT bound the creation time when non-zero.
	CreatedGTE, CreatedLT time.Time
}

// PaymentPage is one page of payments, newest first.
type PaymentPage struct {
	// Payments are the page's payments.
	Payments []contracts.Payment
	// HasMore says whether another page follows.
	HasMore bool
	// NextCursor fetches the next page; empty when HasMore is false.
	NextCursor string
}

// cursor is what an opaque cursor carries: the last id of the page and a hash of the
// filters, so a cursor reused with other filters is refused instead of skipping rows.
type cursor struct {
	After   string `json:"a"`
	Filters string `json:"f"`
}

func (q ListPayments) filterHash() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{string(q.Status), q.TerminalID, string(q.Method), q.OrderID,
		q.CreatedGTE.UTC().Format(time.RFC3339Nano), q.CreatedLT.UTC().Format(time.RFC3339Nano)}, "\x00")))
	return hex.EncodeToString(sum[:8])
}

func invalidCursor() *contracts.Error {
	return contracts.Errorf(contracts.CodeInvalidCursor, "The cursor is malformed or was made for other filters.")
}

// ListPayments returns a page of the caller's payments, newest first.
func (h *Hub) ListPayments(ctx context.Context, c Caller, q ListPayments) (PaymentPage, error) {
	if q.Limit == 0 {
		q.Limit = 20
	}
	if q.Limit < 1 || q.Limit > 100 {
		return PaymentPage{}, fieldError(contracts.CodeInvalidRequest, "/limit", "limit must be between 1 and 100.")
	}
	f := contracts.PaymentFilter{StoreID: c.StoreID, Status: q.Status, TerminalID: q.TerminalID,
		Method: q.Method, OrderID: q.OrderID, CreatedGTE: q.CreatedGTE, CreatedLT: q.CreatedLT, Limit: q.Limit + 1}
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		var cur cursor
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.Filters != q.filterHash() ||
			!contracts.ValidID(contracts.PrefixPayment, cur.After) {
			return PaymentPage{}, invalidCursor()
		}
		f.BeforeID = cur.After
	}
	payments, err := h.store.ListPayments(ctx, f)
	if err != nil {
		return PaymentPage{}, err
	}
	page := PaymentPage{Payments: payments}
	if len(payments) > q.Limit {
		page.Payments, page.HasMore = payments[:q.Limit], true
		raw, _ := json.Marshal(cursor{After: page.Payments[q.Limit-1].ID, Filters: q.filterHash()})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}
