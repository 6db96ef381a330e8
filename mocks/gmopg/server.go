package gmopg

import (
	"context"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"payhub/mocks/sim"
)

// Simulator is the GMO-PG simulator: an http.Handler serving the protocol-type API under
// /payment/, the 3DS2 challenge page under /tds2/ and the unauthenticated /_sim/ control
// endpoints. Its state lives in memory, guarded by mu.
type Simulator struct {
	cfg     Config
	handler http.Handler // serve, wrapped by cfg.Faults when set
	// sleep holds a TokenSlow answer; it returns early with ctx's error. Tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu         sync.Mutex
	byOrder    map[string]*order // by OrderID
	byAccess   map[string]*order // by AccessID
	orders     []*order          // creation order
	tranIDs    map[string]bool
	tokens     map[string]*issuedToken
	sweptAt    time.Time             // when tokens were last swept
	challenges map[string]*challenge // by transId
}

// New returns a simulator configured by cfg (empty fields get the documented defaults).
func New(cfg Config) *Simulator {
	s := &Simulator{
		cfg:        cfg.withDefaults(),
		sleep:      sleepContext,
		byOrder:    map[string]*order{},
		byAccess:   map[string]*order{},
		tranIDs:    map[string]bool{},
		tokens:     map[string]*issuedToken{},
		challenges: map[string]*challenge{},
	}
	s.handler = http.HandlerFunc(s.serve)
	if s.cfg.Faults != nil {
		s.handler = s.cfg.Faults.WrapWith(s.handler, FaultErrorBody)
	}
	return s
}

// A Simulator is served as it is: `payhub sim` and tests mount it directly.
var _ http.Handler = (*Simulator)(nil)

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apiCalls are the served /payment/<Name>.idPass calls.
var apiCalls = map[string]func(s *Simulator, w http.ResponseWriter, r *http.Request, f form){
	"EntryTran":   (*Simulator).entryTran,
	"ExecTran":    (*Simulator).execTran,
	"SecureTran2": (*Simulator).secureTran2,
	"AlterTran":   (*Simulator).alterTran,
	"ChangeTran":  (*Simulator).changeTran,
	"SearchTrade": (*Simulator).searchTrade,
}

// ServeHTTP answers one request.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") == "/_sim/faults" {
		s.serveFaults(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// serve answers one request as GMO would, faults aside.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case sim.IsControlPath(path):
		s.serveControl(w, r)
		return
	case path == challengePath:
		s.serveChallenge(w, r)
		return
	}
	name, ok := strings.CutPrefix(path, "/payment/")
	if ok {
		name, ok = strings.CutSuffix(name, ".idPass")
	}
	call := apiCalls[name]
	if !ok || call == nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		writeErrors(w, infoBadMethod)
		return
	}
	if !formContentType(r.Header.Get("Content-Type")) {
		writeErrors(w, infoBadContentType)
		return
	}
	if !acceptsText(r.Header.Values("Accept")) {
		writeErrors(w, infoBadAccept)
		return
	}
	body, err := sim.ReadBody(r)
	if err != nil {
		writeErrors(w, infoSystemError)
		return
	}
	call(s, w, r, parseForm(body))
}

// formContentType reports whether ct is application/x-www-form-urlencoded (parameters
// such as charset allowed).
func formContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// acceptsText reports whether the Accept headers allow a text/plain answer: no Accept
// at all, or a media range */*, text/* or text/plain (gmopg sends "application/json,
// text/plain, */*").
func acceptsText(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "", "*/*", "text/*", "text/plain":
				return true
			}
		}
	}
	return false
}

// now reads the simulator clock, truncated to whole seconds as GMO's dates are.
func (s *Simulator) now() time.Time { return s.cfg.Clock.Now().Truncate(time.Second) }
