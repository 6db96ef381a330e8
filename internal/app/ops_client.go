package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"

	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/operators"
)

// The HTTP client of the operator API (docs/ops-api.md) that `payhub ops …` is built on:
// every call carries an operator token (aud payhub-ops) — a ready one (--token,
// PAYHUB_OPS_TOKEN), one minted for the call from the operator's own key (--key), or one
// minted from a `payhub demo` operator's files (--demo-dir, --as) — and a refusal comes back
// as an *opsProblem naming the status, the stable code and the detail. Tokens are never
// printed or put into an error.

// defaultOpsURL is where `payhub ops` looks for payhub without --url or PAYHUB_URL: the
// address serve and demo listen on by default.
const defaultOpsURL = "http://" + defaultAddr

// opsTokenTTL is the lifetime of a token minted for one call.
const opsTokenTTL = auth.MaxTokenLifetime

// opsMaxAnswer bounds what the client reads of one answer.
const opsMaxAnswer = 8 << 20

// opsFlags are the flags every API command of `payhub ops` shares (persistent on `ops`).
type opsFlags struct {
	url, token, keyFile, kid, operator, demoDir, as string
	roles                                           []string
	json                                            bool
}

// register adds the flags to fs.
func (f *opsFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.url, "url", "", "payhub's API: $PAYHUB_URL, else the URL the --demo-dir demo wrote, else "+defaultOpsURL)
	fs.StringVar(&f.token, "token", "", "a ready operator token (default $PAYHUB_OPS_TOKEN); or --key, or --demo-dir with --as")
	fs.StringVar(&f.keyFile, "key", "", "the operator's private key (PKCS#8 PEM): a 5-minute token is minted for each call (with --operator and --role)")
	fs.StringVar(&f.kid, "kid", "", "with --key: the key's id in PAYHUB_OPERATOR_KEYS (default: the --operator id)")
	fs.StringVar(&f.operator, "operator", "", "with --key: the operator's id (the tokens' iss, as in PAYHUB_OPERATOR_KEYS)")
	fs.StringSliceVar(&f.roles, "role", nil, "roles the token claims (repeatable: viewer, operator, security_admin); with --demo-dir: default all the operator's roles")
	fs.StringVar(&f.demoDir, "demo-dir", "", "a 'payhub demo' data directory: act as one of its operators (--as)")
	fs.StringVar(&f.as, "as", "", "with --demo-dir: the demo operator to act as (alice or bob)")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answer as it came")
}

// opsClient calls the operator API of one payhub.
type opsClient struct {
	base  string
	http  *http.Client
	token func() (string, error)
	// demo is the demo operator acted as (--demo-dir), for step-up without a phone.
	demo *demoOperatorFiles
}

// client builds the client the flags describe.
func (f *opsFlags) client() (*opsClient, error) {
	c := &opsClient{http: &http.Client{Timeout: 30 * time.Second}}
	envToken := config.EnvOr("PAYHUB_OPS_TOKEN", "")
	modes := 0
	for _, set := range []bool{f.token != "", f.keyFile != "", f.demoDir != ""} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		return nil, errors.New("give one of --token, --key (with --operator and --role) and --demo-dir (with --as)")
	}
	if err := checkRoles(f.roles); err != nil {
		return nil, err
	}
	var demoURL string
	switch {
	case f.demoDir != "":
		if f.as == "" {
			return nil, errors.New("--demo-dir needs --as: the demo operator to act as (alice or bob)")
		}
		d, err := readDemoOperators(f.demoDir)
		if err != nil {
			return nil, err
		}
		op, err := d.find(f.demoDir, f.as)
		if err != nil {
			return nil, err
		}
		roles := op.Roles
		if len(f.roles) > 0 {
			roles = f.roles
		}
		key, err := readOperatorKey(op.keyPath)
		if err != nil {
			return nil, err
		}
		c.token = operatorTokenSource(key, op.KeyID, op.Operator, roles)
		c.demo = &op
		demoURL = d.URL
	case f.keyFile != "":
		if f.operator == "" || len(f.roles) == 0 {
			return nil, errors.New("--key needs --operator (your id) and --role (the roles the token claims)")
		}
		key, err := readOperatorKey(f.keyFile)
		if err != nil {
			return nil, err
		}
		kid := f.kid
		if kid == "" {
			kid = f.operator
		}
		c.token = operatorTokenSource(key, kid, f.operator, f.roles)
	case f.token != "" || envToken != "":
		tok := f.token
		if tok == "" {
			tok = envToken
		}
		tok = strings.TrimSpace(tok)
		c.token = func() (string, error) { return tok, nil }
	default:
		return nil, errors.New("no operator credentials: give --token (or PAYHUB_OPS_TOKEN), --key with --operator and --role, or --demo-dir with --as")
	}
	switch {
	case f.url != "":
		c.base = f.url
	case config.EnvOr("PAYHUB_URL", "") != "":
		c.base = config.EnvOr("PAYHUB_URL", "")
	case demoURL != "":
		c.base = demoURL
	default:
		c.base = defaultOpsURL
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want http(s)://host[:port]", c.base)
	}
	c.base = strings.TrimSuffix(c.base, "/")
	return c, nil
}

// readOperatorKey reads an operator's private key file.
func readOperatorKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read operator key: %w", err)
	}
	key, err := auth.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("operator key %s: %w", path, err)
	}
	return key, nil
}

// operatorTokenSource mints a fresh operator token for each call.
func operatorTokenSource(key crypto.Signer, kid, operator string, roles []string) func() (string, error) {
	return func() (string, error) {
		return mintOperatorToken(key, kid, operator, roles, opsTokenTTL)
	}
}

// mintOperatorToken signs an operator token (aud payhub-ops) issued now.
func mintOperatorToken(key crypto.Signer, kid, operator string, roles []string, ttl time.Duration) (string, error) {
	return auth.Mint(auth.TokenRequest{Key: key, KeyID: kid, ClientID: operator, Roles: roles,
		Audience: auth.OperatorAudience, IssuedAt: time.Now(), TTL: ttl})
}

// opsProblem is a refusal of the operator API (application/problem+json).
type opsProblem struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Detail     string `json:"detail"`
	Title      string `json:"title"`
	RequestID  string `json:"request_id"`
	retryAfter string
}

func (p *opsProblem) Error() string {
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	s := fmt.Sprintf("refused: %d %s: %s", p.Status, p.Code, detail)
	if p.retryAfter != "" {
		s += " (retry after " + p.retryAfter + " s)"
	}
	return s
}

// do sends one call: body (nil: none for GET, {} for POST) as JSON, and returns the answer
// of a 2xx status. Any other answer is an *opsProblem, or an error quoting the start of a
// body that is not problem+json.
func (c *opsClient) do(ctx context.Context, method, path string, body any) ([]byte, int, error) {
	tok, err := c.token()
	if err != nil {
		return nil, 0, fmt.Errorf("operator token: %w", err)
	}
	var rd io.Reader
	if method != http.MethodGet {
		if body == nil {
			body = struct{}{}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is named below; the token is never in it
		}
		return nil, 0, fmt.Errorf("payhub at %s did not answer %s %s (the ops commands need a running serve or demo): %w", c.base, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, opsMaxAnswer))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("read the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return raw, resp.StatusCode, nil
	}
	p := &opsProblem{}
	if err := json.Unmarshal(raw, p); err != nil || p.Code == "" {
		snippet := strings.TrimSpace(string(raw))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return nil, resp.StatusCode, fmt.Errorf("refused: %d %s: %s %s answered %q", resp.StatusCode, http.StatusText(resp.StatusCode), method, path, snippet)
	}
	p.Status = resp.StatusCode
	p.retryAfter = resp.Header.Get("Retry-After")
	return nil, resp.StatusCode, p
}

// get sends a GET with query q (nil: none).
func (c *opsClient) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	raw, _, err := c.do(ctx, http.MethodGet, path, nil)
	return raw, err
}

// post sends a POST with body as JSON.
func (c *opsClient) post(ctx context.Context, path string, body any) ([]byte, error) {
	raw, _, err := c.do(ctx, http.MethodPost, path, body)
	return raw, err
}

// decodeList reads a list answer: {"object":"list","data":[…]} (or a bare array).
func decodeList[T any](raw []byte) ([]T, error) {
	var list []T
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return list, json.Unmarshal(trimmed, &list)
	}
	var wrapped struct {
		Data []T `json:"data"`
	}
	if err := json.Unmarshal(trimmed, &wrapped); err != nil {
		return nil, fmt.Errorf("read the list answer: %w", err)
	}
	return wrapped.Data, nil
}

// writeJSON prints an answer as it came, ending in a newline.
func writeJSON(out io.Writer, raw []byte) {
	raw = bytes.TrimRight(raw, "\n")
	_, _ = out.Write(append(raw, '\n'))
}

// The objects of the operator API, as docs/ops-api.md shows them. Times stay strings:
// printed as payhub wrote them.

// opsScope is a kill switch's scope.
type opsScope struct {
	Partner    string `json:"partner"`
	Method     string `json:"method"`
	Operation  string `json:"operation"`
	StoreID    string `json:"store_id"`
	TerminalID string `json:"terminal_id"`
	ClientID   string `json:"client_id"`
}

// opsSwitch is a kill_switch.
type opsSwitch struct {
	ID           string   `json:"id"`
	Scope        opsScope `json:"scope"`
	PublicReason string   `json:"public_reason"`
	InternalNote string   `json:"internal_note"`
	SetBy        string   `json:"set_by"`
	SetAt        string   `json:"set_at"`
	ExpiresAt    string   `json:"expires_at"`
	Active       bool     `json:"active"`
	LiftedBy     string   `json:"lifted_by"`
	LiftedAt     string   `json:"lifted_at"`
	LiftReason   string   `json:"lift_reason"`
}

// opsLimit is a limit_rule.
type opsLimit struct {
	ID            string `json:"id"`
	Subject       string `json:"subject"`
	SubjectID     string `json:"subject_id"`
	Operation     string `json:"operation"`
	Method        string `json:"method"`
	WindowSeconds int64  `json:"window_seconds"`
	MaxCount      int64  `json:"max_count"`
	MaxAmount     int64  `json:"max_amount"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason"`
	SetBy         string `json:"set_by"`
	SetAt         string `json:"set_at"`
	RemovedBy     string `json:"removed_by"`
	RemovedAt     string `json:"removed_at"`
	RemoveReason  string `json:"remove_reason"`
}

// opsApproval is an approval request.
type opsApproval struct {
	ID             string          `json:"id"`
	Action         string          `json:"action"`
	Params         json.RawMessage `json:"params"`
	ParamsHash     string          `json:"params_hash"`
	RequiredRole   string          `json:"required_role"`
	Status         string          `json:"status"`
	Reason         string          `json:"reason"`
	RequestedBy    string          `json:"requested_by"`
	RequestedAt    string          `json:"requested_at"`
	ExpiresAt      string          `json:"expires_at"`
	DecidedBy      string          `json:"decided_by"`
	DecidedAt      string          `json:"decided_at"`
	DecisionReason string          `json:"decision_reason"`
	Result         json.RawMessage `json:"result"`
}

// opsAuditEntry is an audit_entry.
type opsAuditEntry struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Params    json.RawMessage `json:"params"`
	RequestID string          `json:"request_id"`
}

// opsStepUp is a step_up.
type opsStepUp struct {
	ID         string `json:"id"`
	Operator   string `json:"operator"`
	ValidUntil string `json:"valid_until"`
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// compactJSON is raw on one line ("-" for none or null).
func compactJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "-"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// describeOpsScope names a scope: "method=card operation=refund".
func describeOpsScope(s opsScope) string {
	var parts []string
	for _, f := range []struct{ name, v string }{{"partner", s.Partner}, {"method", s.Method},
		{"operation", s.Operation}, {"store", s.StoreID}, {"terminal", s.TerminalID}, {"client", s.ClientID}} {
		if f.v != "" {
			parts = append(parts, f.name+"="+f.v)
		}
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, " ")
}

// The demo's operators (`payhub demo`): each has an Ed25519 key and a TOTP secret in the
// demo's data directory, so the incident runbook runs against the demo with no phone.

// demoOperatorsFile lists the demo's operators and payhub's URL, for `payhub ops
// --demo-dir` and `payhub token --demo-dir --operator`.
const demoOperatorsFile = "demo-operators.json"

// demoOperators is what demoOperatorsFile holds.
type demoOperators struct {
	// URL is where the demo's API listened when it last started.
	URL       string              `json:"url"`
	Operators []demoOperatorFiles `json:"operators"`
}

// demoOperatorFiles is one demo operator: id, key id, roles and files (relative to the
// data directory).
type demoOperatorFiles struct {
	Operator   string   `json:"operator"`
	KeyID      string   `json:"kid"`
	Roles      []string `json:"roles"`
	KeyFile    string   `json:"key_file"`
	SecretFile string   `json:"totp_secret_file"`
	// keyPath, secretPath and stepPath are the files' paths (find fills them).
	keyPath, secretPath, stepPath string
}

func readDemoOperators(dir string) (demoOperators, error) {
	var d demoOperators
	b, err := os.ReadFile(filepath.Join(dir, demoOperatorsFile))
	if err != nil {
		return d, fmt.Errorf("read the demo's operators (run 'payhub demo' first): %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: %w", filepath.Join(dir, demoOperatorsFile), err)
	}
	return d, nil
}

// find is the demo operator named operator, with its files' paths under dir.
func (d demoOperators) find(dir, operator string) (demoOperatorFiles, error) {
	var names []string
	for _, op := range d.Operators {
		if op.Operator == operator {
			op.keyPath = filepath.Join(dir, filepath.Base(op.KeyFile))
			op.secretPath = filepath.Join(dir, filepath.Base(op.SecretFile))
			op.stepPath = op.secretPath + "-last-step"
			return op, nil
		}
		names = append(names, op.Operator)
	}
	return demoOperatorFiles{}, fmt.Errorf("the demo in %s has no operator %q (it has %s)", dir, operator, strings.Join(names, ", "))
}

// demoCode is the demo operator's TOTP code for a step not used before by this directory:
// the current step, else the next one (payhub accepts a code of the next step too), else
// it waits for the step after. used remembers the step in the directory, once payhub has
// seen the code (demo only: a real operator reads the code off their phone).
func (op demoOperatorFiles) demoCode(ctx context.Context, now func() time.Time, wait io.Writer) (code string, used func() error, err error) {
	b, err := os.ReadFile(op.secretPath)
	if err != nil {
		return "", nil, fmt.Errorf("read the demo operator's TOTP secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	last := int64(-1)
	if b, err := os.ReadFile(op.stepPath); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			last = v
		}
	}
	period := int64(operators.Period / time.Second)
	for {
		t := now()
		cur := t.Unix() / period
		for _, s := range []int64{cur, cur + 1} {
			if s <= last {
				continue
			}
			code, err := totp.GenerateCodeCustom(secret, time.Unix(s*period, 0),
				totp.ValidateOpts{Period: uint(period), Digits: operators.Digits, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				return "", nil, fmt.Errorf("the demo operator's TOTP code: %w", err)
			}
			return code, func() error { return os.WriteFile(op.stepPath, []byte(strconv.FormatInt(s, 10)+"\n"), 0o600) }, nil
		}
		// Both codes payhub would take now were used: the next becomes acceptable when the
		// following step begins.
		next := time.Unix((cur+1)*period, 0)
		fmt.Fprintf(wait, "the demo's codes for this 30 s step were used; waiting %s for the next\n", next.Sub(t).Round(time.Second))
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(next.Sub(t)):
		}
	}
}

// readCode reads a TOTP code from in, prompting on prompt.
func readCode(in io.Reader, prompt io.Writer) (string, error) {
	fmt.Fprint(prompt, "TOTP code from your authenticator app: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", fmt.Errorf("read the code: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// validRoles is every operator role.
var validRoles = []string{auth.RoleViewer, auth.RoleOperator, auth.RoleSecurityAdmin}

// checkRoles refuses a role payhub does not know.
func checkRoles(roles []string) error {
	for _, r := range roles {
		if !slices.Contains(validRoles, r) {
			return fmt.Errorf("role %q: want %s", r, strings.Join(validRoles, ", "))
		}
	}
	return nil
}
