package webhooks_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"payhub/internal/webhooks"
	"payhub/internal/webhooks/webhookstest"
)

// npmCheckDir is tests/npm/standardwebhooks, relative to this package.
const npmCheckDir = "../../tests/npm/standardwebhooks"

// npmCase is one delivery for verify.js: the receiver's secret and what arrived.
type npmCase = webhookstest.Case

// TestNodeStandardWebhooksVerifiesPayhubSignatures is the acceptance test for signing: a
// signature that the reference npm library (standardwebhooks, pinned in
// tests/npm/standardwebhooks) rejects is wrong. It signs deliveries with Headers at the
// real time (the library checks timestamps against its own clock) and asserts exactly
// which ones the library accepts.
func TestNodeStandardWebhooksVerifiesPayhubSignatures(t *testing.T) {
	cases, want := npmCases(t, time.Now())
	if got := webhookstest.NodeVerify(t, npmCheckDir, cases); !slices.Equal(got, want) {
		t.Fatalf("standardwebhooks accepted %v, want %v", got, want)
	}
}

// npmCases signs deliveries at now: a single secret, a rotation checked with each secret
// alone and with an unrelated one, a tampered body, and a delivery signed twice Tolerance ago
// (the library's own clock must reject it too). want is the verdict for each.
func npmCases(t *testing.T, now time.Time) ([]npmCase, []bool) {
	t.Helper()
	single, newer, older, other := newSecret(t), newSecret(t), newSecret(t), newSecret(t)
	body := `{"id":"evt_01JDQ6","type":"payment.succeeded","timestamp":"2026-11-28T01:15:31Z","data":{"sequence":4,"object":{"object":"payment","id":"pay_01JDQ6","amount":1200,"currency":"JPY","note":"caf\u00e9 ☕"}}}`
	refund := `{"id":"evt_01JDQ7","type":"refund.succeeded","data":{"sequence":5,"object":{"object":"refund","id":"re_01JDQ7","payment_id":"pay_01JDQ6"}}}`
	c := func(secret webhooks.Secret, id, body string, signers ...webhooks.Secret) npmCase {
		h := headers(t, id, now, body, signers...)
		return npmCase{Secret: string(secret), ID: h.Get("webhook-id"), Timestamp: h.Get("webhook-timestamp"),
			Signature: h.Get("webhook-signature"), Body: body}
	}
	tampered := c(single, "evt_01JDQ8", body, single)
	tampered.Body = strings.Replace(body, `"amount":1200`, `"amount":1`, 1)
	stale := c(single, "evt_01JDQA", body, single)
	stale.Timestamp, stale.Signature = signedAt(t, single, stale.ID, now.Add(-2*webhooks.Tolerance), body)
	cases := []npmCase{
		c(single, "evt_01JDQ6", body, single),
		c(vectorSecret, "evt_01JDQ7", refund, vectorSecret),
		c(newer, "evt_01JDQ9", body, newer, older),
		c(older, "evt_01JDQ9", body, newer, older),
		c(other, "evt_01JDQ9", body, newer, older),
		tampered,
		stale,
	}
	return cases, []bool{true, true, true, true, false, false, false}
}

// signedAt is a correctly signed timestamp and signature for a delivery attempted at at.
func signedAt(t *testing.T, s webhooks.Secret, id string, at time.Time, body string) (ts, sig string) {
	t.Helper()
	h := headers(t, id, at, body, s)
	return h.Get("webhook-timestamp"), h.Get("webhook-signature")
}
