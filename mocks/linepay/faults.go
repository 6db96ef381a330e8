package linepay

import (
	"encoding/json"
	"net/http"
)

// FaultErrorBody is the simulator's sim.ErrorBody: LINE's envelope, without info, for an
// injected error status. code is the returnCode (a 4-character LINE code such as 9000,
// 1198, 1199 or 1900); empty or malformed means 9000 (internal error).
func FaultErrorBody(status int, code string) (string, []byte) {
	if len(code) != 4 {
		code = codeInternalError
	}
	body, _ := json.Marshal(envelope{ReturnCode: code, ReturnMessage: "Simulated fault (HTTP " + http.StatusText(status) + "): " + message(code)})
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
