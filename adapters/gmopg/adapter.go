package gmopg

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"golang.org/x/text/encoding/japanese"

	"payhub/contracts"
)

// Default per-call read timeouts.
const (
	// DefaultEntryTimeout bounds EntryTran.
	DefaultEntryTimeout = 20 * time.Second
	// DefaultExecTimeout bounds ExecTran and SecureTran2 (issuer round trips).
	DefaultExecTimeout = 60 * time.Second
	// DefaultAlterTimeout bounds AlterTran and ChangeTran.
	DefaultAlterTimeout = 60 * time.Second
	// DefaultReadTimeout bounds SearchTrade.
	DefaultReadTimeout = 20 * time.Second
)

// retryBackoff is the pause before the single resend of a request GMO refused as not
// processed (E92 rate limit, E82 concurrent run).
var retryBackoff = 300 * time.Millisecond

// maxResponseBytes caps a response body; GMO's answers are a few hundred bytes.
const maxResponseBytes = 64 << 10

// Header values of every request (§1: Accept and Content-Type are checked).
const (
	contentTypeForm = "application/x-www-form-urlencoded"
	acceptText      = "text/plain, */*"
)

// Timeouts overrides the per-call timeouts; a zero field keeps its default.
type Timeouts struct {
	// Entry bounds EntryTran (default 20 s).
	Entry time.Duration
	// Exec bounds ExecTran and SecureTran2 (default 60 s).
	Exec time.Duration
	// Alter bounds AlterTran and ChangeTran (default 60 s).
	Alter time.Duration
	// Read bounds SearchTrade (default 20 s).
	Read time.Duration
}

// UniformTimeouts bounds every call by d.
func UniformTimeouts(d time.Duration) Timeouts {
	return Timeouts{Entry: d, Exec: d, Alter: d, Read: d}
}

// Config is everything the adapter needs; cmd/payhub fills it (the adapter reads no
// environment).
type Config struct {
	// Logger receives one line per partner call — operation, HTTP status, the partner's
	// code, duration — with the context's request id; never a credential, barcode or card
	// token. Nil logs nothing.
	Logger *slog.Logger
	// BaseURL is GMO's host, e.g. https://pt01.mul-pay.jp or the simulator's URL; calls go
	// to BaseURL + /payment/<Name>.idPass.
	BaseURL string
	// ShopID is the shop's id (at most 13 characters).
	ShopID string
	// ShopPass is the shop's password (at most 10 characters). Never logged or put into a
	// message.
	ShopPass string
	// TdTenantName is the store name shown on the 3-D Secure page (optional, at most 25
	// bytes once encoded by GMO's rule; sent as given).
	TdTenantName string
	// AllowWithout3DS is the explicit exemption of docs/partners/gmopg.md §4: a card whose issuer
	// has no 3-D Secure 2 is authorised plainly (Tds2Type 3) instead of refused (Tds2Type 2,
	// the default).
	AllowWithout3DS bool
	// Now tells the time, for the VOID / RETURN / RETURNX choice (default time.Now).
	Now func() time.Time
	// HTTPClient is the underlying client (optional); its own Timeout should be zero,
	// since the adapter bounds each call by its context.
	HTTPClient *http.Client
	// Timeouts overrides the per-call timeouts.
	Timeouts Timeouts
}

// Adapter speaks GMO-PG's protocol-type card API. It implements contracts.Partner and
// contracts.ReturnHandler and is safe for concurrent use.
type Adapter struct {
	cfg    Config
	client *resty.Client
}

var (
	_ contracts.Partner       = (*Adapter)(nil)
	_ contracts.ReturnHandler = (*Adapter)(nil)
)

// shopIDPattern is what a ShopID looks like (tshop00012345 and the like).
var shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,13}$`)

// New checks cfg and builds an Adapter.
func New(cfg Config) (*Adapter, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"BaseURL", cfg.BaseURL}, {"ShopID", cfg.ShopID}, {"ShopPass", cfg.ShopPass},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("card: config is missing %s", strings.Join(missing, ", "))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" {
		return nil, errors.New("card: BaseURL must be an absolute http(s) URL without a query")
	}
	if !shopIDPattern.MatchString(cfg.ShopID) {
		return nil, errors.New("card: ShopID must be 1-13 characters of [A-Za-z0-9_-]")
	}
	if len(cfg.ShopPass) > 10 || strings.ContainsAny(cfg.ShopPass, "&=\r\n") {
		return nil, errors.New("card: ShopPass must be at most 10 characters") // never echo it
	}
	if _, err := tenantName(cfg.TdTenantName); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &cfg.Timeouts
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{{&t.Entry, DefaultEntryTimeout}, {&t.Exec, DefaultExecTimeout}, {&t.Alter, DefaultAlterTimeout}, {&t.Read, DefaultReadTimeout}} {
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

// Method reports contracts.MethodCard.
func (a *Adapter) Method() contracts.Method { return contracts.MethodCard }

// silentLogger drops resty's own log lines, which could otherwise echo request details.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}

// reply is one GMO answer: a transport or reading problem (err), or a parsed response.
type reply struct {
	resp response
	err  error
}

// ok reports a readable answer without errors.
func (r reply) ok() bool { return r.err == nil && len(r.resp.Errors) == 0 }

// class classifies a failed reply; transport problems are unknown.
func (r reply) class() class {
	if r.err != nil {
		return classUnknown
	}
	return classifyAll(r.resp.Errors)
}

// code is the reply's PartnerCode.
func (r reply) code() string { return codeOf(r.resp.Errors) }

// call posts one request to /payment/<name>.idPass and parses the answer.
func (a *Adapter) call(ctx context.Context, timeout time.Duration, name string, params []param) (r reply) {
	defer a.logCall(ctx, name, time.Now(), &r)
	body, err := encodeForm(params)
	if err != nil {
		return reply{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := a.client.R().SetContext(ctx).
		SetHeader("Content-Type", contentTypeForm).
		SetHeader("Accept", acceptText).
		SetBody(body).
		Post("/payment/" + name + ".idPass")
	if err != nil {
		return reply{err: transportError(err)}
	}
	if resp.StatusCode() != http.StatusOK {
		return reply{err: fmt.Errorf("GMO answered HTTP %d", resp.StatusCode())}
	}
	text, err := decodeBody(resp.Body())
	if err != nil {
		return reply{err: errors.New("GMO answered with an unreadable body")}
	}
	parsed := parseResponse(text, responseKeys[name])
	if len(parsed.Fields) == 0 {
		return reply{err: errors.New("GMO answered with a body that is not a GMO response")}
	}
	return reply{resp: parsed}
}

// callRetry is call with one resend after a pause when GMO says the request was not
// processed (E92 rate limit, E82 concurrent run; §5 "retryable"). Same parameters, so the
// same OrderID / AccessID.
func (a *Adapter) callRetry(ctx context.Context, timeout time.Duration, name string, params []param) reply {
	r := a.call(ctx, timeout, name, params)
	if r.ok() || r.class() != classRetryable {
		return r
	}
	select {
	case <-ctx.Done():
		return r
	case <-time.After(retryBackoff):
	}
	return a.call(ctx, timeout, name, params)
}

// logCall logs one partner call (Config.Logger).
func (a *Adapter) logCall(ctx context.Context, call string, start time.Time, r *reply) {
	if a.cfg.Logger == nil {
		return
	}
	attrs := []any{"partner", "gmopg", "call", call, "code", r.code(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
	if r.err != nil {
		attrs = append(attrs, "error", r.err.Error())
	}
	a.cfg.Logger.InfoContext(ctx, "partner call", attrs...)
}

// transportError words a failed exchange.
func transportError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer from GMO before the timeout")
	case errors.Is(err, context.Canceled):
		return errors.New("the call to GMO was abandoned by the caller")
	default:
		return errors.New("transport error talking to GMO")
	}
}

// describe explains a reply for messages; never a secret (the body is not echoed).
func (a *Adapter) describe(name string, r reply) string {
	if r.err != nil {
		return name + ": " + r.err.Error()
	}
	var parts []string
	for _, e := range r.resp.Errors {
		parts = append(parts, truncate(e.String(), 16))
	}
	msg := name + " answered " + truncate(strings.Join(parts, ", "), 200)
	if r.class() == classConfig {
		msg = "configuration alarm (shop credentials, contract or a payhub bug; nothing was done): " + msg
	}
	return a.redact(msg)
}

// redact masks the shop password in a message and bounds its length.
func (a *Adapter) redact(msg string) string {
	if a.cfg.ShopPass != "" {
		msg = strings.ReplaceAll(msg, a.cfg.ShopPass, "[redacted]")
	}
	return truncate(msg, 500)
}

// shop is the ShopID/ShopPass pair sent with most calls.
func (a *Adapter) shop() []param {
	return []param{{"ShopID", a.cfg.ShopID}, {"ShopPass", a.cfg.ShopPass}}
}

// secret is the decoded PartnerSecret: GMO's AccessID/AccessPass, the JobCd of the
// EntryTran, and for a captured authorization the captured amount.
type secret struct {
	AccessID, AccessPass string
	JobCd                string
	Captured             int64 // 0: not known
}

// accessPattern is what AccessID and AccessPass look like (32 hex; any alphanumerics are
// accepted, as GMO's format is not a contract).
var accessPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// encode renders the PartnerSecret: "AccessID:AccessPass:JobCd[:captured]".
func (s secret) encode() string {
	if s.AccessID == "" || s.AccessPass == "" {
		return ""
	}
	out := s.AccessID + ":" + s.AccessPass + ":" + s.JobCd
	if s.Captured > 0 {
		out += ":" + strconv.FormatInt(s.Captured, 10)
	}
	return out
}

// parseSecret reads a PartnerSecret; ok is false for "" or anything malformed.
func parseSecret(v string) (secret, bool) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 4 || !accessPattern.MatchString(parts[0]) || !accessPattern.MatchString(parts[1]) {
		return secret{}, false
	}
	s := secret{AccessID: parts[0], AccessPass: parts[1]}
	if len(parts) >= 3 {
		s.JobCd = parts[2]
	}
	if len(parts) == 4 {
		n, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || n < 0 {
			return secret{}, false
		}
		s.Captured = n
	}
	return s, true
}

// sameAccessID compares two AccessIDs in constant time.
func sameAccessID(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// OrderID maps payhub's partner-facing payment id to GMO's OrderID (≤ 27 characters of
// [A-Za-z0-9-], §1, §6). payhub's PartnerRef is "pay_" + 26-character ULID + "_" + attempt
// (internal/hub partnerRef); the OrderID is the ULID followed by the attempt as one
// base-62 digit (0-9, A-Z, a-z): attempts 1 to 61, 27 characters. The ULID has a fixed
// length and the digit is unique per attempt, so the map is injective on payhub ids.
// Any other PartnerRef that already is 1-27 characters of [A-Za-z0-9-] and does not have
// the shape of a mapped id (27 characters starting with a ULID) is used as it is (tests,
// operator tools). Everything else is an error.
func OrderID(partnerRef string) (string, error) {
	if rest, ok := strings.CutPrefix(partnerRef, contracts.PrefixPayment+"_"); ok {
		ulid, attempt, ok := strings.Cut(rest, "_")
		if ok && contracts.ValidID(contracts.PrefixPayment, contracts.PrefixPayment+"_"+ulid) {
			n, err := strconv.Atoi(attempt)
			if err != nil || n < 1 || n > 61 || strconv.Itoa(n) != attempt {
				return "", fmt.Errorf("card: attempt %q of %q is outside 1-61", truncate(attempt, 10), truncate(partnerRef, 60))
			}
			return ulid + string(base62[n]), nil
		}
	}
	if orderIDPattern.MatchString(partnerRef) &&
		!(len(partnerRef) == 27 && contracts.ValidID(contracts.PrefixPayment, contracts.PrefixPayment+"_"+partnerRef[:26])) {
		return partnerRef, nil
	}
	return "", fmt.Errorf("card: PartnerRef %q is neither a payhub payment reference nor a GMO OrderID", truncate(partnerRef, 60))
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// orderIDPattern is GMO's OrderID rule (§1).
var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,27}$`)

// tenantName encodes TdTenantName the way GMO takes it (§1): EUC-JP bytes (at most 25),
// then standard Base64. Empty stays empty.
func tenantName(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	euc, err := japanese.EUCJP.NewEncoder().String(name)
	if err != nil || len(euc) > 25 {
		return "", errors.New("card: TdTenantName must be at most 25 bytes of EUC-JP-encodable text")
	}
	return base64.StdEncoding.EncodeToString([]byte(euc)), nil
}

// jst is Japan Standard Time (no daylight saving), GMO's clock.
var jst = time.FixedZone("JST", 9*60*60)

// parseGMOTime reads yyyyMMddHHmmss (JST); nil when absent or odd.
func parseGMOTime(s string) *time.Time {
	if len(s) != 14 || !isDigits(s) {
		return nil
	}
	t, err := time.ParseInLocation("20060102150405", s, jst)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// reversalJob picks the AlterTran JobCd that reverses a transaction processed at processed
// (JST): VOID on the same JST day, RETURN later in the same JST month, RETURNX after a
// month boundary (§2). An authorization (auth true) is VOIDed the same day, else RETURNed.
// An unreadable date gets RETURN (accepted any day, §10).
func reversalJob(processed *time.Time, now time.Time, auth bool) string {
	if processed == nil {
		return jobReturn
	}
	p, n := processed.In(jst), now.In(jst)
	switch {
	case p.Year() == n.Year() && p.YearDay() == n.YearDay():
		return jobVoid
	case auth || (p.Year() == n.Year() && p.Month() == n.Month()):
		return jobReturn
	default:
		return jobReturnX
	}
}

// JobCd values (§2).
const (
	jobAuth     = "AUTH"
	jobCapture  = "CAPTURE"
	jobSAuth    = "SAUTH"
	jobSales    = "SALES"
	jobVoid     = "VOID"
	jobReturn   = "RETURN"
	jobReturnX  = "RETURNX"
	jobCheck    = "CHECK"
	statusEntry = "UNPROCESSED"
	statusTds   = "AUTHENTICATED"
)
