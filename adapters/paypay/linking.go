package paypay

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"payhub/contracts"
)

// DefaultLinkSessionLifetime is how long payhub waits for the customer to approve a link QR:
// PayPay does not publish its sessions' lifetime (docs/partners/paypay.md §4.9, payhub
// convention).
const DefaultLinkSessionLifetime = 5 * time.Minute

var (
	_ contracts.AccountLinking = (*Adapter)(nil)
	_ contracts.Cashbacks      = (*Adapter)(nil)
)

// linkSessionBody is POST /v1/qr/sessions (docs/partners/paypay.md §4.9).
type linkSessionBody struct {
	Scopes       []string `json:"scopes"`
	Nonce        string   `json:"nonce"`
	RedirectType string   `json:"redirectType"`
	RedirectURL  string   `json:"redirectUrl"`
	ReferenceID  string   `json:"referenceId"`
	PhoneNumber  string   `json:"phoneNumber,omitempty"`
	DeviceID     string   `json:"deviceId,omitempty"`
	UserAgent    string   `json:"userAgent,omitempty"`
}

// linkSessionData is the data of an accepted POST /v1/qr/sessions.
type linkSessionData struct {
	LinkQRCodeURL string `json:"linkQRCodeURL"`
}

// CreateLinkSession creates PayPay's account-link QR code (POST /v1/qr/sessions,
// docs/partners/paypay.md §4.9). Nothing moves, so it runs under the read timeout and an
// unknown outcome is simply asked again (with a new nonce and reference).
func (a *Adapter) CreateLinkSession(ctx context.Context, req contracts.LinkSessionRequest) (contracts.LinkSession, error) {
	switch {
	case len(req.Scopes) == 0:
		return contracts.LinkSession{}, refusedCall("no scopes to ask for")
	case req.Nonce == "" || req.ReferenceID == "":
		return contracts.LinkSession{}, refusedCall("a link session needs a nonce and a referenceId")
	case req.RedirectURL == "":
		return contracts.LinkSession{}, refusedCall("a link session needs payhub's redirect URL")
	}
	body := linkSessionBody{
		Scopes: req.Scopes, Nonce: req.Nonce, RedirectType: "WEB_LINK", RedirectURL: req.RedirectURL,
		ReferenceID: req.ReferenceID, PhoneNumber: req.PhoneNumber, DeviceID: req.DeviceID, UserAgent: truncate(req.UserAgent, 255),
	}
	if req.DeepLink {
		body.RedirectType = "APP_DEEP_LINK"
	}
	start := a.cfg.Now()
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodPost, "/v1/qr/sessions", nil, body)
	if err := a.callError(r, req.PhoneNumber); err != nil {
		return contracts.LinkSession{}, err
	}
	var d linkSessionData
	if err := r.env.decodeData(&d); err != nil {
		return contracts.LinkSession{}, a.unknownCall(r, "PayPay accepted the link session but its data is unreadable")
	}
	u, err := url.Parse(d.LinkQRCodeURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return contracts.LinkSession{}, a.unknownCall(r, "PayPay accepted the link session without a usable linkQRCodeURL")
	}
	lifetime := a.cfg.LinkSessionLifetime
	if lifetime <= 0 {
		lifetime = DefaultLinkSessionLifetime
	}
	return contracts.LinkSession{URL: d.LinkQRCodeURL, ExpiresAt: start.Add(lifetime).UTC()}, nil
}

// userAuthorizationData is the data of GET /v2/user/authorizations (§4.10).
type userAuthorizationData struct {
	UserAuthorizationID string   `json:"userAuthorizationId"`
	Status              string   `json:"status"`
	Scopes              []string `json:"scopes"`
	ExpireAt            int64    `json:"expireAt"`
	IssuedAt            int64    `json:"issuedAt"`
}

// userAuthorizationActive is PayPay's status of a usable authorization (§4.10).
const userAuthorizationActive = "ACTIVE"

// UserAuthorization reads GET /v2/user/authorizations?userAuthorizationId=… (§4.10).
func (a *Adapter) UserAuthorization(ctx context.Context, userAuthorizationID string) (contracts.UserAuthorizationStatus, error) {
	if userAuthorizationID == "" {
		return contracts.UserAuthorizationStatus{}, refusedCall("no userAuthorizationId")
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, "/v2/user/authorizations",
		url.Values{"userAuthorizationId": {userAuthorizationID}}, nil)
	if err := a.callError(r); err != nil {
		return contracts.UserAuthorizationStatus{}, err
	}
	var d userAuthorizationData
	if err := r.env.decodeData(&d); err != nil || d.Status == "" {
		return contracts.UserAuthorizationStatus{}, a.unknownCall(r, "PayPay's user authorization is unreadable")
	}
	if d.UserAuthorizationID != "" && d.UserAuthorizationID != userAuthorizationID {
		return contracts.UserAuthorizationStatus{}, a.unknownCall(r, "PayPay answered about another user authorization")
	}
	st := contracts.UserAuthorizationStatus{
		UserAuthorizationID: userAuthorizationID, Status: d.Status, Active: d.Status == userAuthorizationActive,
		Scopes: append([]string{}, d.Scopes...),
	}
	if t := epoch(d.IssuedAt); t != nil {
		st.IssuedAt = *t
	}
	if t := epoch(d.ExpireAt); t != nil {
		st.ExpiresAt = *t
	}
	return st, nil
}

// Unlink revokes a user authorization: DELETE /v2/user/authorizations/{id} (§4.10).
func (a *Adapter) Unlink(ctx context.Context, userAuthorizationID string) error {
	if userAuthorizationID == "" || strings.ContainsAny(userAuthorizationID, "/?#") {
		return refusedCall("no usable userAuthorizationId")
	}
	r := a.callLogged(ctx, a.cfg.Timeouts.Read, http.MethodDelete, "/v2/user/authorizations/"+url.PathEscape(userAuthorizationID),
		"/v2/user/authorizations/{userAuthorizationId}", nil, nil)
	return a.callError(r)
}

// callError turns a reply of a call that moves no money into nil (accepted) or a
// *contracts.PartnerError (docs/partners/paypay.md §6).
func (a *Adapter) callError(r reply, hide ...string) error {
	switch r.verdict() {
	case verdictAccepted:
		return nil
	case verdictRefused:
		return &contracts.PartnerError{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), Message: a.describe(r, hide...)}
	default:
		return &contracts.PartnerError{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), Message: a.describe(r, hide...)}
	}
}

// unknownCall is an accepted answer payhub cannot read.
func (a *Adapter) unknownCall(r reply, msg string) error {
	return &contracts.PartnerError{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), Message: msg + " " + a.describe(r)}
}

// refusedCall is a call refused before PayPay was asked.
func refusedCall(msg string) error {
	return &contracts.PartnerError{Outcome: contracts.OutcomeFailed, Message: msg}
}
