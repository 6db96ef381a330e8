package paypay

import (
	"net/http"

	"payhub/mocks/sim"
)

// resultCode is one OPA result: the HTTP status, resultInfo.code and resultInfo.codeId.
// codeId is empty where PayPay publishes none for the code (docs/partners/paypay.md §4, §6).
type resultCode struct {
	status int
	code   string
	codeID string
}

// The result codes the simulator answers with (docs/partners/paypay.md §4, §6, §11).
var (
	resSuccess         = resultCode{http.StatusOK, "SUCCESS", "08100001"}
	resCreated         = resultCode{http.StatusCreated, "SUCCESS", "08100001"}
	resRequestAccepted = resultCode{http.StatusAccepted, "REQUEST_ACCEPTED", "08100001"}

	resUnauthorized    = resultCode{http.StatusUnauthorized, "UNAUTHORIZED", "08100016"}
	resOpOutOfScope    = resultCode{http.StatusUnauthorized, "OP_OUT_OF_SCOPE", "08100023"}
	resInvalidRequest  = resultCode{http.StatusBadRequest, "INVALID_REQUEST_PARAMS", "08100006"}
	resMissingRequest  = resultCode{http.StatusBadRequest, "MISSING_REQUEST_PARAMS", "08100024"}
	resInvalidParams   = resultCode{http.StatusBadRequest, "INVALID_PARAMS", "00200004"}
	resResourceMissing = resultCode{http.StatusNotFound, "RESOURCE_NOT_FOUND", "00200001"}
	resMethodNotAllow  = resultCode{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", ""}

	resDuplicateQR     = resultCode{http.StatusBadRequest, "DUPLICATE_DYNAMIC_QR_REQUEST", "01652073"}
	resQRNotFound      = resultCode{http.StatusNotFound, "DYNAMIC_QR_NOT_FOUND", "01652072"}
	resQRPaymentAbsent = resultCode{http.StatusBadRequest, "DYNAMIC_QR_PAYMENT_NOT_FOUND", "01652075"}

	resNoFunds            = resultCode{http.StatusBadRequest, "NO_SUFFICIENT_FUND", ""}
	resUserInactive       = resultCode{http.StatusUnauthorized, "USER_STATE_IS_NOT_ACTIVE", ""}
	resUserInvalid        = resultCode{http.StatusUnauthorized, "INVALID_USER_AUTHORIZATION_ID", ""}
	resUserExpired        = resultCode{http.StatusUnauthorized, "EXPIRED_USER_AUTHORIZATION_ID", ""}
	resSuspectedDuplicate = resultCode{http.StatusBadRequest, "SUSPECTED_DUPLICATE_PAYMENT", "00200017"}
	resCodeInvalid        = resultCode{http.StatusBadRequest, "INVALID_AUTHORIZATION_CODE", ""}
	resCodeExpired        = resultCode{http.StatusBadRequest, "EXPIRED_AUTHORIZATION_CODE", ""}

	resNotReversible     = resultCode{http.StatusBadRequest, "ORDER_NOT_REVERSIBLE", "00200044"}
	resUnacceptableOp    = resultCode{http.StatusBadRequest, "UNACCEPTABLE_OP", "00200013"}
	resRefundAmount      = resultCode{http.StatusBadRequest, "INVALID_PARAMS", "00200015"}
	resRefundWindow      = resultCode{http.StatusBadRequest, "REFUND_WINDOW_EXCEED", ""}
	resNoSuchRefundOrder = resultCode{http.StatusNotFound, "NO_SUCH_REFUND_ORDER", "00200018"}

	resNotCapturable      = resultCode{http.StatusBadRequest, "ORDER_NOT_CAPTURABLE", ""}
	resAlreadyCaptured    = resultCode{http.StatusBadRequest, "ALREADY_CAPTURED", ""}
	resOrderExpired       = resultCode{http.StatusBadRequest, "ORDER_EXPIRED", ""}
	resHigherCapture      = resultCode{http.StatusBadRequest, "HIGHER_CAPTURE_NOT_PERMITTED", ""}
	resOrderNotCancelable = resultCode{http.StatusBadRequest, "ORDER_NOT_CANCELABLE", "00200042"}

	// resTransactionNotFound answers an unknown cashback or reversal; its HTTP status is
	// payhub's choice (docs/partners/paypay.md §4.8).
	resTransactionNotFound = resultCode{http.StatusNotFound, "TRANSACTION_NOT_FOUND", ""}
)

// resultInfo is the envelope header every OPA response carries (docs/partners/paypay.md §3).
type resultInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	CodeID  string `json:"codeId"`
}

// envelope is an OPA response. Data is always present, null on errors and on 202.
type envelope struct {
	ResultInfo resultInfo `json:"resultInfo"`
	Data       any        `json:"data"`
}

// writeResult answers with an OPA envelope; data is nil for errors.
func writeResult(w http.ResponseWriter, rc resultCode, message string, data any) {
	sim.WriteJSON(w, rc.status, envelope{
		ResultInfo: resultInfo{Code: rc.code, Message: message, CodeID: rc.codeID},
		Data:       data,
	})
}

// writeError answers an OPA error (data null).
func writeError(w http.ResponseWriter, rc resultCode, message string) {
	writeResult(w, rc, message, nil)
}

// apiError is a refusal a handler returns while holding the state lock; the handler
// writes it after unlocking.
type apiError struct {
	rc      resultCode
	message string
}

func (e *apiError) Error() string { return e.rc.code + ": " + e.message }

func fail(rc resultCode, message string) *apiError { return &apiError{rc: rc, message: message} }
