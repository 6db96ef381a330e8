package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"payhub/contracts"
	"payhub/internal/ids"
	"payhub/internal/webhooks/policy"
)

// DefaultSchedule is the wait after each failed send (docs/api.md §8.4, the Standard
// Webhooks example): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h —
// eleven sends over about 75 h 35 min. After the last the delivery has failed.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// RequestTimeout bounds one send; MaxResponseBody is how much of an answer is read (and
// ignored).
const (
	RequestTimeout  = 15 * time.Second
	MaxResponseBody = 64 << 10
)

// The fairness defaults (docs/api.md §8.4): sends in flight per endpoint and per store over
// every deliverer sharing the database, and each endpoint's circuit. A store's endpoints
// (at most Guard.MaxEndpointsPerStore) answering nothing at all hold PerStore workers for
// a request timeout each, and once their circuits open only a trial each now and then; the
// other stores keep every other worker.
const (
	DefaultPerEndpoint = 4
	DefaultPerStore    = 8
)

// DefaultCircuit opens an endpoint's circuit after 5 failed sends in a row, for 30 s, then
// for twice as long at each further failure up to 10 min.
var DefaultCircuit = policy.Circuit{Failures: 5, Open: 30 * time.Second, MaxOpen: 10 * time.Minute}

// EventEndpointDisabled announces a disabled endpoint to the store's other endpoints.
const EventEndpointDisabled contracts.EventType = "webhook_endpoint.disabled"

// DelivererConfig wires a Deliverer.
type DelivererConfig struct {
	// Store holds the outbox and the deliveries.
	Store contracts.Store
	// Clock tells the time (schedules, leases, signature timestamps).
	Clock contracts.Clock
	// IDs mints attempt and event ids.
	IDs *ids.Generator
	// Owner names this deliverer's leases; unique per process.
	Owner string
	// Client sends the deliveries; nil means NewClient(Guard{}).
	Client *http.Client
	// Batch is how many deliveries one lease takes at most; Concurrency how many sends this
	// deliverer has in flight at most (its workers).
	Batch, Concurrency int
	// PerEndpoint and PerStore bound the sends in flight to one endpoint and to one store's
	// endpoints, over every deliverer sharing the database; zero means DefaultPerEndpoint and
	// DefaultPerStore. PerStore below Concurrency keeps workers for the other stores.
	PerEndpoint, PerStore int
	// Circuit is each endpoint's circuit breaker; zero means DefaultCircuit.
	Circuit policy.Circuit
	// Lease is how long a leased delivery stays this deliverer's; zero means longer than a
	// whole batch can take.
	Lease time.Duration
	// Schedule is the wait after each failed send; nil means DefaultSchedule.
	Schedule []time.Duration
	// APIVersion is stamped on the events the deliverer writes.
	APIVersion string
	// RenderEndpoint renders an endpoint as the API does, for webhook_endpoint.disabled.
	RenderEndpoint func(contracts.WebhookEndpoint) []byte
	// Logger receives delivery logs; never secrets or payloads.
	Logger *slog.Logger
	// Metrics records sends and disablings; nil records nothing.
	Metrics *Metrics
}

// Deliverer sends the outbox's events to the stores' endpoints, at least once, signed.
// Several deliverers (processes) share the work through leases in the database.
type Deliverer struct {
	cfg DelivererConfig
}

// NewDeliverer returns a Deliverer with cfg's zero fields defaulted.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Client == nil {
		cfg.Client = NewClient(Guard{})
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Lease <= 0 {
		// Longer than a batch can take when every endpoint hangs: the sends run
		// Concurrency at a time, each bounded by RequestTimeout.
		waves := (cfg.Batch + cfg.Concurrency - 1) / cfg.Concurrency
		cfg.Lease = time.Duration(waves+1)*RequestTimeout + time.Minute
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = DefaultPerEndpoint
	}
	if cfg.PerStore <= 0 {
		cfg.PerStore = DefaultPerStore
	}
	if cfg.Circuit == (policy.Circuit{}) {
		cfg.Circuit = DefaultCircuit
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RenderEndpoint == nil {
		cfg.RenderEndpoint = func(e contracts.WebhookEndpoint) []byte {
			b, _ := json.Marshal(map[string]string{"id": e.ID})
			return b
		}
	}
	return &Deliverer{cfg: cfg}
}

// leaseGap is the least time between two of Run's leases that a finished send prompts.
const leaseGap = 2 * time.Millisecond

// busyInterval is how soon Run looks again while its leases found work in the last
// busyWindow (at most its interval): events keep coming while stores are busy, and waiting
// the whole idle interval for each would delay them by that much.
const (
	busyInterval = 100 * time.Millisecond
	busyWindow   = 5 * time.Second
)

// Run delivers until ctx ends, then waits for the sends in flight (cut short by ctx). It
// keeps up to Concurrency sends in flight: it leases as soon as a worker is free and
// something may have come due (a send finished, or a full lease left workers free), every
// 100 ms while leases find work (and for 5 s after), otherwise every interval. A send that
// hangs holds its own worker only, never the others nor the next lease; the store's bounds
// (PerStore below Concurrency) keep one store's hanging sends from taking every worker.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTimer(interval)
	defer t.Stop()
	done := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	inFlight := 0
	var leased, found time.Time
	drain := func() {
		for {
			select {
			case <-done:
				inFlight--
			default:
				return
			}
		}
	}
	for {
		again := false
		if free := d.cfg.Concurrency - inFlight; free > 0 && ctx.Err() == nil {
			want := min(free, d.cfg.Batch)
			leased = time.Now()
			jobs, err := d.lease(ctx, want)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("deliver webhooks", "err", err)
			}
			for _, job := range jobs {
				inFlight++
				wg.Go(func() {
					defer func() { done <- struct{}{} }()
					d.deliver(ctx, job)
				})
			}
			d.cfg.Metrics.inFlight(inFlight)
			again = len(jobs) == want && inFlight < d.cfg.Concurrency
			if len(jobs) > 0 {
				found = leased
			}
		}
		if again {
			continue
		}
		wait := interval
		if time.Since(found) < busyWindow {
			wait = min(interval, busyInterval)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-done:
			inFlight--
			// Leases come at most every leaseGap, each taking every worker freed since:
			// one lease per finished send would spend the database on leases.
			if gap := leaseGap - time.Since(leased); gap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap):
				}
			}
			drain()
			d.cfg.Metrics.inFlight(inFlight)
		case <-t.C:
		}
	}
}

// DeliverOnce leases the due deliveries (up to a batch, within the per-endpoint and
// per-store bounds), sends them Concurrency at a time and records each outcome; it returns
// how many it leased.
func (d *Deliverer) DeliverOnce(ctx context.Context) (int, error) {
	jobs, err := d.lease(ctx, d.cfg.Batch)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.deliver(ctx, job)
		})
	}
	wg.Wait()
	return len(jobs), nil
}

// lease leases up to n due deliveries fairly (policy.Lease): the store counts the sends in
// flight of every deliverer.
func (d *Deliverer) lease(ctx context.Context, n int) ([]contracts.DeliveryJob, error) {
	now := d.cfg.Clock.Now()
	ctx = policy.WithLease(ctx, policy.Lease{PerEndpoint: d.cfg.PerEndpoint, PerStore: d.cfg.PerStore})
	return d.cfg.Store.LeaseDeliveries(ctx, d.cfg.Owner, now, now.Add(d.cfg.Lease), n)
}

// deliver sends one job and records its outcome under the lease; a failure counts towards
// the endpoint's circuit, unless the send was cut short because the deliverer is stopping.
func (d *Deliverer) deliver(ctx context.Context, job contracts.DeliveryJob) {
	s := d.send(ctx, job)
	o := d.outcome(job, s)
	record := context.WithoutCancel(ctx)
	if ctx.Err() == nil {
		record = policy.WithCircuit(record, d.cfg.Circuit)
	}
	if o.Status != contracts.DeliverySucceeded {
		// The store sees the class (o.Attempt.Error); the details are for operators.
		d.cfg.Logger.Info("webhook send failed", "event_id", job.Delivery.EventID, "endpoint_id", job.Endpoint.ID,
			"store_id", job.Endpoint.StoreID, "class", o.Attempt.Error, "http_status", s.status, "err", describe(s.err),
			"attempt", job.Delivery.Attempts+1)
	}
	if err := d.cfg.Store.FinishDelivery(record, d.cfg.Owner, o); err != nil {
		// A lost lease means another deliverer took the delivery over: it will send again
		// (at least once), so this is only worth a log line.
		d.cfg.Logger.Warn("record webhook delivery", "event_id", job.Delivery.EventID, "endpoint_id", job.Endpoint.ID, "err", err)
		return
	}
	result := map[contracts.DeliveryStatus]string{contracts.DeliverySucceeded: "delivered", contracts.DeliveryPending: "retry",
		contracts.DeliveryFailed: "failed"}[o.Status]
	d.cfg.Metrics.sent(result, s.latency.Seconds())
	if o.DisableEndpoint != "" {
		d.cfg.Metrics.endpointDisabled()
	}
}

// sent is what one send produced.
type sent struct {
	at         time.Time
	status     int
	latency    time.Duration
	retryAfter time.Duration
	err        error
}

// send POSTs the event's payload to the endpoint, signed with every secret that signs now.
func (d *Deliverer) send(ctx context.Context, job contracts.DeliveryJob) sent {
	s := sent{at: d.cfg.Clock.Now()}
	secrets := make([]Secret, len(job.Secrets))
	for i, x := range job.Secrets {
		secrets[i] = Secret(x)
	}
	h, err := Headers(job.Delivery.EventID, s.at, job.Payload, secrets...)
	if err != nil {
		s.err = fmt.Errorf("%w: %w", errSign, err)
		return s
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.Endpoint.URL, strings.NewReader(string(job.Payload)))
	if err != nil {
		s.err = err
		return s
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "payhub-webhooks/1")
	start := time.Now()
	resp, err := d.cfg.Client.Do(req)
	s.latency = time.Since(start)
	if err != nil {
		s.err = err
		return s
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBody))
	s.status = resp.StatusCode
	s.retryAfter = retryAfter(resp)
	return s
}

// retryAfter reads Retry-After (seconds) on the statuses that throttle (§8.4).
func retryAfter(resp *http.Response) time.Duration {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return 0
	}
	secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || secs < 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, 24*time.Hour)
}

// outcome turns a send into the delivery's next state: 2xx delivered; 410 disables the
// endpoint at once; any other failure waits its turn in the schedule, and the last one
// fails the delivery — and disables an endpoint that has not taken a delivery since this
// one was due.
func (d *Deliverer) outcome(job contracts.DeliveryJob, s sent) contracts.DeliveryOutcome {
	o := contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: d.cfg.IDs.New(contracts.PrefixDeliveryAttempt),
		EventID: job.Delivery.EventID, EndpointID: job.Endpoint.ID, AttemptedAt: s.at, HTTPStatus: s.status, Latency: s.latency},
		NextAt: s.at}
	if s.err == nil && s.status >= 200 && s.status < 300 {
		o.Status = contracts.DeliverySucceeded
		return o
	}
	o.Attempt.Error = errorClass(s)
	sends := job.Delivery.Attempts + 1
	switch {
	case s.err == nil && s.status == http.StatusGone:
		o.Status = contracts.DeliveryFailed
		d.disable(&o, job, "The endpoint answered 410 Gone.")
	case sends > len(d.cfg.Schedule):
		o.Status = contracts.DeliveryFailed
		if last := job.Endpoint.LastSuccessAt; last == nil || last.Before(job.Delivery.CreatedAt) {
			d.disable(&o, job, "No delivery succeeded for the whole retry schedule (about 3 days).")
		}
	default:
		o.Status = contracts.DeliveryPending
		o.NextAt = s.at.Add(max(jitter(d.cfg.Schedule[sends-1]), s.retryAfter))
	}
	return o
}

// disable sets the outcome to disable the endpoint and announce it to the store.
func (d *Deliverer) disable(o *contracts.DeliveryOutcome, job contracts.DeliveryJob, reason string) {
	o.DisableEndpoint = reason
	ep := job.Endpoint
	ep.Status, ep.DisabledReason, ep.UpdatedAt = contracts.EndpointDisabled, reason, o.Attempt.AttemptedAt
	e := contracts.Event{ID: d.cfg.IDs.New(contracts.PrefixEvent), Type: EventEndpointDisabled, StoreID: ep.StoreID,
		CreatedAt: o.Attempt.AttemptedAt}
	e.Payload, _ = json.Marshal(map[string]any{"id": e.ID, "type": string(e.Type),
		"timestamp": e.CreatedAt.UTC().Format(time.RFC3339), "api_version": d.cfg.APIVersion,
		"data": map[string]json.RawMessage{"object": d.cfg.RenderEndpoint(ep)}})
	o.DisabledEvent = &e
	d.cfg.Logger.Warn("webhook endpoint disabled", "endpoint_id", ep.ID, "store_id", ep.StoreID, "reason", reason)
}

// jitter spreads a wait by ±10% so that retries of many deliveries do not arrive together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	spread := d / 10
	return d - spread + rand.N(2*spread+1)
}

// errSign marks a delivery that could not be signed (no usable secret).
var errSign = errors.New("sign")

// The classes of a failed send, as GET /v1/events/{id}/attempts shows them to the store
// (docs/api.md §8.4): never the dial error itself, which may name payhub's resolver, the
// addresses a name resolved to or the guard's reasons; those go to payhub's log.
const (
	ClassTimeout          = "timeout"
	ClassConnectionFailed = "connection_failed"
	ClassTLSError         = "tls_error"
	ClassAddressRefused   = "address_refused"
	// ClassInternalError: payhub could not sign the delivery (a secret it cannot use).
	ClassInternalError = "internal_error"
	// ClassHTTPPrefix precedes the status of an answer that is not 2xx: "http_503".
	ClassHTTPPrefix = "http_"
)

// errorClass is the class of a failed send.
func errorClass(s sent) string {
	err := s.err
	if err == nil {
		return ClassHTTPPrefix + strconv.Itoa(s.status)
	}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, ErrEndpointURL):
		return ClassAddressRefused
	case errors.Is(err, errSign):
		return ClassInternalError
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	case errors.As(err, &certErr), errors.As(err, &recordErr), errors.As(err, &alert), errors.As(err, &unknownAuthority),
		errors.As(err, &hostname), errors.As(err, &invalid), strings.Contains(err.Error(), "tls: "):
		return ClassTLSError
	}
	return ClassConnectionFailed
}

// describe is a send error as logged: without the URL's query (it may hold a token).
func describe(err error) string {
	if err == nil {
		return ""
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}
