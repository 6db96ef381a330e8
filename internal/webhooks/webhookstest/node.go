// Package webhookstest checks payhub's store notifications the way a store's Node receiver
// does: with the reference npm library standardwebhooks (pinned in
// tests/npm/standardwebhooks), unchanged. A signature it rejects is wrong. Tests only.
package webhookstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"payhub/tests/npmcheck"
)

// Case is one delivery for the library: the receiver's secret and what arrived.
type Case struct {
	// Secret is the receiver's whsec_ secret.
	Secret string `json:"secret"`
	// ID, Timestamp and Signature are the webhook-id, webhook-timestamp and
	// webhook-signature headers.
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	// Body is the raw body.
	Body string `json:"body"`
}

// NodeVerify installs the pinned library from checkDir (tests/npm/standardwebhooks) and
// reports, per case, whether new Webhook(secret).verify(body, headers) accepts it. The
// library checks timestamps against the real clock, so cases must be signed now. It skips
// as npmcheck.Install does.
func NodeVerify(t testing.TB, checkDir string, cases []Case) []bool {
	t.Helper()
	dir := npmcheck.Install(t, checkDir, "package.json", "package-lock.json", "verify.js")
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := npmcheck.Run(t, ctx, dir, nil, in, "node", "verify.js")
	t.Logf("verify.js:\n%s", out)
	var got []bool
	if npmcheck.Result(t, out, &got); len(got) != len(cases) {
		t.Fatalf("verify.js judged %d cases, want %d", len(got), len(cases))
	}
	return got
}
