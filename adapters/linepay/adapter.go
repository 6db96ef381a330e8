package linepay

import (
	"context"
	"crypto/rand"
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

// Default per-operation read timeouts (docs/partners/linepay.md §4, §5, §5.1); each is at least LINE's
// documented minimum.
const (
	// DefaultPayTimeout bounds the Offline v4 pay (§5.1: a 45 s read timeout).
	DefaultPayTimeout = 45 * time.Second
	// DefaultRequestTimeout bounds the Online v3 request (≥ 10 s).
	DefaultRequestTimeout = 20 * time.Second
	// DefaultConfirmTimeout bounds the Online v3 confirm (≥ 40 s).
	DefaultConfirmTimeout = 40 * time.Second
	// DefaultCaptureTimeout bounds captures (online ≥ 60 s, offline ≥ 20 s).
	DefaultCaptureTimeout = 60 * time.Second
	// DefaultVoidTimeout bounds voids (≥ 20 s).
	DefaultVoidTimeout = 20 * time.Second
	// DefaultRefundTimeout bounds refunds (≥ 20 s).
	DefaultRefundTimeout = 20 * time.Second
	// DefaultReadTimeout bounds check and details queries (≥ 20 s).
	DefaultReadTimeout = 20 * time.Second
)

// Defaults for the optional Config fields.
const (
	// DefaultDeviceType is sent as X-LINE-MerchantDeviceType.
	DefaultDeviceType = "POS"
	// DefaultConfirmURL and DefaultCancelURL fill redirectUrls of an Online v3 request,
	// which LINE requires even with confirmUrlType NONE (the customer never lands there).
	DefaultConfirmURL = "https://payhub.invalid/linepay/confirm"
	// DefaultCancelURL: see DefaultConfirmURL.
	DefaultCancelURL = "https://payhub.invalid/linepay/cancel"
	// DefaultProductName names the single product line of a payment without a Description.
	DefaultProductName = "Purchase"
)

// maxResponseBytes caps a response body; LINE's answers are a few kilobytes (a details
// answer with 100 rows stays far below).
const maxResponseBytes = 1 << 20

// contentTypeJSON is the content type of every request with a body (§2).
const contentTypeJSON = "application/json"

// orderIDPattern is payhub's orderId rule (§7.3): LINE allows 100 characters; payhub's
// charset keeps the path segment of Offline calls free of percent-encoding, so the path
// signed is the path sent (§3.1).
var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// Timeouts overrides the per-operation timeouts; a zero field keeps its default.
type Timeouts struct {
	// Pay bounds the Offline v4 oneTimeKey pay (default 45 s).
	Pay time.Duration
	// Request bounds the Online v3 payment request (default 20 s).
	Request time.Duration
	// Confirm bounds the Online v3 confirm (default 40 s).
	Confirm time.Duration
	// Capture bounds captures (default 60 s).
	Capture time.Duration
	// Void bounds voids (default 20 s).
	Void time.Duration
	// Refund bounds refunds (default 20 s).
	Refund time.Duration
	// Read bounds check and details queries (default 20 s).
	Read time.Duration
}

// UniformTimeouts bounds every operation by d (the crash harness's short partner timeout).
func UniformTimeouts(d time.Duration) Timeouts {
	return Timeouts{Pay: d, Request: d, Confirm: d, Capture: d, Void: d, Refund: d, Read: d}
}

// Config is everything the adapter needs; cmd/payhub fills it (the adapter reads no
// environment).
type Config struct {
	// Logger receives one line per partner call — operation, HTTP status, the partner's
	// code, duration — with the context's request id; never a credential, barcode or card
	// token. Nil logs nothing.
	Logger *slog.Logger
	// BaseURL is LINE Pay's API host, e.g. https://api-pay.line.me,
	// https://sandbox-api-pay.line.me or the simulator's URL. Only the path from the version
	// prefix on is signed, so any host works.
	BaseURL string
	// ChannelID is sent as X-LINE-ChannelId.
	ChannelID string
	// ChannelSecret is the HMAC key (§3.1). It is never logged or put into a message.
	ChannelSecret string
	// Currency is the channel's one currency: contracts.TWD or contracts.THB.
	Currency contracts.Currency
	// DeviceType is sent as X-LINE-MerchantDeviceType with payments (default "POS").
	DeviceType string
	// ConfirmURL and CancelURL fill the Online v3 request's redirectUrls (defaults
	// DefaultConfirmURL, DefaultCancelURL). payhub polls check instead (confirmUrlType NONE).
	ConfirmURL, CancelURL string
	// ProductName names the payment's single product line when the request has no
	// Description (default DefaultProductName).
	ProductName string
	// Now tells the time, for the QR code's expiry (default time.Now).
	Now func() time.Time
	// NewNonce makes the X-LINE-Authorization-Nonce of one HTTP attempt (default: a random
	// UUID v4 from crypto/rand). Tests may replace it; it must never repeat.
	NewNonce func() string
	// HTTPClient is the underlying client (optional); its own Timeout should be zero, since
	// the adapter bounds each operation by its context.
	HTTPClient *http.Client
	// Timeouts overrides the per-operation timeouts.
	Timeouts Timeouts
	// LateLandingWindow is how long after a payment's creation an in-store pay LINE Pay
	// does not know of may still land (default DefaultLateLandingWindow). Past it, "no such
	// order" is final and CancelPayment closes the payment; before, it answers unknown and
	// the resolver asks again. Tests against the simulator, which lands nothing late,
	// shorten it.
	LateLandingWindow time.Duration
}

// DefaultLateLandingWindow: the customer's My Code lives 5 minutes (§7.4) and payhub's pay
// waits 45 s (§5.1); a pay LINE has not recorded by then will never be.
const DefaultLateLandingWindow = 5*time.Minute + 45*time.Second

// Adapter speaks LINE Pay's Online v3 and Offline v4 APIs. It implements contracts.Partner
// and is safe for concurrent use.
type Adapter struct {
	cfg    Config
	client *resty.Client
}

var _ contracts.Partner = (*Adapter)(nil)

// New checks cfg and builds an Adapter.
func New(cfg Config) (*Adapter, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"BaseURL", cfg.BaseURL}, {"ChannelID", cfg.ChannelID}, {"ChannelSecret", cfg.ChannelSecret},
		{"Currency", string(cfg.Currency)},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("linepay: config is missing %s", strings.Join(missing, ", "))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" {
		return nil, errors.New("linepay: BaseURL must be an absolute http(s) URL without a query")
	}
	if !isDigits(cfg.ChannelID) {
		return nil, errors.New("linepay: ChannelID must be digits")
	}
	if cfg.Currency != contracts.TWD && cfg.Currency != contracts.THB {
		return nil, fmt.Errorf("linepay: Currency must be TWD or THB, not %q", cfg.Currency)
	}
	for _, u := range []struct{ name, value string }{{"ConfirmURL", cfg.ConfirmURL}, {"CancelURL", cfg.CancelURL}} {
		if u.value == "" {
			continue
		}
		if p, err := url.Parse(u.value); err != nil || p.Scheme == "" || p.Host == "" {
			return nil, fmt.Errorf("linepay: %s must be an absolute URL", u.name)
		}
	}
	if cfg.DeviceType == "" {
		cfg.DeviceType = DefaultDeviceType
	}
	if cfg.ConfirmURL == "" {
		cfg.ConfirmURL = DefaultConfirmURL
	}
	if cfg.CancelURL == "" {
		cfg.CancelURL = DefaultCancelURL
	}
	if cfg.ProductName == "" {
		cfg.ProductName = DefaultProductName
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
		{&t.Pay, DefaultPayTimeout}, {&t.Request, DefaultRequestTimeout}, {&t.Confirm, DefaultConfirmTimeout},
		{&t.Capture, DefaultCaptureTimeout}, {&t.Void, DefaultVoidTimeout}, {&t.Refund, DefaultRefundTimeout},
		{&t.Read, DefaultReadTimeout},
	} {
		if *d.field <= 0 {
			*d.field = d.def
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	client := resty.NewWithClient(hc).
		SetBaseURL(strings.TrimSuffix(cfg.BaseURL, "/")).
		SetResponseBodyLimit(maxResponseBytes).
		SetLogger(silentLogger{}).
		SetDisableWarn(true)
	return &Adapter{cfg: cfg, client: client}, nil
}

// Method reports contracts.MethodLinePay.
func (a *Adapter) Method() contracts.Method { return contracts.MethodLinePay }

// NewNonce returns a fresh random UUID v4 (crypto/rand), the nonce payhub sends with each
// HTTP attempt (§3.1).
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// silentLogger drops resty's own log lines, which could otherwise echo request details.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}

// device is the optional device header pair (§3.1), sent with payments.
type device struct {
	profileID string
}

// deviceOf names the till of a payment request: "store/terminal", or whichever is known.
func deviceOf(storeID, terminalID string) *device {
	var parts []string
	for _, s := range []string{storeID, terminalID} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return &device{profileID: truncate(strings.Join(parts, "/"), 100)}
}

// reply is one LINE Pay answer: either a transport problem (err set) or an HTTP status
// with a parsed envelope.
type reply struct {
	status int
	env    envelope
	err    error
}

// verdict classifies the reply per §2 and §6.1: anything but HTTP 200 with a readable
// envelope is unknown.
func (r reply) verdict() verdict {
	if r.err != nil || r.status != http.StatusOK {
		return verdictUnknown
	}
	return classify(r.env.ReturnCode)
}

// ok reports a readable HTTP 200 answer: its returnCode is LINE's word.
func (r reply) ok() bool { return r.err == nil && r.status == http.StatusOK }

// code is LINE's returnCode, empty after a transport problem or a non-200.
func (r reply) code() string {
	if !r.ok() {
		return ""
	}
	return r.env.ReturnCode
}

// call signs and sends one request (§3.1). path starts at the version prefix and is sent
// verbatim; rawQuery (GET) is sent and signed as is; body, when not nil, is marshalled once
// and those exact bytes are signed and sent. The operation's timeout bounds the exchange.
func (a *Adapter) call(ctx context.Context, timeout time.Duration, method, path, rawQuery string, body any, dev *device) (r reply) {
	defer a.logCall(ctx, method+" "+path, time.Now(), &r)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return reply{err: fmt.Errorf("encode request: %w", err)}
		}
	}
	signed := string(payload)
	target := path
	if method == http.MethodGet {
		signed = rawQuery
		if rawQuery != "" {
			target += "?" + rawQuery
		}
	}
	nonce := a.cfg.NewNonce()
	req := a.client.R().SetContext(ctx).
		SetHeader("Accept", contentTypeJSON).
		SetHeader(headerChannelID, a.cfg.ChannelID).
		SetHeader(headerNonce, nonce).
		SetHeader(headerSignature, Sign(a.cfg.ChannelSecret, path, signed, nonce))
	if dev != nil {
		req.SetHeader(headerDeviceProfileID, dev.profileID).SetHeader(headerDeviceType, a.cfg.DeviceType)
	}
	if payload != nil {
		req.SetHeader("Content-Type", contentTypeJSON).SetBody(payload)
	}
	resp, err := req.Execute(method, target)
	if err != nil {
		return reply{err: transportError(err)}
	}
	r = reply{status: resp.StatusCode()}
	if r.status != http.StatusOK {
		r.err = fmt.Errorf("LINE Pay answered HTTP %d", r.status)
		return r
	}
	if r.env, err = parseEnvelope(resp.Body()); err != nil {
		r.err = errors.New("LINE Pay answered HTTP 200 with a body that is not a LINE Pay envelope")
	}
	return r
}

// logCall logs one partner call (Config.Logger).
func (a *Adapter) logCall(ctx context.Context, call string, start time.Time, r *reply) {
	if a.cfg.Logger == nil {
		return
	}
	attrs := []any{"partner", "linepay", "call", call, "http_status", r.status, "code", r.code(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
	if r.err != nil {
		attrs = append(attrs, "error", r.err.Error())
	}
	a.cfg.Logger.InfoContext(ctx, "partner call", attrs...)
}

// transportError words a failed exchange. The URL carries neither secret nor oneTimeKey.
func transportError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer from LINE Pay before the timeout")
	case errors.Is(err, context.Canceled):
		return errors.New("the call to LINE Pay was abandoned by the caller")
	default:
		return fmt.Errorf("transport error talking to LINE Pay: %w", err)
	}
}

// describe explains a reply for FailureMessage/Message. It masks the secret and any of hide
// (a oneTimeKey) in case LINE echoes them, and flags configuration alarms.
func (a *Adapter) describe(r reply, hide ...string) string {
	var msg string
	switch {
	case r.err != nil:
		msg = r.err.Error()
	default:
		msg = "LINE Pay answered returnCode " + r.env.ReturnCode
		if r.env.ReturnMessage != "" {
			msg += ": " + r.env.ReturnMessage
		}
		if classify(r.env.ReturnCode) == verdictConfig {
			msg = "configuration alarm (channel, credentials, server IP allowlist or a payhub bug; nothing was done): " + msg
		}
	}
	return a.redact(msg, hide...)
}

// redact masks the channel secret and the given values (oneTimeKeys) in a message, and
// bounds its length.
func (a *Adapter) redact(msg string, hide ...string) string {
	if a.cfg.ChannelSecret != "" {
		msg = strings.ReplaceAll(msg, a.cfg.ChannelSecret, "[redacted]")
	}
	for _, s := range hide {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, MaskKey(s))
		}
	}
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	return msg
}

// MaskKey hides a oneTimeKey for logs and messages: all but its last 4 digits become '*'.
// Keys of 8 characters or fewer are masked entirely.
func MaskKey(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	return strings.Repeat("*", len(key)-4) + key[len(key)-4:]
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// isDigits reports whether s is non-empty ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTime reads LINE's ISO 8601 dates ("2021-12-16T06:05:40Z"); nil when absent or odd.
func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
