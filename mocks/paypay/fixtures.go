package paypay

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Linked users (userAuthorizationId fixtures); see the package doc.
const (
	// UserOK pays successfully.
	UserOK = "user-ok"
	// UserNoFunds is refused with 400 NO_SUFFICIENT_FUND.
	UserNoFunds = "user-nofunds"
	// UserInactive is refused with 401 USER_STATE_IS_NOT_ACTIVE.
	UserInactive = "user-inactive"
	// UserExpired is refused with 401 EXPIRED_USER_AUTHORIZATION_ID.
	UserExpired = "user-expired"
)

// Barcode fixtures (docs/partners/paypay.md §11 stand-in): reusable, never expire.
const (
	// BarcodePrefix starts every simulator barcode (18 digits in all).
	BarcodePrefix = "9000818188"
	// BarcodeOK pays as UserOK.
	BarcodeOK = "900081818800000000"
	// BarcodeNoFunds pays as UserNoFunds.
	BarcodeNoFunds = "900081818800000001"
	// BarcodeInactive pays as UserInactive.
	BarcodeInactive = "900081818800000002"
	// BarcodeExpired is refused with EXPIRED_AUTHORIZATION_CODE.
	BarcodeExpired = "900081818800000003"
	// BarcodeInvalid is refused with INVALID_AUTHORIZATION_CODE.
	BarcodeInvalid = "900081818800000004"
)

// barcodeLength is the length of a simulator barcode (payhub convention).
const barcodeLength = 18

// BarcodeLifetime is how long an issued barcode stays valid.
const BarcodeLifetime = 5 * time.Minute

// similarWindow is the SUSPECTED_DUPLICATE_PAYMENT guard: same user, same amount, within it.
const similarWindow = 5 * time.Minute

// fixedBarcodeUsers maps the reusable barcodes to the users they pay as.
var fixedBarcodeUsers = map[string]string{
	BarcodeOK:       UserOK,
	BarcodeNoFunds:  UserNoFunds,
	BarcodeInactive: UserInactive,
}

// checkUser answers the refusal a linked user's payment meets, or nil for a user who pays.
func checkUser(user string) *apiError {
	switch user {
	case UserOK:
		return nil
	case UserNoFunds:
		return fail(resNoFunds, "Insufficient funds in the user's wallet")
	case UserInactive:
		return fail(resUserInactive, "User state is not active")
	case UserExpired:
		return fail(resUserExpired, "The user authorization has expired")
	default:
		return fail(resUserInvalid, "Unknown userAuthorizationId")
	}
}

// redeemBarcode resolves an authorization code to its user at now. An issued code is
// consumed only by a completed payment (see consumeBarcode), so a refusal such as
// SUSPECTED_DUPLICATE_PAYMENT leaves it usable for the agreed retry. Caller holds s.mu.
func (s *Simulator) redeemBarcode(code string, now time.Time) (string, *apiError) {
	invalid := fail(resCodeInvalid, "Invalid authorization code")
	if len(code) != barcodeLength || !strings.HasPrefix(code, BarcodePrefix) || !allDigits(code) {
		return "", invalid
	}
	switch code {
	case BarcodeExpired:
		return "", fail(resCodeExpired, "The authorization code has expired")
	case BarcodeInvalid:
		return "", invalid
	}
	if user, ok := fixedBarcodeUsers[code]; ok {
		return user, nil
	}
	b, ok := s.barcodes[code]
	switch {
	case !ok || b.used:
		return "", invalid
	case now.Sub(b.issuedAt) >= BarcodeLifetime:
		return "", fail(resCodeExpired, "The authorization code has expired")
	}
	return b.user, nil
}

// consumeBarcode marks an issued code used; fixtures are reusable. Caller holds s.mu.
func (s *Simulator) consumeBarcode(code string) {
	if b, ok := s.barcodes[code]; ok {
		b.used = true
	}
}

// IssueBarcode hands out a single-use barcode for userAuthorizationID, valid for
// BarcodeLifetime from the simulator clock's now: what the customer's PayPay app would show.
// The user's fixture decides the payment's outcome; an unknown user is refused with
// INVALID_USER_AUTHORIZATION_ID when the code is used.
func (s *Simulator) IssueBarcode(userAuthorizationID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		code := BarcodePrefix + randomDigits(barcodeLength-len(BarcodePrefix))
		if _, fixture := fixedBarcodeUsers[code]; fixture || code == BarcodeExpired || code == BarcodeInvalid {
			continue
		}
		if _, taken := s.barcodes[code]; taken {
			continue
		}
		s.barcodes[code] = &issuedBarcode{user: userAuthorizationID, issuedAt: s.cfg.Clock.Now()}
		return code
	}
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(fmt.Sprintf("paypay sim: crypto/rand: %v", err))
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
