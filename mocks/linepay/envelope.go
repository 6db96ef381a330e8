package linepay

import (
	"net/http"

	"payhub/mocks/sim"
)

// Return codes the simulator answers with (docs/partners/linepay.md §4.3, §6.1).
const (
	codeSuccess           = "0000"
	codeCheckApproved     = "0110"
	codeCheckCancelled    = "0121"
	codeCheckFailed       = "0122"
	codeCheckCompleted    = "0123"
	codeUnknownMerchant   = "1104"
	codeHeaderError       = "1106"
	codeCardUnusable      = "1110"
	codeBadScale          = "1124"
	codeBadOneTimeKey     = "1133"
	codeNoBalance         = "1142"
	codeNotFound          = "1150"
	codeAmountDiffers     = "1153"
	codeNotRefundable     = "1155"
	codeAboveRefundable   = "1164"
	codeAlreadyDone       = "1165"
	codeNotApproved       = "1169"
	codeDuplicateOrder    = "1172"
	codeTooManyResults    = "1177"
	codeBadCurrency       = "1178"
	codeWrongStatus       = "1179"
	codeExpired           = "1180"
	codeAmountNotPositive = "1183"
	codeAboveAuthorized   = "1184"
	codeCardDeclined      = "1281"
	codeParameterError    = "2101"
	codeBadJSON           = "2102"
	codeInternalError     = "9000"
)

// messages are the returnMessage texts. Clients must branch on returnCode only (§2).
var messages = map[string]string{
	codeSuccess:           "Success.",
	codeCheckApproved:     "Payment approved by the customer; confirm it.",
	codeCheckCancelled:    "Payment cancelled by the customer or expired.",
	codeCheckFailed:       "Payment failed.",
	codeCheckCompleted:    "Payment completed.",
	codeUnknownMerchant:   "Merchant not found.",
	codeHeaderError:       "Header information error.",
	codeCardUnusable:      "This card cannot be used.",
	codeBadScale:          "Amount scale error.",
	codeBadOneTimeKey:     "Invalid or expired oneTimeKey.",
	codeNoBalance:         "Insufficient balance.",
	codeNotFound:          "Transaction record not found.",
	codeAmountDiffers:     "The amount differs from the payment request.",
	codeNotRefundable:     "The transaction cannot be refunded.",
	codeAboveRefundable:   "The refund amount exceeds the refundable amount.",
	codeAlreadyDone:       "The transaction has already been refunded or voided.",
	codeNotApproved:       "The customer has not yet approved the payment.",
	codeDuplicateOrder:    "A transaction with the same orderId already exists.",
	codeTooManyResults:    "More than 100 transactions match.",
	codeBadCurrency:       "The currency is not supported by this merchant.",
	codeWrongStatus:       "Not possible in the transaction's current status.",
	codeExpired:           "The payment has expired.",
	codeAmountNotPositive: "The amount must be greater than 0.",
	codeAboveAuthorized:   "The amount exceeds the authorized amount.",
	codeCardDeclined:      "Credit card declined.",
	codeParameterError:    "Parameter error.",
	codeBadJSON:           "Invalid JSON.",
	codeInternalError:     "Internal error.",
}

func message(code string) string {
	if m, ok := messages[code]; ok {
		return m
	}
	return "Error " + code + "."
}

// envelope is every LINE Pay answer (§2). Info is present on success only.
type envelope struct {
	ReturnCode    string `json:"returnCode"`
	ReturnMessage string `json:"returnMessage"`
	Info          any    `json:"info,omitempty"`
}

// writeInfo answers 0000 with info (nil for the bare envelope of void).
func writeInfo(w http.ResponseWriter, info any) {
	sim.WriteJSON(w, http.StatusOK, envelope{ReturnCode: codeSuccess, ReturnMessage: message(codeSuccess), Info: info})
}

// writeCode answers a bare envelope with code: errors, and the v3 check's status codes.
// LINE answers API errors with HTTP 200.
func writeCode(w http.ResponseWriter, code, msg string) {
	if msg == "" {
		msg = message(code)
	}
	sim.WriteJSON(w, http.StatusOK, envelope{ReturnCode: code, ReturnMessage: msg})
}

// apiError is a refusal: a return code and, optionally, a more precise message.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.message() }

func (e *apiError) message() string {
	if e.msg != "" {
		return e.msg
	}
	return message(e.code)
}

// fail returns an apiError with the code's standard message, or msg when given.
func fail(code string, msg ...string) *apiError {
	e := &apiError{code: code}
	if len(msg) > 0 {
		e.msg = msg[0]
	}
	return e
}

// writeError answers e in the envelope.
func writeError(w http.ResponseWriter, e *apiError) { writeCode(w, e.code, e.message()) }
