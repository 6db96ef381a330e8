package audit_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"payhub/internal/audit"
)

// The canonical encoding and the hash are stable: this vector must never change, or
// every stored chain stops verifying.
func TestHashIsStable(t *testing.T) {
	e := audit.Entry{Seq: 1, At: time.Date(2025, 6, 1, 0, 30, 0, 123456789, time.FixedZone("JST", 9*3600)),
		Actor: "cli:alice", Action: "client.register", Target: "client:pos-1", Params: []byte(`{"after":{"kid":"k1"}}`),
		RequestID: "req-1", PrevHash: audit.GenesisHash}
	got, err := audit.ComputeHash(testKey, e)
	if err != nil {
		t.Fatal(err)
	}
	const want = "7f37f3385b62b541a2a0e794c4d45a6ef404698a804bb871e4e442c381fbef80"
	if got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
	if !bytes.Contains(audit.Canonical(e), []byte("2025-05-31T15:30:00.123456Z")) {
		t.Errorf("canonical time is not UTC at microseconds: %q", audit.Canonical(e))
	}
	// Fields are length-prefixed: moving bytes between fields changes the hash.
	e2 := e
	e2.Actor, e2.Action = "cli:alicec", "lient.register"
	if h2, _ := audit.ComputeHash(testKey, e2); h2 == got {
		t.Error("moving a byte between fields kept the hash")
	}
}

func TestParamsRedactsAndIsCanonical(t *testing.T) {
	p, err := audit.Params(audit.Change{
		Before: map[string]any{"z": 1, "a": "<x>"},
		After:  map[string]any{"webhook_secret": "whsec_123", "nested": []any{map[string]any{"AccessPass": "p", "Token": "t"}}, "amount": 9007199254740993},
		Reason: "rotation",
	})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"after":{"amount":9007199254740993,"nested":[{"AccessPass":"***","Token":"***"}],"webhook_secret":"***"},"before":{"a":"<x>","z":1},"reason":"rotation"}`
	if string(p) != want {
		t.Errorf("Params =\n%s\nwant\n%s", p, want)
	}
}

func TestAnchorRoundTrip(t *testing.T) {
	a := audit.Anchor{Seq: 12, Hash: strings.Repeat("ab", 32)}
	var b bytes.Buffer
	if err := audit.WriteAnchor(&b, a); err != nil {
		t.Fatal(err)
	}
	got, err := audit.ReadAnchor(&b)
	if err != nil || got != a {
		t.Fatalf("ReadAnchor = %+v, %v", got, err)
	}
	for _, bad := range []string{`{"seq":0,"hash":"` + a.Hash + `"}`, `{"seq":1,"hash":"zz"}`, `{"seq":1,"hash":"` + a.Hash + `","x":1}`, `[]`} {
		if _, err := audit.ReadAnchor(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadAnchor(%s) accepted", bad)
		}
	}
}

func TestVerifyRefusesWrongKey(t *testing.T) {
	e := audit.Entry{Seq: 1, At: time.Unix(0, 0), Actor: "a", Action: "b", Params: []byte("{}"), PrevHash: audit.GenesisHash}
	e.Hash, _ = audit.ComputeHash(testKey, e)
	if err := audit.Verify(audit.Slice([]audit.Entry{e}), testKey, nil); err != nil {
		t.Fatalf("right key: %v", err)
	}
	other := bytes.Repeat([]byte{1}, 32)
	if err := audit.Verify(audit.Slice([]audit.Entry{e}), other, nil); err == nil {
		t.Fatal("a chain verified under another key")
	}
	if err := audit.Verify(audit.Slice(nil), []byte("short"), nil); err == nil {
		t.Fatal("a short key was accepted")
	}
}
