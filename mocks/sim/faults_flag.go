package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseFaultFlag reads fault rules written compactly, for a command-line flag:
//
//	flag   = rule { ";" rule }                  blank rules are skipped
//	rule   = METHOD PATH PROBABILITY FAULT { OPTION }   separated by spaces
//	METHOD = "*" | an HTTP method (any case)
//	PATH   = "*" | a path prefix starting with "/"
//	PROBABILITY = a decimal from 0 to 1
//	FAULT  = "latency:" DURATION
//	       | "error" [":" STATUS [":" CODE]]               STATUS defaults to 500
//	       | "hang" | "reset" | "commit_then_drop"
//	       | "commit_then_error" [":" STATUS [":" CODE]]
//	OPTION = "count=" N                                  fire at most N times
//	       | "latency=" DURATION                         delay before the fault acts
//
// DURATION is a Go duration ("250ms", "2s"); CODE is the partner's error code (e.g.
// TRANSACTION_FAILED). Example:
//
//	POST /v2/payments 0.1 commit_then_drop; * /v2/refunds 0.05 error:500; GET * 1 latency:200ms count=3
func ParseFaultFlag(s string) ([]FaultRule, error) {
	var rules []FaultRule
	for part := range strings.SplitSeq(s, ";") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		r, err := parseFaultRule(fields)
		if err != nil {
			return nil, fmt.Errorf("sim: fault rule %q: %w", strings.TrimSpace(part), err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseFaultRule(fields []string) (FaultRule, error) {
	if len(fields) < 4 {
		return FaultRule{}, fmt.Errorf("want METHOD PATH PROBABILITY FAULT, got %d fields", len(fields))
	}
	p, err := strconv.ParseFloat(fields[2], 64)
	if err != nil {
		return FaultRule{}, fmt.Errorf("probability: %w", err)
	}
	f, err := parseFault(fields[3])
	if err != nil {
		return FaultRule{}, err
	}
	r := FaultRule{Method: fields[0], PathPrefix: fields[1], Probability: p, Fault: f}
	for _, opt := range fields[4:] {
		if err := r.applyOption(opt); err != nil {
			return FaultRule{}, err
		}
	}
	if err := r.Validate(); err != nil {
		return FaultRule{}, err
	}
	return r.normalized(), nil
}

// parseFault reads KIND[:ARG[:CODE]].
func parseFault(s string) (Fault, error) {
	kind, arg, _ := strings.Cut(s, ":")
	f := Fault{Kind: FaultKind(kind)}
	switch f.Kind {
	case FaultLatency:
		d, err := time.ParseDuration(arg)
		if err != nil {
			return Fault{}, fmt.Errorf("latency: %w", err)
		}
		f.Latency = d
	case FaultError, FaultCommitThenError:
		if arg == "" {
			break
		}
		status, code, _ := strings.Cut(arg, ":")
		n, err := strconv.Atoi(status)
		if err != nil {
			return Fault{}, fmt.Errorf("status %q: %w", status, err)
		}
		f.Status, f.Code = n, code
	case FaultHang, FaultReset, FaultCommitThenDrop:
		if arg != "" {
			return Fault{}, fmt.Errorf("%s takes no argument", kind)
		}
	default:
		return Fault{}, fmt.Errorf("unknown fault kind %q", kind)
	}
	return f, nil
}

// applyOption reads one key=value after the fault.
func (r *FaultRule) applyOption(opt string) error {
	key, value, ok := strings.Cut(opt, "=")
	if !ok {
		return fmt.Errorf("option %q: want key=value", opt)
	}
	switch key {
	case "count":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		r.Count = n
	case "latency":
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		r.Fault.Latency = d
	default:
		return fmt.Errorf("unknown option %q", key)
	}
	return nil
}
