package linepay

import (
	"strings"
	"time"
)

// oneTimeKey fixtures (payhub): what the customer's My Code shows, 18 digits in Taiwan and
// 12 in Thailand, all beginning 39 like payhub's routing prefix for LINE Pay. Fixtures are
// reusable and never expire; see the package doc.
const (
	// OneTimeKeyOK pays (credit card), 18 digits (TW).
	OneTimeKeyOK = "391000000000000000"
	// OneTimeKeyNoBalance is refused with 1142 (insufficient balance).
	OneTimeKeyNoBalance = "391000000000000001"
	// OneTimeKeyCardUnusable is refused with 1110 (card unusable).
	OneTimeKeyCardUnusable = "391000000000000002"
	// OneTimeKeyDeclined is refused with 1281 (credit card declined).
	OneTimeKeyDeclined = "391000000000000003"
	// OneTimeKeyExpired is refused with 1133 (invalid or expired oneTimeKey).
	OneTimeKeyExpired = "391000000000000004"
	// OneTimeKeySlow pays after Config.SlowPayDelay: the payment exists only once the
	// delay is over (check answers 1150 until then).
	OneTimeKeySlow = "391000000000000005"
	// OneTimeKeyBalance pays from the LINE Pay balance (payInfo method BALANCE).
	OneTimeKeyBalance = "391000000000000006"

	// OneTimeKeyOKTH is OneTimeKeyOK in Thailand's 12 digits; the TH fixtures end in the
	// same digit as their TW counterparts (391000000001 gives 1142, …, 391000000006
	// pays from the balance).
	OneTimeKeyOKTH = "391000000000"
)

// fixture prefixes: 18-digit (TW) and 12-digit (TH) fixtures share the last digit.
const (
	fixturePrefixTW = "39100000000000000"
	fixturePrefixTH = "39100000000"
	// issuedPrefix starts every issued key, so it never collides with a fixture.
	issuedPrefix = "398"
)

// keyOutcome is what paying with a oneTimeKey does.
type keyOutcome struct {
	failCode string // "" pays
	method   string
	slow     bool
}

// fixtureOutcomes by the fixture's last digit.
var fixtureOutcomes = map[byte]keyOutcome{
	'0': {method: methodCard},
	'1': {failCode: codeNoBalance},
	'2': {failCode: codeCardUnusable},
	'3': {failCode: codeCardDeclined},
	'4': {failCode: codeBadOneTimeKey},
	'5': {method: methodCard, slow: true},
	'6': {method: methodBalance},
}

// issuedKey is a fresh single-use key from IssueOneTimeKey.
type issuedKey struct {
	expiresAt time.Time
	used      bool
}

// IssueOneTimeKey returns a fresh single-use oneTimeKey, as the customer's app shows it:
// 18 digits for countryCode "TW" (or ""), 12 for "TH". It pays (credit card) once, within
// OneTimeKeyLifetime on the simulator clock; later, or again, it gets 1133.
func (s *Simulator) IssueOneTimeKey(countryCode string) string {
	n := 18
	if strings.EqualFold(countryCode, "TH") {
		n = 12
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		key := issuedPrefix + digits(n-len(issuedPrefix))
		if _, taken := s.keys[key]; !taken {
			s.keys[key] = &issuedKey{expiresAt: s.now().Add(OneTimeKeyLifetime)}
			return key
		}
	}
}

// redeemKey decides what paying with key does, and uses an issued key up. Needs s.mu.
func (s *Simulator) redeemKey(key string, now time.Time) keyOutcome {
	if (len(key) == 18 && strings.HasPrefix(key, fixturePrefixTW)) || (len(key) == 12 && strings.HasPrefix(key, fixturePrefixTH)) {
		if o, ok := fixtureOutcomes[key[len(key)-1]]; ok {
			return o
		}
		return keyOutcome{failCode: codeBadOneTimeKey}
	}
	k, ok := s.keys[key]
	if !ok || k.used || !now.Before(k.expiresAt) {
		return keyOutcome{failCode: codeBadOneTimeKey}
	}
	k.used = true
	return keyOutcome{method: methodCard}
}
