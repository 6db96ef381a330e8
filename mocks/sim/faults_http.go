package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
)

// ErrorBody renders a partner's error answer for an injected error status: code is
// Fault.Code ("" = the partner's usual code for status). Each simulator supplies its own,
// so a 503 looks like the partner's 503 to its SDK.
type ErrorBody func(status int, code string) (contentType string, body []byte)

// GenericErrorBody is the ErrorBody of Wrap: {"error": "...", "status": …, "code": …}.
func GenericErrorBody(status int, code string) (string, []byte) {
	body, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
		Code   string `json:"code,omitempty"`
	}{"simulated fault: " + http.StatusText(status), status, code})
	return "application/json", body
}

// Wrap is WrapWith(next, GenericErrorBody).
func (f *Faults) Wrap(next http.Handler) http.Handler { return f.WrapWith(next, nil) }

// WrapWith returns next with faults injected as the rules decide; errors are rendered by
// render (nil means GenericErrorBody). Control paths (/_sim/…) are never faulted.
func (f *Faults) WrapWith(next http.Handler, render ErrorBody) http.Handler {
	if render == nil {
		render = GenericErrorBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault, ok := f.Decide(r.Method, r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		f.inject(w, r, next, fault, render)
	})
}

// inject makes one request suffer fault.
func (f *Faults) inject(w http.ResponseWriter, r *http.Request, next http.Handler, fault Fault, render ErrorBody) {
	// net/http notices a client leaving (and cancels r.Context) only once the request body
	// has been read, so read it now and hand the handler a copy.
	r = bufferBody(r)
	if fault.Kind == FaultHang {
		hang(r)
		return
	}
	if fault.Latency > 0 && f.sleep(r.Context(), fault.Latency) != nil {
		return // the client gave up while the request was "on the wire": nothing ran
	}
	switch fault.Kind {
	case FaultLatency:
		next.ServeHTTP(w, r)
	case FaultError:
		writeFaultError(w, fault, render)
	case FaultReset:
		resetConnection(w)
	case FaultCommitThenDrop:
		commit(next, r)
		resetConnection(w)
	case FaultCommitThenError:
		commit(next, r)
		writeFaultError(w, fault, render)
	}
}

// bufferBody reads r's body and returns r with a copy as its body: the first
// MaxBodyBytes+1 bytes, so an oversized body still fails ReadBody downstream.
func bufferBody(r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	_, _ = io.Copy(io.Discard, r.Body)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	return r2
}

// hang blocks until the client gives up (the body has been buffered, so net/http is
// watching the connection).
func hang(r *http.Request) {
	<-r.Context().Done()
}

// commit runs the request to completion and throws the answer away. The partner finishes
// its work whatever the client does, so the client's cancellation does not reach it.
func commit(next http.Handler, r *http.Request) {
	next.ServeHTTP(&discardedResponse{header: http.Header{}}, r.WithContext(context.WithoutCancel(r.Context())))
}

// discardedResponse is a ResponseWriter whose answer is never sent.
type discardedResponse struct{ header http.Header }

func (d *discardedResponse) Header() http.Header         { return d.header }
func (d *discardedResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardedResponse) WriteHeader(int)             {}

// writeFaultError answers the fault's status with its body or the partner's.
func writeFaultError(w http.ResponseWriter, fault Fault, render ErrorBody) {
	status := fault.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	contentType, body := "", fault.Body
	if body == nil {
		contentType, body = render(status, fault.Code)
	} else if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		contentType = "application/json"
	} else {
		contentType = http.DetectContentType(body)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// resetConnection takes the connection from net/http and closes it with SO_LINGER 0, so
// the kernel sends RST and the client sees "connection reset by peer" rather than a tidy
// close. Without a hijackable connection (HTTP/2) the handler aborts, which resets the
// stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	// Under TLS, close the TCP connection itself: tls.Conn.Close would first send a
	// close_notify alert, a polite goodbye a reset does not give.
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = tc.NetConn()
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// FaultState is what GET /_sim/faults shows: the seed, the rules, how often each rule
// fired (Applied[i] is for Rules[i]) and the injected faults by kind.
type FaultState struct {
	Seed    int64             `json:"seed"`
	Rules   []FaultRule       `json:"rules"`
	Applied []int             `json:"applied"`
	Stats   map[FaultKind]int `json:"stats"`
}

// State returns the engine's current FaultState.
func (f *Faults) State() FaultState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := FaultState{Seed: f.seed, Rules: make([]FaultRule, len(f.rules)), Applied: make([]int, len(f.rules)), Stats: map[FaultKind]int{}}
	for i, r := range f.rules {
		st.Rules[i], st.Applied[i] = r.rule, r.applied
	}
	for k, n := range f.stats {
		st.Stats[k] = n
	}
	return st
}

// faultsRequest is the body of PUT /_sim/faults; an absent seed keeps the random sequence.
type faultsRequest struct {
	Seed  *int64      `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// ControlHandler serves the engine's control endpoint, mounted by a simulator at
// /_sim/faults:
//
//	GET    → 200 FaultState
//	PUT    {"seed": 42, "rules": [FaultRule…]} → 200 FaultState (replaces the rules; with a
//	       seed, restarts the random sequence from it); invalid → 400 {"error": "..."}
//	DELETE → 200 FaultState (no rules, counters zeroed)
func (f *Faults) ControlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			if err := f.put(r); err != nil {
				WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		case http.MethodDelete:
			f.Clear()
		default:
			w.Header().Set("Allow", "GET, PUT, DELETE")
			WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET, PUT or DELETE"})
			return
		}
		WriteJSON(w, http.StatusOK, f.State())
	})
}

// put applies a PUT /_sim/faults body.
func (f *Faults) put(r *http.Request) error {
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	var in faultsRequest
	if err := DecodeJSON(body, &in); err != nil {
		return fmt.Errorf(`body must be {"seed": n, "rules": [...]}: %w`, err)
	}
	if err := f.Set(in.Rules); err != nil {
		return err
	}
	if in.Seed != nil {
		f.Seed(*in.Seed)
	}
	return nil
}
