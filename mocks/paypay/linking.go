package paypay

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"payhub/mocks/sim"
)

// Account link (docs/partners/paypay.md §4.9) and user authorizations (§4.10).

// linkURLBase is where simulated account-link QR URLs point (never resolves; the customer
// approves through /_sim/ or ApproveLink).
const linkURLBase = "https://qr.paypay-sim.invalid/link/"

// DefaultLinkSessionLifetime is how long a link QR can be approved. PayPay does not publish
// it (docs/partners/paypay.md §4.9, payhub's choice).
const DefaultLinkSessionLifetime = 5 * time.Minute

// DefaultLinkTokenLifetime is how long a response token is valid after the customer decided
// (its exp claim; payhub's choice).
const DefaultLinkTokenLifetime = 5 * time.Minute

// DefaultUserAuthorizationLifetime is how long a new user authorization lasts; PayPay sets it
// per merchant at onboarding (payhub's choice: one year).
const DefaultUserAuthorizationLifetime = 365 * 24 * time.Hour

// linkScopes are the account-link scopes the simulator grants (docs/partners/paypay.md §4.9).
var linkScopes = []string{
	"direct_debit", "cashback", "get_balance", "quick_pay", "continuous_payments",
	"merchant_topup", "pending_payments", "user_notification", "user_topup", "user_profile",
	"preauth_capture_native", "preauth_capture_transaction", "push_notification",
	"notification_center_ob", "notification_center_ab", "notification_center_tl",
}

// User authorization statuses (docs/partners/paypay.md §4.10).
const (
	// AuthorizationActive: the authorization can be used.
	AuthorizationActive = "ACTIVE"
	// AuthorizationInactive: the user is not active, or the link was removed (unlink).
	AuthorizationInactive = "INACTIVE"
	// AuthorizationExpired: the authorization has expired.
	AuthorizationExpired = "EXPIRED"
)

// Link results in the response token's result claim.
const (
	// LinkSucceeded: the customer approved the link.
	LinkSucceeded = "succeeded"
	// LinkDeclined: the customer declined.
	LinkDeclined = "declined"
)

// Errors ApproveLink and DeclineLink report.
var (
	// ErrNoSuchLink: no link session has the given id or URL.
	ErrNoSuchLink = errors.New("paypay sim: no such link session")
	// ErrLinkNotPending: the link session was already decided or has expired.
	ErrLinkNotPending = errors.New("paypay sim: link session is not pending")
)

// linkSession is one account-link QR.
type linkSession struct {
	id           string
	scopes       []string
	nonce        string
	referenceID  string
	redirectURL  string
	redirectType string
	createdAt    time.Time
	expiresAt    time.Time
	decided      string // "", LinkSucceeded or LinkDeclined
	user         string // the user authorization created on approval
}

// linkedUser is a user authorization the simulator knows beyond the fixtures: created by an
// approved link, or a fixture user that was unlinked.
type linkedUser struct {
	id           string
	scopes       []string
	referenceIDs []string
	issuedAt     time.Time
	expiresAt    time.Time
	unlinked     bool
}

// createLinkSessionRequest is the body of POST /v1/qr/sessions.
type createLinkSessionRequest struct {
	Scopes       []string `json:"scopes"`
	Nonce        string   `json:"nonce"`
	RedirectType string   `json:"redirectType"`
	RedirectURL  string   `json:"redirectUrl"`
	ReferenceID  string   `json:"referenceId"`
	PhoneNumber  string   `json:"phoneNumber"`
	DeviceID     string   `json:"deviceId"`
	UserAgent    string   `json:"userAgent"`
}

func (req *createLinkSessionRequest) validate() *apiError {
	switch {
	case len(req.Scopes) == 0:
		return fail(resMissingRequest, "scopes is required")
	case req.Nonce == "":
		return fail(resMissingRequest, "nonce is required")
	case req.RedirectType == "":
		return fail(resMissingRequest, "redirectType is required")
	case req.RedirectURL == "":
		return fail(resMissingRequest, "redirectUrl is required")
	case req.ReferenceID == "":
		return fail(resMissingRequest, "referenceId is required")
	case len(req.Nonce) > 255 || len(req.ReferenceID) > 255 || len(req.RedirectURL) > 2048:
		return fail(resInvalidRequest, "nonce and referenceId are at most 255 characters, redirectUrl 2048")
	case req.RedirectType != "WEB_LINK" && req.RedirectType != "APP_DEEP_LINK":
		return fail(resInvalidRequest, "redirectType must be WEB_LINK or APP_DEEP_LINK")
	case req.PhoneNumber != "" && !allDigits(req.PhoneNumber):
		return fail(resInvalidRequest, "phoneNumber must be digits")
	}
	seen := map[string]bool{}
	for _, sc := range req.Scopes {
		if !slices.Contains(linkScopes, sc) || seen[sc] {
			return fail(resInvalidRequest, "scopes has an unknown or repeated scope")
		}
		seen[sc] = true
	}
	u, err := url.Parse(req.RedirectURL)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return fail(resInvalidRequest, "redirectUrl must be an absolute URL without a fragment")
	}
	if req.RedirectType == "WEB_LINK" && ((u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return fail(resInvalidRequest, "a WEB_LINK redirectUrl must be an http(s) URL")
	}
	return nil
}

// createLinkSession serves POST /v1/qr/sessions: the account-link QR code.
func (s *Simulator) createLinkSession(w http.ResponseWriter, _ *http.Request, in request) {
	var req createLinkSessionRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	if err := req.validate(); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ls := &linkSession{
		id: s.newLinkID(), scopes: slices.Clone(req.Scopes), nonce: req.Nonce, referenceID: req.ReferenceID,
		redirectURL: req.RedirectURL, redirectType: req.RedirectType, createdAt: now,
		expiresAt: now.Add(s.cfg.LinkSessionLifetime),
	}
	s.linkSessions[ls.id] = ls
	writeResult(w, resCreated, "Success", map[string]string{"linkQRCodeURL": linkURLBase + ls.id})
}

// newLinkID returns an unused link session id. Caller holds s.mu.
func (s *Simulator) newLinkID() string {
	for {
		id := "ls-" + randomDigits(16)
		if _, taken := s.linkSessions[id]; !taken {
			return id
		}
	}
}

// newUserAuthorizationID returns an unused userAuthorizationId. Caller holds s.mu.
func (s *Simulator) newUserAuthorizationID() string {
	for {
		id := "ua-" + randomDigits(20)
		if _, taken := s.linkedUsers[id]; !taken {
			return id
		}
	}
}

// LinkApproval is the customer's decision on a link session, as the simulator hands it back.
type LinkApproval struct {
	// Result is LinkSucceeded or LinkDeclined.
	Result string `json:"result"`
	// RedirectURL is the session's redirectUrl with ?responseToken=… appended: where PayPay
	// sends the customer's browser.
	RedirectURL string `json:"redirectUrl"`
	// ResponseToken is the HS256 JWT PayPay puts in RedirectURL.
	ResponseToken string `json:"responseToken"`
	// UserAuthorizationID is the new user authorization (approvals only).
	UserAuthorizationID string `json:"userAuthorizationId,omitempty"`
	// ReferenceID is the session's referenceId.
	ReferenceID string `json:"referenceId"`
}

// linkClaims are the response token's claims (docs/partners/paypay.md §4.9).
type linkClaims struct {
	Iss                 string `json:"iss"`
	Aud                 string `json:"aud"`
	Exp                 int64  `json:"exp"`
	Iat                 int64  `json:"iat"`
	Result              string `json:"result"`
	ProfileIdentifier   string `json:"profileIdentifier,omitempty"`
	Nonce               string `json:"nonce"`
	UserAuthorizationID string `json:"userAuthorizationId,omitempty"`
	ReferenceID         string `json:"referenceId"`
}

// ApproveLink plays the customer approving the link session link (its id, or the
// linkQRCodeURL) in the PayPay app: a new user authorization with the session's scopes is
// created — it pays like UserOK and can receive cashback — and the redirect carries a
// response token with result "succeeded".
func (s *Simulator) ApproveLink(link string) (LinkApproval, error) {
	return s.decideLink(link, LinkSucceeded)
}

// DeclineLink plays the customer declining the link session: nothing is linked and the
// response token says result "declined".
func (s *Simulator) DeclineLink(link string) (LinkApproval, error) {
	return s.decideLink(link, LinkDeclined)
}

func (s *Simulator) decideLink(link, result string) (LinkApproval, error) {
	id := path.Base(strings.TrimSpace(link))
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.linkSessions[id]
	if !ok {
		return LinkApproval{}, fmt.Errorf("%w: %q", ErrNoSuchLink, link)
	}
	now := s.now()
	switch {
	case ls.decided != "":
		return LinkApproval{}, fmt.Errorf("%w: already %s", ErrLinkNotPending, ls.decided)
	case !now.Before(ls.expiresAt):
		return LinkApproval{}, fmt.Errorf("%w: expired", ErrLinkNotPending)
	}
	ls.decided = result
	claims := linkClaims{
		Iss: linkTokenIssuer, Aud: s.cfg.MerchantID, Iat: now.Unix(), Exp: now.Add(s.cfg.LinkTokenLifetime).Unix(),
		Result: result, Nonce: ls.nonce, ReferenceID: ls.referenceID,
	}
	if result == LinkSucceeded {
		u := &linkedUser{
			id: s.newUserAuthorizationID(), scopes: slices.Clone(ls.scopes), referenceIDs: []string{ls.referenceID},
			issuedAt: now, expiresAt: now.Add(s.cfg.UserAuthorizationLifetime),
		}
		s.linkedUsers[u.id] = u
		ls.user = u.id
		claims.UserAuthorizationID = u.id
		claims.ProfileIdentifier = "*******" + randomDigits(4)
	}
	token := signJWT(decodeSecret(s.cfg.APISecret), claims)
	sep := "?"
	if strings.Contains(ls.redirectURL, "?") {
		sep = "&"
	}
	return LinkApproval{
		Result: result, RedirectURL: ls.redirectURL + sep + "responseToken=" + url.QueryEscape(token),
		ResponseToken: token, UserAuthorizationID: ls.user, ReferenceID: ls.referenceID,
	}, nil
}

// userRefusal answers the refusal a payment or cashback of user meets, or nil: a linked
// user pays like UserOK until unlinked (then 401 INVALID_USER_AUTHORIZATION_ID) or expired;
// the fixtures answer as the package doc lists. Caller holds s.mu.
func (s *Simulator) userRefusal(user string) *apiError {
	if u, ok := s.linkedUsers[user]; ok {
		switch {
		case u.unlinked:
			return fail(resUserInvalid, "The user authorization was revoked")
		case !u.expiresAt.IsZero() && !s.now().Before(u.expiresAt):
			return fail(resUserExpired, "The user authorization has expired")
		}
		if _, fixture := fixtureAuthorizations[user]; !fixture {
			return nil
		}
	}
	return checkUser(user)
}

// fixtureAuthorizations are the statuses GET /v2/user/authorizations reports for the
// fixture users.
var fixtureAuthorizations = map[string]string{
	UserOK: AuthorizationActive, UserNoFunds: AuthorizationActive,
	UserInactive: AuthorizationInactive, UserExpired: AuthorizationExpired,
}

// userAuthorizationView is the data of GET /v2/user/authorizations (docs/partners/paypay.md §4.10).
type userAuthorizationView struct {
	UserAuthorizationID string   `json:"userAuthorizationId"`
	ReferenceIDs        []string `json:"referenceIds"`
	Status              string   `json:"status"`
	Scopes              []string `json:"scopes"`
	ExpireAt            *int64   `json:"expireAt"`
	IssuedAt            *int64   `json:"issuedAt"`
}

// authorizationView is where user stands, or false for an unknown user. Caller holds s.mu.
func (s *Simulator) authorizationView(user string) (userAuthorizationView, bool) {
	v := userAuthorizationView{UserAuthorizationID: user, ReferenceIDs: []string{}, Scopes: []string{}}
	status, fixture := fixtureAuthorizations[user]
	u, linked := s.linkedUsers[user]
	switch {
	case !fixture && !linked:
		return v, false
	case fixture:
		v.Status = status
		v.Scopes = []string{"direct_debit", "cashback"}
	}
	if linked {
		v.Status = AuthorizationActive
		if len(u.scopes) > 0 {
			v.Scopes = slices.Clone(u.scopes)
		}
		v.ReferenceIDs = slices.Clone(u.referenceIDs)
		v.IssuedAt, v.ExpireAt = epochOrNull(u.issuedAt), epochOrNull(u.expiresAt)
		switch {
		case u.unlinked:
			v.Status = AuthorizationInactive
		case !u.expiresAt.IsZero() && !s.now().Before(u.expiresAt):
			v.Status = AuthorizationExpired
		}
	}
	return v, true
}

// getUserAuthorization serves GET /v2/user/authorizations?userAuthorizationId=….
func (s *Simulator) getUserAuthorization(w http.ResponseWriter, r *http.Request, _ request) {
	user := r.URL.Query().Get("userAuthorizationId")
	if user == "" {
		writeError(w, resMissingRequest, "userAuthorizationId is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.authorizationView(user)
	if !ok {
		writeError(w, resUserInvalid, "Unknown userAuthorizationId")
		return
	}
	writeResult(w, resSuccess, "Success", v)
}

// unlinkUser serves DELETE /v2/user/authorizations/{userAuthorizationId}: the
// authorization is revoked (INACTIVE); payments and cashbacks with it then answer 401
// INVALID_USER_AUTHORIZATION_ID. A repeat answers success (payhub convention).
func (s *Simulator) unlinkUser(w http.ResponseWriter, _ *http.Request, in request) {
	user := in.params["userAuthorizationId"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authorizationView(user); !ok {
		writeError(w, resUserInvalid, "Unknown userAuthorizationId")
		return
	}
	u, ok := s.linkedUsers[user]
	if !ok {
		u = &linkedUser{id: user}
		s.linkedUsers[user] = u
	}
	u.unlinked = true
	writeResult(w, resSuccess, "Success", nil)
}

// UserAuthorization is the ledger's view of a user authorization.
type UserAuthorization struct {
	// UserAuthorizationID is the id.
	UserAuthorizationID string `json:"userAuthorizationId"`
	// Status is ACTIVE, INACTIVE (unlinked, or the inactive fixture) or EXPIRED.
	Status string `json:"status"`
	// Scopes are the scopes granted.
	Scopes []string `json:"scopes"`
	// ReferenceIDs are the referenceIds of the link sessions that created it.
	ReferenceIDs []string `json:"referenceIds"`
}

// UserAuthorization reports where user stands, or false for an unknown user.
func (s *Simulator) UserAuthorization(user string) (UserAuthorization, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.authorizationView(user)
	return UserAuthorization{UserAuthorizationID: v.UserAuthorizationID, Status: v.Status, Scopes: v.Scopes, ReferenceIDs: v.ReferenceIDs}, ok
}

// simApproveLink serves POST /_sim/links/{sessionId}/approve.
func (s *Simulator) simApproveLink(w http.ResponseWriter, _ *http.Request, in request) {
	s.simDecideLink(w, in.params["sessionId"], LinkSucceeded)
}

// simDeclineLink serves POST /_sim/links/{sessionId}/decline.
func (s *Simulator) simDeclineLink(w http.ResponseWriter, _ *http.Request, in request) {
	s.simDecideLink(w, in.params["sessionId"], LinkDeclined)
}

func (s *Simulator) simDecideLink(w http.ResponseWriter, id, result string) {
	a, err := s.decideLink(id, result)
	switch {
	case errors.Is(err, ErrNoSuchLink):
		writeControlError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeControlError(w, http.StatusConflict, err.Error())
	default:
		sim.WriteJSON(w, http.StatusOK, a)
	}
}

// simUserAuthorization serves GET /_sim/users/{userAuthorizationId}.
func (s *Simulator) simUserAuthorization(w http.ResponseWriter, _ *http.Request, in request) {
	ua, ok := s.UserAuthorization(in.params["userAuthorizationId"])
	if !ok {
		writeControlError(w, http.StatusNotFound, "no such user authorization")
		return
	}
	sim.WriteJSON(w, http.StatusOK, ua)
}
