package linepay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"payhub/contracts"
)

// Return codes payhub branches on (docs/partners/linepay.md §4.3, §6.1).
const (
	codeSuccess            = "0000"
	codeCheckApproved      = "0110"
	codeCheckCanceled      = "0121"
	codeCheckFailed        = "0122"
	codeCheckCompleted     = "0123"
	codeNotMember          = "1101"
	codeMemberSuspended    = "1102"
	codeBadOneTimeKey      = "1133"
	codeAccountError       = "1141"
	codeNoBalance          = "1142"
	codeNotFound           = "1150"
	codeTransactionExists  = "1152"
	codeNotRefundable      = "1155"
	codeRequestNotFound    = "1159"
	codeRefundPeriodOver   = "1163"
	codeAboveRefundable    = "1164"
	codeAlreadyDone        = "1165"
	codeNotApprovedYet     = "1169"
	codeOrderIDUsed        = "1172"
	codeWrongStatus        = "1179"
	codePaymentExpired     = "1180"
	codeRegKeyExpired      = "1193"
	codeDuplicateInProcess = "1198"
	codeInternalRequest    = "1199"
	codeTemporaryCard      = "1280"
)

// verdict is how payhub reads one LINE Pay answer (§6.1 classes).
type verdict int

const (
	// verdictUnknown (U): LINE may or may not have acted; inquire first.
	verdictUnknown verdict = iota
	// verdictSuccess (S): 0000.
	verdictSuccess
	// verdictFailed (F): a definite refusal; nothing moved.
	verdictFailed
	// verdictConfig (F cfg): a refusal for a setup or integration error (credentials, IP
	// allowlist, currency, parameters); nothing moved, and an operator must look.
	verdictConfig
	// verdictRetryable (R): refused for now; the identical request may be resent later.
	verdictRetryable
)

// failedCodes are §6.1's F codes (besides check's 0121/0122, read by check itself).
var failedCodes = map[string]bool{
	codeNotMember: true, codeMemberSuspended: true, "1110": true, "1115": true, codeBadOneTimeKey: true,
	codeAccountError: true, codeNoBalance: true, codeNotFound: true, codeNotRefundable: true,
	codeRefundPeriodOver: true, codeAboveRefundable: true, "1170": true, codeWrongStatus: true,
	codePaymentExpired: true, "1154": true, "1190": true, codeRegKeyExpired: true, "1194": true,
	"1264": true, "2042": true,
}

// configCodes are §6.1's "F cfg" codes: refusals of the request itself.
var configCodes = map[string]bool{
	"1104": true, "1105": true, "1106": true, "1124": true, "1153": true, "1177": true, "1178": true,
	"1183": true, "1184": true, "1999": true, "2101": true, "2102": true, "2103": true, "2104": true,
}

// retryableCodes are §6.1's R codes.
var retryableCodes = map[string]bool{codeNotApprovedYet: true, "1900": true, "1902": true}

// classify reads a returnCode by §6.1's table. Card errors 1281–1298 are definite; every
// code the table does not list is unknown, never a success or a failure.
func classify(code string) verdict {
	switch {
	case code == codeSuccess:
		return verdictSuccess
	case failedCodes[code]:
		return verdictFailed
	case configCodes[code]:
		return verdictConfig
	case retryableCodes[code]:
		return verdictRetryable
	case len(code) == 4 && code >= "1281" && code <= "1298":
		return verdictFailed
	default:
		return verdictUnknown
	}
}

// failureCode maps a refusal to payhub's failure code.
func failureCode(code string) string {
	switch code {
	case codeNoBalance:
		return contracts.FailureInsufficientFunds
	case codeNotMember, codeMemberSuspended, codeAccountError:
		return contracts.FailureUserNotActive
	case codeBadOneTimeKey:
		// LINE does not tell an invalid key from an expired or used one (§7.4).
		return contracts.FailureBarcodeInvalid
	case codePaymentExpired, codeRegKeyExpired:
		return contracts.FailureExpired
	default:
		return contracts.FailurePartnerRejected
	}
}

// envelope is every LINE Pay response body (§2). Info stays raw until the operation knows
// its shape (an object or an array).
type envelope struct {
	ReturnCode    string          `json:"returnCode"`
	ReturnMessage string          `json:"returnMessage"`
	Info          json.RawMessage `json:"info"`
}

// errUnreadable marks a body that is not a LINE Pay envelope, or info of the wrong shape.
var errUnreadable = errors.New("unreadable LINE Pay response")

// parseEnvelope decodes a response body. returnCode must be a string of 4 ASCII digits:
// it is the only thing to branch on, so a body without one is unreadable.
func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return envelope{}, errUnreadable
	}
	if len(env.ReturnCode) != 4 || !isDigits(env.ReturnCode) {
		return envelope{}, errUnreadable
	}
	if bytes.Equal(bytes.TrimSpace(env.Info), []byte("null")) {
		env.Info = nil
	}
	env.ReturnMessage = truncate(env.ReturnMessage, 200)
	return env, nil
}

// decodeInfo decodes the envelope's info into v. Missing info is an error: an accepted
// answer without what it promises cannot be acted on.
func (e envelope) decodeInfo(v any) error {
	if len(e.Info) == 0 {
		return errUnreadable
	}
	if err := json.Unmarshal(e.Info, v); err != nil {
		return errUnreadable
	}
	return nil
}

// majorUnits converts payhub's minor units to the whole major units LINE takes (§7.2):
// TWD/THB amounts have two ISO decimals, and LINE takes whole dollars (and, until satang is
// confirmed, whole baht). An amount with cents is refused, never rounded. The engine
// refuses such amounts first (Capabilities' Step); this check stays because the amount LINE
// is sent is an integer of major units, which cannot carry a fraction.
func majorUnits(m contracts.Money) (int64, error) {
	switch m.Currency {
	case contracts.TWD, contracts.THB:
	default:
		// The conversion knows these two ISO exponents only: another currency's minor
		// units would be sent mis-scaled.
		return 0, fmt.Errorf("LINE Pay adapter handles TWD and THB only, not %q", m.Currency)
	}
	if m.Amount <= 0 {
		return 0, errors.New("amount must be positive")
	}
	if m.Amount%wholeUnit != 0 {
		return 0, fmt.Errorf("LINE Pay takes whole %s only; %d.%02d %s has a fractional part",
			m.Currency, m.Amount/100, m.Amount%100, m.Currency)
	}
	return m.Amount / wholeUnit, nil
}

// maxMajorDigits bounds the integer part of an amount LINE sends (far below overflow).
const maxMajorDigits = 15

// minorUnits reads one of LINE's amounts, a JSON number in major units with at most two
// decimals (§7.2), as payhub minor units. It parses the decimal text, never a float; an
// exponent, a third decimal or an absurd size is an error.
func minorUnits(n json.Number) (int64, error) {
	s := string(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if !isDigits(whole) || len(whole) > maxMajorDigits || (len(whole) > 1 && whole[0] == '0') ||
		(hasFrac && (!isDigits(frac) || len(frac) > 2)) {
		return 0, fmt.Errorf("amount %q is not a decimal with at most 2 places", truncate(string(n), 30))
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	cents := int64(0)
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		cents, _ = strconv.ParseInt(frac, 10, 64)
	}
	v := w*100 + cents
	if neg {
		v = -v
	}
	return v, nil
}

// payInfo is one entry of payInfo[] (§4.2, §5).
type payInfo struct {
	Method string      `json:"method"`
	Amount json.Number `json:"amount"`
}

// sumPayInfo is Σ payInfo[].amount in minor units; ok is false when the list is empty or an
// amount is unreadable.
func sumPayInfo(items []payInfo) (sum int64, ok bool) {
	if len(items) == 0 {
		return 0, false
	}
	for _, p := range items {
		v, err := minorUnits(p.Amount)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}

// paymentInfo is the info of pay, confirm, capture and offline check, and one row of a
// details answer (§4.2, §4.3, §5).
type paymentInfo struct {
	TransactionID           TxID        `json:"transactionId"`
	OrderID                 string      `json:"orderId"`
	TransactionDate         string      `json:"transactionDate"`
	TransactionType         string      `json:"transactionType"`
	PayInfo                 []payInfo   `json:"payInfo"`
	AuthorizationExpireDate string      `json:"authorizationExpireDate"`
	Status                  string      `json:"status"`
	FailReturnCode          string      `json:"failReturnCode"`
	PayStatus               string      `json:"payStatus"`
	RefundList              []refundRow `json:"refundList"`
	OriginalTransactionID   TxID        `json:"originalTransactionId"`
}

// refundRow is one entry of a details row's refundList (§4.3); RefundAmount is negative.
type refundRow struct {
	RefundTransactionID   TxID        `json:"refundTransactionId"`
	TransactionType       string      `json:"transactionType"`
	RefundAmount          json.Number `json:"refundAmount"`
	RefundTransactionDate string      `json:"refundTransactionDate"`
}

// requestInfo is the info of an Online v3 request (§4.1).
type requestInfo struct {
	TransactionID      TxID   `json:"transactionId"`
	PaymentAccessToken string `json:"paymentAccessToken"`
	PaymentURL         struct {
		Web string `json:"web"`
		App string `json:"app"`
	} `json:"paymentUrl"`
}

// refundInfo is the info of a refund (§4.2, §5).
type refundInfo struct {
	RefundTransactionID   TxID   `json:"refundTransactionId"`
	RefundTransactionDate string `json:"refundTransactionDate"`
}

// Details payStatus values (§4.3).
const (
	payStatusCapture       = "CAPTURE"
	payStatusAuthorization = "AUTHORIZATION"
	payStatusVoided        = "VOIDED_AUTHORIZATION"
	payStatusExpired       = "EXPIRED_AUTHORIZATION"
)

// Offline v4 check info.status values (§5, working model).
const (
	offlineAuthReady = "AUTH_READY"
	offlineComplete  = "COMPLETE"
	offlineCancel    = "CANCEL"
	offlineFail      = "FAIL"
	offlineRefunded  = "REFUND"
)
