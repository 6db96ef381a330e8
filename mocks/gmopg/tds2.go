package gmopg

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// challengePath is the simulator's 3DS2 page; RedirectUrl points here.
const challengePath = "/tds2/challenge"

// Challenge states (LedgerOrder.ThreeDS, ChallengeResult.State).
const (
	tdsStatePending   = "pending"
	tdsStateApproved  = "approved"
	tdsStateRejected  = "rejected"
	tdsStateAbandoned = "abandoned"
)

// challenge is one 3DS2 flow started by ExecTran (ACS=2). Guarded by Simulator.mu.
type challenge struct {
	transID string // UUID-like, in RedirectUrl as transId
	secret  string // the t parameter
	order   *order
	retURL  string
	// callbackType 3 returns to RetUrl with GET, anything else with POST.
	callbackType string
	state        string
	frictionless bool
}

// newChallenge starts a flow for o; a frictionless one is approved at once. Needs s.mu.
func (s *Simulator) newChallenge(o *order, retURL, callbackType string, frictionless bool) *challenge {
	h := randomHex(16)
	ch := &challenge{
		transID: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		secret:  randomHex(16), order: o, retURL: retURL, callbackType: callbackType,
		state: tdsStatePending, frictionless: frictionless,
	}
	if frictionless {
		ch.state = tdsStateApproved
	}
	s.challenges[ch.transID] = ch
	return ch
}

// publicURL is the simulator's base URL for RedirectUrl.
func (s *Simulator) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ChallengeResult is where the browser goes after a 3DS2 flow: what the simulator's page
// would submit, so a test can play the browser (POST /_sim/tds2/{transId}/…).
type ChallengeResult struct {
	TransID  string `json:"transId"`
	AccessID string `json:"accessId"`
	OrderID  string `json:"orderId"`
	// State is pending, approved, rejected or abandoned.
	State string `json:"state"`
	// RetURL is the RetUrl of ExecTran; Method is POST, or GET for CallbackType=3.
	RetURL string `json:"retUrl"`
	Method string `json:"method"`
	// Form is what the browser submits to RetURL (AccessID); empty once abandoned.
	Form map[string]string `json:"form"`
}

// Errors of the 3DS2 hooks.
var (
	// ErrNoSuchChallenge: no 3DS2 flow has that transId or AccessID.
	ErrNoSuchChallenge = errors.New("gmopg sim: no such 3DS2 challenge")
	// ErrChallengeDone: the flow was already approved, rejected or abandoned differently.
	ErrChallengeDone = errors.New("gmopg sim: 3DS2 challenge already completed")
	// ErrNoSuchOrder: no order has that OrderID.
	ErrNoSuchOrder = errors.New("gmopg sim: no such order")
	// ErrWrongState: the order is not in a state the hook applies to.
	ErrWrongState = errors.New("gmopg sim: order is not in the right state")
)

// findChallenge resolves id as a transId, else as an AccessID (the latest flow of that
// transaction). Needs s.mu.
func (s *Simulator) findChallenge(id string) *challenge {
	if ch := s.challenges[id]; ch != nil {
		return ch
	}
	if o := s.byAccess[id]; o != nil && o.tds != nil {
		return o.tds
	}
	return nil
}

func (s *Simulator) result(ch *challenge) ChallengeResult {
	res := ChallengeResult{TransID: ch.transID, AccessID: ch.order.accessID, OrderID: ch.order.orderID,
		State: ch.state, RetURL: ch.retURL, Method: http.MethodPost, Form: map[string]string{}}
	if ch.callbackType == "3" {
		res.Method = http.MethodGet
	}
	if ch.state != tdsStateAbandoned {
		res.Form["AccessID"] = ch.order.accessID
	}
	return res
}

// complete moves the flow id (transId or AccessID) to state. Repeating the same outcome
// is allowed (a double click); another outcome after the first is ErrChallengeDone.
func (s *Simulator) complete(id, state string) (ChallengeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.findChallenge(id)
	if ch == nil {
		return ChallengeResult{}, fmt.Errorf("%w: %q", ErrNoSuchChallenge, id)
	}
	if ch.state != tdsStatePending && ch.state != state {
		return s.result(ch), fmt.Errorf("%w: it is %s", ErrChallengeDone, ch.state)
	}
	ch.state = state
	return s.result(ch), nil
}

// ApproveChallenge plays the customer passing the 3DS2 challenge of accessID (or a
// transId): SecureTran2 then authorises. It returns the RetUrl the browser would POST
// AccessID to.
func (s *Simulator) ApproveChallenge(accessID string) (string, error) {
	res, err := s.complete(accessID, tdsStateApproved)
	return res.RetURL, err
}

// RejectChallenge plays the customer failing the challenge: the browser still returns to
// RetUrl, and SecureTran2 answers E21030007; the order stays AUTHENTICATED.
func (s *Simulator) RejectChallenge(accessID string) (string, error) {
	res, err := s.complete(accessID, tdsStateRejected)
	return res.RetURL, err
}

// AbandonChallenge plays the customer closing the window: nothing returns to RetUrl,
// SecureTran2 answers E21030001 and the order stays AUTHENTICATED.
func (s *Simulator) AbandonChallenge(accessID string) error {
	_, err := s.complete(accessID, tdsStateAbandoned)
	return err
}

// Challenge returns the 3DS2 flow of id (transId or AccessID) as a ChallengeResult.
func (s *Simulator) Challenge(id string) (ChallengeResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.findChallenge(id)
	if ch == nil {
		return ChallengeResult{}, false
	}
	return s.result(ch), true
}

// serveChallenge serves the 3DS2 page: GET shows it (approve / reject / abandon, or an
// automatic return when the flow is already decided, e.g. frictionless); POST with
// action=approve|reject|abandon records the customer's choice and returns to RetUrl.
func (s *Simulator) serveChallenge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	transID, secret := r.Form.Get("transId"), r.Form.Get("t")
	s.mu.Lock()
	ch := s.challenges[transID]
	ok := ch != nil && secret == ch.secret
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or expired 3-D Secure session", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodPost {
		state := map[string]string{"approve": tdsStateApproved, "reject": tdsStateRejected, "abandon": tdsStateAbandoned}[r.Form.Get("action")]
		if state == "" {
			http.Error(w, "action must be approve, reject or abandon", http.StatusBadRequest)
			return
		}
		if _, err := s.complete(transID, state); err != nil && !errors.Is(err, ErrChallengeDone) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
	}
	res, _ := s.Challenge(transID)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = challengePage.Execute(w, struct {
		ChallengeResult
		Secret string
		Path   string
	}{res, secret, challengePath})
}

// challengePage is the simulator's ACS page. Decided flows submit themselves to RetUrl.
var challengePage = template.Must(template.New("tds2").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure (payhub GMO-PG simulator)</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}button{margin-right:1em;padding:.5em 1em}</style></head>
<body>
<h1>3-D Secure authentication</h1>
<p>Order <code>{{.OrderID}}</code> &mdash; simulated issuer challenge.</p>
{{if eq .State "pending"}}
<form method="post" action="{{.Path}}">
<input type="hidden" name="transId" value="{{.TransID}}"><input type="hidden" name="t" value="{{.Secret}}">
<button type="submit" name="action" value="approve" id="approve">Approve</button>
<button type="submit" name="action" value="reject" id="reject">Reject</button>
<button type="submit" name="action" value="abandon" id="abandon">Abandon</button>
</form>
{{else if eq .State "abandoned"}}
<p id="abandoned">The authentication was abandoned. You can close this window.</p>
{{else}}
<p id="returning">Authentication {{.State}}. Returning to the shop&hellip;</p>
<form id="return" method="{{.Method}}" action="{{.RetURL}}">
{{range $k, $v := .Form}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("return").submit();</script>
{{end}}
</body></html>
`))
