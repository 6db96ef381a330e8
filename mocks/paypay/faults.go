package paypay

import (
	"encoding/json"
	"net/http"
	"strings"
)

// faultCode is a server-side OPA result an injected fault answers with
// (docs/partners/paypay.md §6). codeID is empty where PayPay publishes none.
type faultCode struct {
	codeID  string
	message string
}

var faultCodes = map[string]faultCode{
	"INTERNAL_SERVER_ERROR": {"08101000", "Something went wrong on PayPay's side; the result is unknown"},
	"TRANSACTION_FAILED":    {"", "Transaction failed; create a new transaction"},
	"SERVICE_ERROR":         {"08100026", "Service error"},
	"MAINTENANCE_MODE":      {"08100999", "PayPay is under maintenance"},
	"RATE_LIMIT":            {"08100998", "Too many requests"},
}

// defaultFaultCode is the code PayPay answers a status with when a fault names none.
var defaultFaultCode = map[int]string{
	http.StatusInternalServerError: "INTERNAL_SERVER_ERROR",
	http.StatusServiceUnavailable:  "MAINTENANCE_MODE",
	http.StatusTooManyRequests:     "RATE_LIMIT",
}

// FaultErrorBody is the simulator's sim.ErrorBody: the OPA envelope (data null) for an
// injected error status. code picks the resultInfo.code ("" = PayPay's usual one: 500
// INTERNAL_SERVER_ERROR 08101000, 503 MAINTENANCE_MODE 08100999, 429 RATE_LIMIT 08100998;
// other statuses get their HTTP reason in capitals, e.g. BAD_GATEWAY). Known codes carry
// their codeId; TRANSACTION_FAILED and SERVICE_ERROR are also known.
func FaultErrorBody(status int, code string) (string, []byte) {
	if code == "" {
		code = defaultFaultCode[status]
	}
	if code == "" {
		code = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	fc, ok := faultCodes[code]
	if !ok {
		fc.message = "Simulated fault: " + http.StatusText(status)
	}
	body, _ := json.Marshal(envelope{ResultInfo: resultInfo{Code: code, Message: fc.message, CodeID: fc.codeID}})
	return "application/json", body
}

// serveFaults serves /_sim/faults through the fault engine of Config.Faults.
func (s *Simulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Faults == nil {
		writeControlError(w, http.StatusNotFound, "fault injection is off: the simulator was started without a fault engine")
		return
	}
	s.cfg.Faults.ControlHandler().ServeHTTP(w, r)
}
