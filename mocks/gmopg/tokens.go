package gmopg

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"
)

// Fixture tokens: reusable MP tokens that never expire and select an outcome (see the
// package doc). Tokens minted by IssueToken or POST /_sim/tokens take the same kinds,
// named without the "tok_" prefix, but are single-use and expire after TokenLifetime.
const (
	// TokenSuccess authorises (VISA ************1111, 3012). Under TdFlag=2 the 3DS
	// flow is frictionless.
	TokenSuccess = "tok_success"
	// TokenDeclineG02 is declined: G02 / 42G020000 (insufficient funds). Nothing settles.
	TokenDeclineG02 = "tok_decline_g02"
	// TokenDeclineG03 is declined: G03 / 42G030000 (over the limit).
	TokenDeclineG03 = "tok_decline_g03"
	// TokenDeclineG12 is declined: G12 / 42G120000 (card unusable).
	TokenDeclineG12 = "tok_decline_g12"
	// TokenCVCG44 is declined: G44 / 42G440000 (security code wrong).
	TokenCVCG44 = "tok_cvc_g44"
	// Token3DSFrictionless goes through 3DS (ACS=2) even without TdFlag=2; the
	// challenge is approved without the customer (the page auto-posts to RetUrl).
	Token3DSFrictionless = "tok_3ds_frictionless"
	// Token3DSChallenge goes through 3DS (ACS=2) with a challenge the customer (or a
	// test hook) must approve or reject.
	Token3DSChallenge = "tok_3ds_challenge"
	// TokenComms42C commits the authorisation (status, TranID, the money moves) and then
	// answers C01 / 42C010000, a CAFIS communication failure: the unknown outcome that
	// only SearchTrade resolves.
	TokenComms42C = "tok_comms_42c"
	// TokenComms42CNoCommit answers C01 / 42C010000 without committing anything.
	TokenComms42CNoCommit = "tok_comms_42c_nocommit"
	// TokenSlow commits the authorisation, then holds the answer for Config.SlowDelay
	// (past the client's timeout). While it is held the transaction is in flight: a second
	// ExecTran or SecureTran2 gets E90010001, AlterTran or ChangeTran E01410010.
	TokenSlow = "tok_slow"
	// TokenRateLimited answers E92 / E92000001 (rate limit) without processing anything.
	TokenRateLimited = "tok_rate_limit_e92"
	// TokenUsed answers EX1000302 (token already used), as a used minted token would.
	TokenUsed = "tok_used"
	// TokenExpired answers EX1000303 (token expired), as an expired minted token would.
	TokenExpired = "tok_expired"
)

// Card is what a token stands for, as far as the simulator reports it: SearchTrade shows
// CardNo masked (12 '*' or, for AMEX, 11, then Last4) and Expire.
type Card struct {
	// Brand is VISA, MASTER, JCB, AMEX or DINERS.
	Brand string `json:"brand"`
	// Last4 is the last four digits of the card number.
	Last4 string `json:"last4"`
	// Expire is the expiry as YYMM.
	Expire string `json:"expire"`
}

// masked is the card number as SearchTrade shows it.
func (c Card) masked() string {
	if c.Last4 == "" {
		return ""
	}
	stars := 12
	switch c.Brand {
	case "AMEX":
		stars = 11
	case "DINERS":
		stars = 10
	}
	return strings.Repeat("*", stars) + c.Last4
}

// tds3 is how a token goes through EMV 3-D Secure.
type tds3 string

const (
	tdsNone         tds3 = ""
	tdsFrictionless tds3 = "frictionless"
	tdsChallenge    tds3 = "challenge"
)

// kind is one token outcome.
type kind struct {
	name string
	card Card
	// decline is the ErrInfo of a decline (nothing settles).
	decline string
	tds     tds3
	// comms answers 42C010000; commsCommit commits first.
	comms, commsCommit bool
	slow               bool
	rateLimited        bool
	// tokenError is the EX… code the fixture answers (fixtures only).
	tokenError string
}

// kinds are the token kinds by name (a fixture token is "tok_" + name).
var kinds = map[string]kind{
	"success":            {card: Card{"VISA", "1111", "3012"}},
	"decline_g02":        {card: Card{"VISA", "0002", "3012"}, decline: "42G020000"},
	"decline_g03":        {card: Card{"MASTER", "0003", "3012"}, decline: "42G030000"},
	"decline_g12":        {card: Card{"JCB", "0012", "3012"}, decline: "42G120000"},
	"cvc_g44":            {card: Card{"VISA", "0044", "3012"}, decline: "42G440000"},
	"3ds_frictionless":   {card: Card{"VISA", "3001", "3012"}, tds: tdsFrictionless},
	"3ds_challenge":      {card: Card{"MASTER", "3002", "3012"}, tds: tdsChallenge},
	"comms_42c":          {card: Card{"VISA", "4200", "3012"}, comms: true, commsCommit: true},
	"comms_42c_nocommit": {card: Card{"VISA", "4201", "3012"}, comms: true},
	"slow":               {card: Card{"VISA", "9999", "3012"}, slow: true},
	"rate_limit_e92":     {card: Card{"VISA", "9200", "3012"}, rateLimited: true},
	"used":               {tokenError: infoTokenUsed},
	"expired":            {tokenError: infoTokenExpired},
}

// Kinds lists the token kinds IssueToken and POST /_sim/tokens accept, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for name, k := range kinds {
		if k.tokenError == "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// lookupKind resolves a kind name ("" = success; a "tok_" prefix is allowed).
func lookupKind(name string) (kind, bool) {
	name = strings.TrimPrefix(name, "tok_")
	if name == "" {
		name = "success"
	}
	k, ok := kinds[name]
	if !ok || k.tokenError != "" {
		return kind{}, false
	}
	k.name = name
	return k, true
}

// issuedToken is a minted single-use token.
type issuedToken struct {
	kind      kind
	expiresAt time.Time
	used      bool
}

// ErrUnknownKind is returned when a token is asked for with a kind the simulator lacks.
var ErrUnknownKind = errors.New("gmopg sim: unknown token kind")

// IssueToken mints a single-use token of kind (a name from Kinds, with or without the
// "tok_" prefix; "" is "success") valid for TokenLifetime on the simulator clock, as
// Multipayment.getToken would. It returns "" for an unknown kind.
func (s *Simulator) IssueToken(kind string) string {
	tok, _, err := s.IssueTokenCard(kind, Card{})
	if err != nil {
		return ""
	}
	return tok
}

// IssueTokenCard is IssueToken with the card the token stands for: empty fields of card
// take the kind's defaults. It returns the token and its expiry.
func (s *Simulator) IssueTokenCard(kindName string, card Card) (string, time.Time, error) {
	k, ok := lookupKind(kindName)
	if !ok {
		return "", time.Time{}, ErrUnknownKind
	}
	if card.Brand != "" {
		k.card.Brand = strings.ToUpper(card.Brand)
	}
	if card.Last4 != "" {
		k.card.Last4 = card.Last4
	}
	if card.Expire != "" {
		k.card.Expire = card.Expire
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	s.sweepTokens(now)
	tok := "tok_" + randomHex(24)
	s.tokens[tok] = &issuedToken{kind: k, expiresAt: now.Add(TokenLifetime)}
	return tok, now.Add(TokenLifetime), nil
}

// sweepTokens forgets minted tokens a day past expiry (later they answer EX1000304). It
// runs at most once per simulated hour. Needs s.mu.
func (s *Simulator) sweepTokens(now time.Time) {
	if now.Sub(s.sweptAt) < time.Hour && !s.sweptAt.IsZero() {
		return
	}
	s.sweptAt = now
	for tok, it := range s.tokens {
		if now.Sub(it.expiresAt) > 24*time.Hour {
			delete(s.tokens, tok)
		}
	}
}

// resolveToken finds the outcome of token without using it up: the kind, the minted
// token (nil for a fixture) or an EX… error. Needs s.mu.
func (s *Simulator) resolveToken(token string, now time.Time) (kind, *issuedToken, string) {
	switch {
	case token == "":
		return kind{}, nil, infoTokenMissing
	case len(token) > 256:
		return kind{}, nil, infoTokenInvalid
	}
	if it := s.tokens[token]; it != nil {
		switch {
		case it.used:
			return kind{}, nil, infoTokenUsed
		case !now.Before(it.expiresAt):
			return kind{}, nil, infoTokenExpired
		}
		return it.kind, it, ""
	}
	if name, ok := strings.CutPrefix(token, "tok_"); ok {
		if k, ok := kinds[name]; ok {
			if k.tokenError != "" {
				return kind{}, nil, k.tokenError
			}
			k.name = name
			return k, nil, ""
		}
	}
	return kind{}, nil, infoTokenInvalid
}

// randomHex returns n random bytes as lower-case hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
