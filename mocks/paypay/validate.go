package paypay

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"payhub/mocks/sim"
)

// maxAmount is the largest OPA amount: an integer of at most 11 digits
// (docs/partners/paypay.md §1).
const maxAmount = 99_999_999_999

// maxMerchantIDLen bounds merchantPaymentId and merchantRefundId (docs/partners/paypay.md §4).
const maxMerchantIDLen = 64

// amountIn is an OPA amount as received; pointers tell "missing" from zero.
type amountIn struct {
	Amount   *int64 `json:"amount"`
	Currency string `json:"currency"`
}

// decode parses a JSON request body, answering INVALID_REQUEST_PARAMS when it is not JSON
// of the expected shape (a fractional amount included).
func decode(body []byte, v any) *apiError {
	if err := sim.DecodeJSON(body, v); err != nil {
		return fail(resInvalidRequest, "Request body is not valid JSON of the expected shape")
	}
	return nil
}

// checkAmount validates a positive whole-yen amount.
func checkAmount(a *amountIn) (int64, *apiError) {
	switch {
	case a == nil || a.Amount == nil || a.Currency == "":
		return 0, fail(resMissingRequest, "amount is required")
	case a.Currency != currencyJPY:
		return 0, fail(resInvalidRequest, "amount.currency must be JPY")
	case *a.Amount <= 0 || *a.Amount > maxAmount:
		return 0, fail(resInvalidRequest, "amount.amount must be a positive integer of at most 11 digits")
	}
	return *a.Amount, nil
}

// checkMerchantID validates a merchant-chosen id: required, ≤ 64 chars of [A-Za-z0-9_-].
func checkMerchantID(field, id string) *apiError {
	if id == "" {
		return fail(resMissingRequest, field+" is required")
	}
	if !validMerchantID(id) {
		return fail(resInvalidRequest, field+" must be at most 64 characters of [A-Za-z0-9_-]")
	}
	return nil
}

func validMerchantID(id string) bool {
	if id == "" || len(id) > maxMerchantIDLen {
		return false
	}
	for _, c := range id {
		ok := c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// checkRequestedAt requires the merchant's requestedAt (epoch seconds).
func checkRequestedAt(at *int64) (time.Time, *apiError) {
	if at == nil {
		return time.Time{}, fail(resMissingRequest, "requestedAt is required")
	}
	if *at <= 0 {
		return time.Time{}, fail(resInvalidRequest, "requestedAt must be epoch seconds")
	}
	return time.Unix(*at, 0), nil
}

// newPaymentID returns an unused PayPay paymentId (a 19-digit number, as PayPay's are).
// Caller holds s.mu.
func (s *Simulator) newPaymentID() string {
	for {
		id := "1" + randomDigits(18)
		if _, taken := s.byPaymentID[id]; !taken {
			return id
		}
	}
}

// newCodeID returns an unused dynamic QR codeId. Caller holds s.mu.
func (s *Simulator) newCodeID() string {
	for {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id := "04-" + hex.EncodeToString(b)
		if _, taken := s.codes[id]; !taken {
			return id
		}
	}
}

// jst is Japan Standard Time, in which PayPay's cancel and refund windows close. The
// simulator keeps its own copy rather than importing payhub's, so an error in one cannot
// hide in the other.
var jst = time.FixedZone("JST", 9*60*60)

// cancelCutoff is the first instant a payment accepted at acceptedAt can no longer be
// canceled: 00:15:00 JST on the day after acceptance (cancel allowed through 00:14:59).
func cancelCutoff(acceptedAt time.Time) time.Time {
	t := acceptedAt.In(jst)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 15, 0, 0, jst)
}

// refundCutoff is the first instant a payment accepted at acceptedAt can no longer be
// refunded: midnight JST ending the day 365 days after the payment date.
func refundCutoff(acceptedAt time.Time) time.Time {
	t := acceptedAt.In(jst)
	return time.Date(t.Year(), t.Month(), t.Day()+366, 0, 0, 0, 0, jst)
}
