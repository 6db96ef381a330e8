package webhooks_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"payhub/internal/webhooks"
)

// The Standard Webhooks test vector (docs/api.md §8.1).
const (
	vectorSecret    webhooks.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID                        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix                      = 1614265330
	vectorBody                      = `{"test": 2432232314}`
	vectorSignature                 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorAt = time.Unix(vectorUnix, 0)

func newSecret(t testing.TB) webhooks.Secret {
	t.Helper()
	s, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func headers(t testing.TB, id string, at time.Time, body string, secrets ...webhooks.Secret) http.Header {
	t.Helper()
	h, err := webhooks.Headers(id, at, []byte(body), secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSpecTestVector(t *testing.T) {
	h := headers(t, vectorID, vectorAt, vectorBody, vectorSecret)
	want := map[string]string{
		"webhook-id":        vectorID,
		"webhook-timestamp": "1614265330",
		"webhook-signature": vectorSignature,
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(h) != 3 {
		t.Errorf("headers = %v, want exactly the three Standard Webhooks headers", h)
	}
	if err := webhooks.Verify([]byte(vectorBody), h, vectorAt, vectorSecret); err != nil {
		t.Fatalf("Verify(test vector) = %v", err)
	}
}

func TestRotationCarriesBothSignatures(t *testing.T) {
	newer, older, other := newSecret(t), newSecret(t), newSecret(t)
	at := time.Date(2026, 11, 28, 1, 15, 31, 0, time.UTC)
	body := `{"id":"evt_1","type":"payment.succeeded"}`
	h := headers(t, "evt_1", at, body, newer, older)

	sigs := strings.Split(h.Get("webhook-signature"), " ")
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("webhook-signature = %q, want two v1 signatures", h.Get("webhook-signature"))
	}
	if want := headers(t, "evt_1", at, body, newer).Get("webhook-signature"); sigs[0] != want {
		t.Errorf("first signature %q, want the newest secret's %q", sigs[0], want)
	}
	for name, s := range map[string]webhooks.Secret{"new": newer, "old": older} {
		if err := webhooks.Verify([]byte(body), h, at, s); err != nil {
			t.Errorf("Verify with the %s secret alone = %v", name, err)
		}
	}
	if err := webhooks.Verify([]byte(body), h, at, other); !errors.Is(err, webhooks.ErrNoMatchingSignature) {
		t.Errorf("Verify with an unrelated secret = %v, want ErrNoMatchingSignature", err)
	}
	if err := webhooks.Verify([]byte(body), h, at, other, older); err != nil {
		t.Errorf("Verify with (unrelated, old) = %v, want success", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	secret := newSecret(t)
	at := time.Date(2026, 11, 28, 1, 15, 31, 0, time.UTC)
	body := `{"id":"evt_2","type":"refund.succeeded"}`
	good := func() http.Header { return headers(t, "evt_2", at, body, secret) }
	with := func(key, value string) http.Header {
		h := good()
		h.Set(key, value)
		return h
	}
	without := func(key string) http.Header {
		h := good()
		h.Del(key)
		return h
	}
	cases := []struct {
		name string
		body string
		h    http.Header
		now  time.Time
		want error
	}{
		{"tampered body", `{"id":"evt_2","type":"refund.failed"}`, good(), at, webhooks.ErrNoMatchingSignature},
		{"body re-serialised", `{"id": "evt_2", "type": "refund.succeeded"}`, good(), at, webhooks.ErrNoMatchingSignature},
		{"tampered id", body, with("webhook-id", "evt_3"), at, webhooks.ErrNoMatchingSignature},
		{"tampered timestamp", body, with("webhook-timestamp", fmt.Sprint(at.Unix()+1)), at, webhooks.ErrNoMatchingSignature},
		{"stale (6 min old)", body, good(), at.Add(6 * time.Minute), webhooks.ErrStaleTimestamp},
		{"future (6 min ahead)", body, good(), at.Add(-6 * time.Minute), webhooks.ErrFutureTimestamp},
		{"missing webhook-id", body, without("webhook-id"), at, webhooks.ErrMissingHeaders},
		{"missing webhook-timestamp", body, without("webhook-timestamp"), at, webhooks.ErrMissingHeaders},
		{"missing webhook-signature", body, without("webhook-signature"), at, webhooks.ErrMissingHeaders},
		{"no headers at all", body, http.Header{}, at, webhooks.ErrMissingHeaders},
		{"timestamp not an integer", body, with("webhook-timestamp", "2026-11-28T01:15:31Z"), at, webhooks.ErrBadTimestamp},
		{"garbage signature", body, with("webhook-signature", "garbage"), at, webhooks.ErrNoMatchingSignature},
		{"garbage v1 signature", body, with("webhook-signature", "v1,!!!not-base64!!!"), at, webhooks.ErrNoMatchingSignature},
		{"right signature, wrong scheme", body, with("webhook-signature", "v1a,"+strings.TrimPrefix(good().Get("webhook-signature"), "v1,")), at, webhooks.ErrNoMatchingSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhooks.Verify([]byte(c.body), c.h, c.now, secret)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestVerifyToleranceIsInclusive(t *testing.T) {
	secret := newSecret(t)
	at := time.Unix(vectorUnix, 0)
	h := headers(t, "evt_4", at, "{}", secret)
	for skew, want := range map[time.Duration]error{
		webhooks.Tolerance:                nil,
		-webhooks.Tolerance:               nil,
		webhooks.Tolerance + time.Second:  webhooks.ErrStaleTimestamp,
		-webhooks.Tolerance - time.Second: webhooks.ErrFutureTimestamp,
	} {
		if err := webhooks.Verify([]byte("{}"), h, at.Add(skew), secret); !errors.Is(err, want) {
			t.Errorf("Verify %v after signing = %v, want %v", skew, err, want)
		}
	}
}

func TestVerifyRefusesUnusableSecrets(t *testing.T) {
	h := headers(t, vectorID, vectorAt, vectorBody, vectorSecret)
	for _, s := range [][]webhooks.Secret{nil, {""}, {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, {"whsec_short"}} {
		if err := webhooks.Verify([]byte(vectorBody), h, vectorAt, s...); !errors.Is(err, webhooks.ErrInvalidSecret) {
			t.Errorf("Verify with %d unusable secret(s) = %v, want ErrInvalidSecret", len(s), err)
		}
	}
}

func TestHeadersRefusesUnsignableDeliveries(t *testing.T) {
	if _, err := webhooks.Headers("", vectorAt, nil, vectorSecret); !errors.Is(err, webhooks.ErrMissingID) {
		t.Errorf("Headers without id = %v, want ErrMissingID", err)
	}
	if _, err := webhooks.Headers("evt_5", vectorAt, nil); !errors.Is(err, webhooks.ErrInvalidSecret) {
		t.Errorf("Headers without secrets = %v, want ErrInvalidSecret", err)
	}
	_, err := webhooks.Headers("evt_5", vectorAt, nil, vectorSecret, "whsec_!!")
	if !errors.Is(err, webhooks.ErrInvalidSecret) || strings.Contains(err.Error(), "whsec_") {
		t.Errorf("Headers with a corrupt secret = %v, want ErrInvalidSecret without the secret", err)
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[webhooks.Secret]bool{}
	for range 100 {
		s := newSecret(t)
		if !s.Valid() {
			t.Fatal("NewSecret returned an invalid secret")
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(s), "whsec_"))
		if err != nil || len(key) != 32 || !strings.HasPrefix(string(s), "whsec_") {
			t.Fatalf("secret of %d bytes (%v), want whsec_ + 32 bytes", len(key), err)
		}
		if seen[s] {
			t.Fatal("NewSecret repeated a secret")
		}
		seen[s] = true
	}
}

func TestSecretValid(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := map[webhooks.Secret]bool{
		vectorSecret:                        true, // 24 bytes
		webhooks.Secret("whsec_" + b64(32)): true,
		webhooks.Secret("whsec_" + b64(64)): true,
		webhooks.Secret("whsec_" + b64(23)): false,
		webhooks.Secret("whsec_" + b64(65)): false,
		webhooks.Secret(b64(32)):            false, // no prefix
		"whsec_":                            false,
		"whsec_not base64!":                 false,
		"":                                  false,
	}
	for s, want := range cases {
		if got := s.Valid(); got != want {
			t.Errorf("Secret(%q).Valid() = %v, want %v", string(s), got, want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	for _, out := range []string{fmt.Sprint(vectorSecret), fmt.Sprintf("%v %s %+v %#v", vectorSecret, vectorSecret, vectorSecret, vectorSecret)} {
		if strings.Contains(out, "MfKQ9r8") {
			t.Errorf("formatted secret leaks: %q", out)
		}
	}
}

// FuzzVerify feeds Verify arbitrary bodies and header values; whatever arrives, it must
// answer with an error or nil, never panic, and never accept what the secret did not sign.
func FuzzVerify(f *testing.F) {
	sig := headers(f, vectorID, vectorAt, vectorBody, vectorSecret).Get("webhook-signature")
	f.Add(vectorBody, vectorID, "1614265330", sig, int64(0))
	f.Add(vectorBody, vectorID, "1614265330", sig+" "+sig, int64(299))
	f.Add("", "", "", "", int64(0))
	f.Add("{}", "evt_1", "-1", "v1,", int64(-1))
	f.Add("{}", "evt_1", "99999999999999999999", "v1", int64(0))
	f.Add("{}", "evt_1", "9223372036854775807", sig, int64(1<<62))
	f.Add("{}", "evt_1", "-9223372036854775808", sig, int64(-1<<62))
	f.Add("{}", "evt.1", "+1614265330", " v1,, ,v1 v2,x,y ", int64(0))
	f.Add("{}", "evt_1", "1614265330 ", "v1,"+strings.Repeat("A", 4096), int64(0))
	f.Add("\x00\xff", "\n", "0x10", "v1a,abc v1,abc=", int64(600))
	f.Fuzz(func(t *testing.T, body, id, ts, sig string, skew int64) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		now := vectorAt.Add(time.Duration(skew) * time.Second)
		err := webhooks.Verify([]byte(body), h, now, vectorSecret)
		if err == nil && (body != vectorBody || h.Get("webhook-id") != vectorID) {
			t.Fatalf("accepted a delivery the secret never signed: id %q body %q", id, body)
		}
	})
}
