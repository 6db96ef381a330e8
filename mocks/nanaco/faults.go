package nanaco

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"payhub/mocks/sim"
)

// FaultErrorBody is the simulator's sim.ErrorBody: an NCS error body (docs/partners/nanaco.md
// §B7) for an injected error status. code picks the code; empty means the usual one for
// the status: 503 CENTER_MAINTENANCE (NOT_PROCESSED, retryable), 429 RATE_LIMITED, 504
// UPSTREAM_TIMEOUT and other 5xx INTERNAL (outcome UNKNOWN), 4xx the first code of the
// status in §B7.
func FaultErrorBody(status int, code string) (string, []byte) {
	if code == "" {
		code = defaultFaultCode(status)
	}
	message := "simulated fault: " + http.StatusText(status)
	switch code {
	case CodeCenterMaintenance:
		message = "the centre is in a scheduled maintenance window"
	case CodeRateLimited:
		message = "too many requests: retry after Retry-After"
	}
	return "application/json", renderError(status, code, message, nil)
}

func defaultFaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidRequest
	case http.StatusUnauthorized:
		return CodeAuthFailed
	case http.StatusForbidden:
		return CodeTerminalNotAllowed
	case http.StatusNotFound:
		return CodeTxnNotFound
	case http.StatusConflict:
		return CodeSeqReused
	case http.StatusUnprocessableEntity:
		return CodeInsufficientBalance
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeCenterMaintenance
	case http.StatusGatewayTimeout:
		return CodeUpstreamTimeout
	}
	return CodeInternal
}

// headerFault builds the handler for one request carrying NCS-Mock-Fault (only with
// Config.AllowFaultHeader). The value is a FAULT of sim.ParseFaultFlag with its options
// ("commit_then_drop", "error:503", "error:429:RATE_LIMITED", "latency:2s",
// "hang", "reset", "commit_then_error:500 latency=1s"), or "maintenance" (error:503
// CENTER_MAINTENANCE).
func (s *Simulator) headerFault(value string) (http.Handler, error) {
	value = strings.TrimSpace(value)
	if value == "maintenance" {
		value = "error:503:" + CodeCenterMaintenance
	}
	rules, err := sim.ParseFaultFlag("* * 1 " + value)
	if err != nil || len(rules) != 1 {
		if err == nil {
			err = errors.New("one fault only")
		}
		return nil, fmt.Errorf("%s: %w", HeaderMockFault, err)
	}
	engine := sim.NewFaults(0)
	if s.cfg.Faults != nil {
		engine.Sleep = s.cfg.Faults.Sleep
	}
	if err := engine.Set(rules); err != nil {
		return nil, fmt.Errorf("%s: %w", HeaderMockFault, err)
	}
	return engine.WrapWith(http.HandlerFunc(s.serve), FaultErrorBody), nil
}

// serveFaults serves /_sim/faults through the fault engine of Config.Faults.
func (s *Simulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Faults == nil {
		writeControlError(w, http.StatusNotFound, "fault injection is off: the simulator was started without a fault engine")
		return
	}
	s.cfg.Faults.ControlHandler().ServeHTTP(w, r)
}
