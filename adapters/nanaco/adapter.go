package nanaco

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"payhub/contracts"
)

// BasePath is NCS v1's base path (docs/partners/nanaco.md §B1); every call is a POST below it.
const BasePath = "/ncs/v1"

// Default per-operation timeouts. NCS names none (docs/partners/nanaco.md §B1); these are
// payhub's choice for a customer waiting at the till. A timeout is an unknown outcome
// (§B6): the resolver sends the identical request again or asks the inquiry.
const (
	// DefaultPayTimeout bounds /payments.
	DefaultPayTimeout = 15 * time.Second
	// DefaultCancelTimeout bounds /payments/cancel, /charges/cancel and /transfers/cancel.
	DefaultCancelTimeout = 15 * time.Second
	// DefaultRefundTimeout bounds /refunds.
	DefaultRefundTimeout = 20 * time.Second
	// DefaultValueTimeout bounds /charges and /transfers.
	DefaultValueTimeout = 20 * time.Second
	// DefaultReadTimeout bounds /transactions/inquiry and /cards/inquiry.
	DefaultReadTimeout = 10 * time.Second
)

// maxResponseBytes caps a response body; NCS answers are a few hundred bytes.
const maxResponseBytes = 1 << 20

// contentTypeJSON is the content type of every request (§B1).
const contentTypeJSON = "application/json"

// merchantIDPattern keeps the merchant id header-safe.
var merchantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Timeouts overrides the per-operation timeouts; a zero field keeps its default.
type Timeouts struct {
	// Pay bounds /payments (default 15 s).
	Pay time.Duration
	// Cancel bounds the same-day cancels (default 15 s).
	Cancel time.Duration
	// Refund bounds /refunds (default 20 s).
	Refund time.Duration
	// Value bounds top-ups and transfers (default 20 s).
	Value time.Duration
	// Read bounds the inquiries (default 10 s).
	Read time.Duration
}

// UniformTimeouts bounds every operation by d (the crash harness's short partner timeout).
func UniformTimeouts(d time.Duration) Timeouts {
	return Timeouts{Pay: d, Cancel: d, Refund: d, Value: d, Read: d}
}

// Config is everything the adapter needs; cmd/payhub fills it (the adapter reads no
// environment; suggested names in docs/partners/nanaco.md §B1).
type Config struct {
	// BaseURL is the NCS origin, e.g. the simulator's http://127.0.0.1:7104. The adapter
	// adds BasePath and the operation ("/ncs/v1/payments") and signs that whole path; a
	// path in BaseURL (a gateway prefix) is kept in front of it and signed too.
	BaseURL string
	// MerchantID is sent as NCS-Merchant-Id.
	MerchantID string
	// Secret is the HMAC key (§B2). It is never logged or put into a message.
	Secret string
	// HTTPClient is the underlying client (optional; production puts the mTLS client
	// certificate of §B1 in its transport). Its own Timeout should be zero: the adapter
	// bounds each operation by its context.
	HTTPClient *http.Client
	// Now tells the time for NCS-Timestamp (default time.Now); the centre allows ±300 s.
	Now func() time.Time
	// NewNonce makes the NCS-Nonce of one HTTP request (default NewNonce: 32 random hex
	// characters). Tests may replace it; it must never repeat within 10 minutes.
	NewNonce func() string
	// Logger receives one line per partner call: operation, terminal, business date,
	// sequence, HTTP status, NCS code, latency. Never a full nanaco number (the last 4
	// digits only), an IDm, the secret or a signature. Nil logs nothing.
	Logger *slog.Logger
	// Timeouts overrides the per-operation timeouts.
	Timeouts Timeouts
}

// Adapter speaks NCS v1 (docs/partners/nanaco.md Part B). It implements contracts.Partner
// and is safe for concurrent use.
type Adapter struct {
	cfg    Config
	client *resty.Client
	// prefix is BaseURL's path (usually empty) in front of BasePath.
	prefix string
}

var _ contracts.Partner = (*Adapter)(nil)

// New checks cfg and builds an Adapter.
func New(cfg Config) (*Adapter, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"BaseURL", cfg.BaseURL}, {"MerchantID", cfg.MerchantID}, {"Secret", cfg.Secret},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("nanaco: config is missing %s", strings.Join(missing, ", "))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("nanaco: BaseURL must be an absolute http(s) URL without a query")
	}
	if !merchantIDPattern.MatchString(cfg.MerchantID) {
		return nil, errors.New("nanaco: MerchantID must be 1-64 characters of [A-Za-z0-9_-]")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewNonce == nil {
		cfg.NewNonce = NewNonce
	}
	t := &cfg.Timeouts
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{
		{&t.Pay, DefaultPayTimeout}, {&t.Cancel, DefaultCancelTimeout}, {&t.Refund, DefaultRefundTimeout},
		{&t.Value, DefaultValueTimeout}, {&t.Read, DefaultReadTimeout},
	} {
		if *d.field <= 0 {
			*d.field = d.def
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	origin := base.Scheme + "://" + base.Host
	client := resty.NewWithClient(hc).
		SetBaseURL(origin).
		SetResponseBodyLimit(maxResponseBytes).
		SetLogger(silentLogger{}).
		SetDisableWarn(true)
	return &Adapter{cfg: cfg, client: client, prefix: strings.TrimSuffix(base.EscapedPath(), "/")}, nil
}

// Method reports contracts.MethodNanaco.
func (a *Adapter) Method() contracts.Method { return contracts.MethodNanaco }

// NewNonce returns 32 random hex characters (crypto/rand): an NCS-Nonce (§B2 wants 16–64
// of [A-Za-z0-9-], unique per merchant within 10 minutes).
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// silentLogger drops resty's own log lines, which could otherwise echo request details.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}

// call is one NCS request before it is sent.
type call struct {
	// op names the operation in logs ("pay", "payment_cancel", ...).
	op string
	// path is the operation's path below BasePath ("/payments").
	path string
	// terminal is sent as NCS-Terminal-Id.
	terminal string
	// key is the request's idempotency key, for value-moving calls (logs only).
	key *contracts.SequenceRef
	// card is what the call is about, for masking in messages and the last 4 in logs.
	card contracts.PresentedCard
	// timeout bounds the exchange.
	timeout time.Duration
	// body is marshalled once; those exact bytes are signed and sent.
	body any
}

// reply is one NCS answer: a transport or trust problem (err: an unknown outcome, §B6),
// or a verified HTTP status with its body.
type reply struct {
	status int
	// body is the verified response body.
	body []byte
	// replayed is NCS-Replayed: true (§B3).
	replayed bool
	// ncs is the verified error body of a non-200 answer.
	ncs ncsError
	// err makes the reply an unknown outcome: no answer, an unverified or unreadable one.
	err error
	// unverified marks a reply whose signature did not verify (or was missing).
	unverified bool
}

// ok reports a verified HTTP 200.
func (r reply) ok() bool { return r.err == nil && r.status == http.StatusOK }

// definite reports a verified refusal with outcome NOT_PROCESSED (§B7): nothing happened.
// 500, 502 and 504 are unknown whatever their body says (§B6).
func (r reply) definite() bool {
	if r.err != nil || r.status == http.StatusOK || r.ncs.Outcome != outcomeNotProcessed {
		return false
	}
	return (r.status >= 400 && r.status < 500) || r.status == http.StatusServiceUnavailable
}

// code is the NCS error code of a verified refusal, else "".
func (r reply) code() string {
	if r.err != nil {
		return ""
	}
	return r.ncs.Code
}

// send signs and sends one request (§B2) and verifies the answer's signature. The body is
// built by the caller from the request alone, so a retry sends identical bytes under the
// same key (§B3); the nonce and timestamp are fresh per HTTP request.
func (a *Adapter) send(ctx context.Context, c call) (r reply) {
	start := time.Now()
	defer func() { a.logCall(ctx, c, start, &r) }()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	payload, err := json.Marshal(c.body)
	if err != nil {
		return reply{err: fmt.Errorf("encode request: %w", err)}
	}
	path := a.prefix + BasePath + c.path
	ts := a.cfg.Now().In(contracts.JST).Format(time.RFC3339)
	nonce := a.cfg.NewNonce()
	resp, err := a.client.R().SetContext(ctx).
		SetHeader("Content-Type", contentTypeJSON).
		SetHeader("Accept", contentTypeJSON).
		SetHeader(headerMerchantID, a.cfg.MerchantID).
		SetHeader(headerTerminalID, c.terminal).
		SetHeader(headerTimestamp, ts).
		SetHeader(headerNonce, nonce).
		SetHeader(headerSignature, SignRequest(a.cfg.Secret, http.MethodPost, path, a.cfg.MerchantID, c.terminal, ts, nonce, payload)).
		SetBody(payload).
		Post(path)
	if err != nil {
		r = reply{err: transportError(err)}
		if resp != nil && resp.RawResponse != nil {
			r.status = resp.StatusCode()
		}
		return r
	}
	r = reply{status: resp.StatusCode()}
	body := resp.Body()
	h := resp.Header()
	if !VerifyResponse(a.cfg.Secret, r.status, path, h.Get(headerTimestamp), nonce, body, h.Get(headerSignature)) {
		r.unverified = true
		r.err = fmt.Errorf("NCS answered HTTP %d with a missing or invalid response signature: not trusted", r.status)
		if r.status == http.StatusUnauthorized {
			r.err = fmt.Errorf("%w (HTTP 401: check the merchant id, terminal id and secret)", r.err)
		}
		return r
	}
	r.replayed = h.Get(headerReplayed) == "true"
	if r.status == http.StatusOK {
		r.body = body
		return r
	}
	if r.ncs, err = parseError(body); err != nil {
		r.err = fmt.Errorf("NCS answered HTTP %d with an unreadable error body", r.status)
	}
	return r
}

// logCall logs one partner call (Config.Logger). Configuration alarms (authentication,
// signature, unknown terminal, a request NCS finds malformed) are logged as errors.
func (a *Adapter) logCall(ctx context.Context, c call, start time.Time, r *reply) {
	if a.cfg.Logger == nil {
		return
	}
	attrs := []any{"partner", "nanaco", "op", c.op, "terminal", c.terminal}
	if c.key != nil {
		attrs = append(attrs, "business_date", c.key.BusinessDate, "seq", c.key.Seq)
	}
	if last4 := lastFour(c.card.Number); last4 != "" {
		attrs = append(attrs, "card_last4", last4)
	}
	attrs = append(attrs, "http_status", r.status, "code", r.code(), "replayed", r.replayed,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	if r.err != nil {
		attrs = append(attrs, "error", a.redact(r.err.Error(), c.card))
	}
	level := slog.LevelInfo
	switch {
	case configCodes[r.code()] || (r.unverified && r.status == http.StatusUnauthorized):
		level = slog.LevelError
		attrs = append(attrs, "alarm", "partner_config: check the merchant id, terminal registration, secret and clock")
	case r.unverified:
		level = slog.LevelWarn
	}
	a.cfg.Logger.Log(ctx, level, "partner call", attrs...)
}

// transportError words a failed exchange. The URL carries no secret and no card.
func transportError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer from NCS before the timeout")
	case errors.Is(err, context.Canceled):
		return errors.New("the call to NCS was abandoned by the caller")
	default:
		return fmt.Errorf("transport error talking to NCS (no readable answer): %w", err)
	}
}

// describe explains a reply for a result message, masking the card and the secret.
func (a *Adapter) describe(r reply, card contracts.PresentedCard) string {
	var msg string
	switch {
	case r.err != nil:
		msg = r.err.Error()
	default:
		msg = fmt.Sprintf("NCS answered HTTP %d %s", r.status, r.ncs.Code)
		if r.ncs.Message != "" {
			msg += ": " + r.ncs.Message
		}
		if configCodes[r.ncs.Code] {
			msg = "configuration alarm (merchant id, terminal registration, secret, clock or a payhub bug; nothing was done): " + msg
		}
	}
	return a.redact(msg, card)
}

// redact masks the secret, the card's number and IDm in a message and bounds its length.
func (a *Adapter) redact(msg string, card contracts.PresentedCard) string {
	if a.cfg.Secret != "" {
		msg = strings.ReplaceAll(msg, a.cfg.Secret, "[redacted]")
	}
	if card.Number != "" {
		msg = strings.ReplaceAll(msg, card.Number, MaskNumber(card.Number))
	}
	if card.IDm != "" {
		msg = strings.ReplaceAll(msg, card.IDm, "[idm]")
		msg = strings.ReplaceAll(msg, strings.ToUpper(card.IDm), "[idm]")
		msg = strings.ReplaceAll(msg, strings.ToLower(card.IDm), "[idm]")
	}
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	return msg
}

// MaskNumber hides a nanaco number for logs and messages: all but its last 4 digits become
// '*'. Numbers of 8 characters or fewer are masked entirely.
func MaskNumber(n string) string {
	if len(n) <= 8 {
		return strings.Repeat("*", len(n))
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}

// lastFour is the last 4 characters of a number long enough to keep them, else "".
func lastFour(n string) string {
	if len(n) <= 8 {
		return ""
	}
	return n[len(n)-4:]
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// parseTime reads an NCS time (RFC 3339, §B1); nil when absent or odd.
func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}
