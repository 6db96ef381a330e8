package paypay

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
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"payhub/contracts"
)

// Default read timeouts of docs/partners/paypay.md §4 and §7.
const (
	// DefaultValueMovingTimeout bounds calls that may move money (create payment, create QR,
	// refund).
	DefaultValueMovingTimeout = 30 * time.Second
	// DefaultReadTimeout bounds queries, cancels and QR deletes.
	DefaultReadTimeout = 15 * time.Second
)

// maxResponseBytes caps a response body; PayPay's answers are a few kilobytes.
const maxResponseBytes = 1 << 20

// contentTypeJSON is the content type the adapter sends and signs (docs/partners/paypay.md §2.3).
const contentTypeJSON = "application/json"

// Timeouts overrides the per-operation timeouts; a zero field keeps its default.
type Timeouts struct {
	// ValueMoving bounds create payment, create QR and refund (default 30 s).
	ValueMoving time.Duration
	// Read bounds payment queries, cancels and QR deletes (default 15 s).
	Read time.Duration
}

// Config is everything the adapter needs; cmd/payhub fills it from PAYHUB_PAYPAY_*.
type Config struct {
	// Logger receives one line per partner call — operation, HTTP status, the partner's
	// code, duration — with the context's request id; never a credential, barcode or card
	// token. Nil logs nothing.
	Logger *slog.Logger
	// BaseURL is PayPay's API host, e.g. https://apigw.paypay.ne.jp or the simulator's URL.
	BaseURL string
	// APIKey and APISecret are the OPA-Auth credentials. The secret is never logged.
	APIKey, APISecret string
	// MerchantID is sent as X-ASSUME-MERCHANT.
	MerchantID string
	// Now tells the time for the signature epoch and requestedAt (default time.Now).
	Now func() time.Time
	// NewNonce makes a signature nonce (default 8 random hex characters).
	NewNonce func() string
	// HTTPClient is the underlying client (optional); its own Timeout should be zero, since
	// the adapter bounds each operation by its context.
	HTTPClient *http.Client
	// Timeouts overrides the per-operation timeouts.
	Timeouts Timeouts
	// LinkSessionLifetime is how long payhub waits for the customer to approve an account
	// link (LinkSession.ExpiresAt); 0 means DefaultLinkSessionLifetime.
	LinkSessionLifetime time.Duration
	// LinkTokenIssuer is the iss claim a link response token must carry; "" means
	// DefaultLinkTokenIssuer (paypay.ne.jp).
	LinkTokenIssuer string
}

// Adapter speaks PayPay's OPA v2 API. It implements contracts.Partner and is safe for
// concurrent use.
type Adapter struct {
	cfg      Config
	basePath string
	client   *resty.Client
}

var _ contracts.Partner = (*Adapter)(nil)

// New checks cfg and builds an Adapter.
func New(cfg Config) (*Adapter, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"BaseURL", cfg.BaseURL}, {"APIKey", cfg.APIKey}, {"APISecret", cfg.APISecret}, {"MerchantID", cfg.MerchantID},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("paypay: config is missing %s", strings.Join(missing, ", "))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("paypay: BaseURL must be an absolute http(s) URL")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewNonce == nil {
		cfg.NewNonce = randomNonce
	}
	if cfg.Timeouts.ValueMoving <= 0 {
		cfg.Timeouts.ValueMoving = DefaultValueMovingTimeout
	}
	if cfg.Timeouts.Read <= 0 {
		cfg.Timeouts.Read = DefaultReadTimeout
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
	return &Adapter{cfg: cfg, basePath: strings.TrimSuffix(base.Path, "/"), client: client}, nil
}

// Method reports contracts.MethodPayPay.
func (a *Adapter) Method() contracts.Method { return contracts.MethodPayPay }

// randomNonce makes the 8-character nonce PayPay recommends.
func randomNonce() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// silentLogger drops resty's own log lines, which could otherwise echo request details.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}

// reply is one PayPay answer: either a transport problem (err set) or an HTTP status with a
// parsed envelope.
type reply struct {
	status    int
	env       envelope
	requestID string
	err       error
}

// verdict classifies the reply per docs/partners/paypay.md §6.
func (r reply) verdict() verdict {
	if r.err != nil {
		return verdictUnknown
	}
	return classify(r.status, r.env.ResultInfo.Code)
}

// code is PayPay's result code, empty after a transport problem.
func (r reply) code() string { return r.env.ResultInfo.Code }

// call signs and sends one request. path is relative to BaseURL and has no query; body,
// when not nil, is sent as JSON. The operation's timeout bounds the whole exchange.
func (a *Adapter) call(ctx context.Context, timeout time.Duration, method, path string, query url.Values, body any) (r reply) {
	return a.callLogged(ctx, timeout, method, path, path, query, body)
}

// callLogged is call with the path the log line shows (a template such as
// /v2/user/authorizations/{id} when the real path carries an identifier not to be logged).
func (a *Adapter) callLogged(ctx context.Context, timeout time.Duration, method, path, logPath string, query url.Values, body any) (r reply) {
	defer a.logCall(ctx, method+" "+logPath, time.Now(), &r)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return reply{err: fmt.Errorf("encode request: %w", err)}
		}
	}
	req := a.client.R().SetContext(ctx).
		SetHeader("X-ASSUME-MERCHANT", a.cfg.MerchantID).
		SetHeader("Accept", "application/json").
		SetHeader("Authorization", Sign(a.cfg.APIKey, a.cfg.APISecret, method, a.basePath+path,
			a.cfg.NewNonce(), a.cfg.Now().Unix(), contentTypeJSON, payload))
	if payload != nil {
		req.SetHeader("Content-Type", contentTypeJSON).SetBody(payload)
	}
	if len(query) > 0 {
		req.SetQueryParamsFromValues(query)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return reply{err: transportError(err)}
	}
	r = reply{status: resp.StatusCode(), requestID: resp.Header().Get("X-REQUEST-ID")}
	if r.env, err = parseEnvelope(resp.Body()); err != nil {
		r.err = fmt.Errorf("HTTP %d with a body that is not a PayPay envelope", r.status)
	}
	return r
}

// logCall logs one partner call (Config.Logger).
func (a *Adapter) logCall(ctx context.Context, call string, start time.Time, r *reply) {
	if a.cfg.Logger == nil {
		return
	}
	attrs := []any{"partner", "paypay", "call", call, "http_status", r.status, "code", r.code(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
	if r.err != nil {
		attrs = append(attrs, "error", r.err.Error())
	}
	a.cfg.Logger.InfoContext(ctx, "partner call", attrs...)
}

// transportError words a failed exchange without the request URL's details beyond what
// helps support; the URL carries no secret or barcode.
func transportError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer from PayPay before the timeout")
	case errors.Is(err, context.Canceled):
		return errors.New("the call to PayPay was abandoned by the caller")
	default:
		return fmt.Errorf("transport error talking to PayPay: %w", err)
	}
}

// describe explains a reply for FailureMessage/Message, with the request id for PayPay
// support. It removes the secret and any of hide (e.g. a barcode) in case PayPay echoes them.
func (a *Adapter) describe(r reply, hide ...string) string {
	var msg string
	if r.err != nil {
		msg = r.err.Error()
	} else {
		info := r.env.ResultInfo
		msg = fmt.Sprintf("PayPay answered HTTP %d %s", r.status, info.Code)
		if info.CodeID != "" {
			msg += " (codeId " + info.CodeID + ")"
		}
		if info.Message != "" {
			msg += ": " + info.Message
		}
	}
	if r.requestID != "" {
		msg += " [X-REQUEST-ID " + r.requestID + "]"
	}
	return a.redact(msg, hide...)
}

// redact removes the API secret and the given values from a message.
func (a *Adapter) redact(msg string, hide ...string) string {
	for _, s := range append(hide, a.cfg.APISecret) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	return msg
}

// epoch converts PayPay's epoch seconds to a time; 0 means "not yet".
func epoch(sec int64) *time.Time {
	if sec <= 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}
