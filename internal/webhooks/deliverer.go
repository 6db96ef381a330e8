package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"payhub/contracts"
	"payhub/internal/ids"
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
	// Batch is how many deliveries one pass leases; Concurrency how many it sends at once.
	Batch, Concurrency int
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

// Run delivers until ctx ends: a full batch is followed at once by the next, otherwise it
// waits interval.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := d.DeliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("deliver webhooks", "err", err)
		}
		if n == d.cfg.Batch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverOnce leases the due deliveries (up to a batch), sends them and records each
// outcome; it returns how many it leased.
func (d *Deliverer) DeliverOnce(ctx context.Context) (int, error) {
	now := d.cfg.Clock.Now()
	jobs, err := d.cfg.Store.LeaseDeliveries(ctx, d.cfg.Owner, now, now.Add(d.cfg.Lease), d.cfg.Batch)
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

// deliver sends one job and records its outcome under the lease.
func (d *Deliverer) deliver(ctx context.Context, job contracts.DeliveryJob) {
	s := d.send(ctx, job)
	o := d.outcome(job, s)
	if err := d.cfg.Store.FinishDelivery(context.WithoutCancel(ctx), d.cfg.Owner, o); err != nil {
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
		s.err = fmt.Errorf("sign: %w", err)
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
	switch {
	case s.err == nil && s.status >= 200 && s.status < 300:
		o.Status = contracts.DeliverySucceeded
		return o
	case s.err != nil:
		o.Attempt.Error = describe(s.err)
	default:
		o.Attempt.Error = fmt.Sprintf("status %d", s.status)
	}
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

// describe is a send error as recorded: without the URL's query (it may hold a token).
func describe(err error) string {
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
