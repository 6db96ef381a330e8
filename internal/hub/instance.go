package hub

import (
	"context"
	"errors"
	"time"

	"payhub/contracts"
)

// InstanceConfig tunes how the payhub processes sharing a database tell each other alive
// or gone. A process heartbeats every HeartbeatEvery; one whose heartbeat is older than
// Lease is gone, and the Idempotency-Key claims it held are taken over by the first retry
// that meets them. A process that is alive but cannot write its heartbeat for Lease is
// taken for gone too: its requests then cannot write an intent any more (the claim is no
// longer theirs), so no partner is called twice for one request.
type InstanceConfig struct {
	// Lease is how long after its latest heartbeat an instance counts as alive.
	Lease time.Duration
	// HeartbeatEvery is how often a running instance writes its heartbeat; well under
	// Lease, so that a slow write or two never makes a live instance look gone.
	HeartbeatEvery time.Duration
	// AwaitEvery is how often a retry waiting for its request's answer looks again.
	AwaitEvery time.Duration
	// Sleep waits d or until ctx ends (tests inject one that moves their clock); nil is the
	// wall clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// RenewWait waits d or until ctx ends between two renewals of a work lease (tests
	// inject one they step); nil is the wall clock. Apart from Sleep, whose test versions
	// return at once: a renewal loop on one of those would spin and run the clock away.
	RenewWait func(ctx context.Context, d time.Duration) error
	// Version is what the instance registers as its version.
	Version string
	// WorkLease is how long a background worker's lease on one object or maintenance pass
	// lasts (leases.go): longer than the slowest chain of partner calls one object's work
	// makes; a killed instance's work is taken over by another this long after it took it.
	// Zero means DefaultWorkLease.
	WorkLease time.Duration
}

// DefaultInstanceConfig: a killed instance's requests are taken over about five seconds
// after its last heartbeat, so a till's retry gets its payment within ten seconds of the
// crash.
var DefaultInstanceConfig = InstanceConfig{Lease: 5 * time.Second, HeartbeatEvery: time.Second,
	AwaitEvery: 200 * time.Millisecond, WorkLease: DefaultWorkLease}

func (c InstanceConfig) withDefaults() InstanceConfig {
	d := DefaultInstanceConfig
	if c.Lease > 0 {
		d.Lease = c.Lease
	}
	if c.HeartbeatEvery > 0 {
		d.HeartbeatEvery = c.HeartbeatEvery
	}
	if c.AwaitEvery > 0 {
		d.AwaitEvery = c.AwaitEvery
	}
	if c.WorkLease > 0 {
		d.WorkLease = c.WorkLease
	}
	d.Sleep, d.RenewWait, d.Version = c.Sleep, c.RenewWait, c.Version
	if d.Sleep == nil {
		d.Sleep = sleep
	}
	if d.RenewWait == nil {
		d.RenewWait = sleep
	}
	return d
}

// sleep waits d on the wall clock, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InstanceID is this process's id among the instances sharing the database.
func (h *Hub) InstanceID() string { return h.instanceID }

// RegisterInstance records this process as running. It must succeed before the hub takes
// requests: the claims it makes name it.
func (h *Hub) RegisterInstance(ctx context.Context) error {
	now := h.now()
	return h.store.RegisterInstance(ctx, contracts.Instance{ID: h.instanceID, Version: h.instance.Version,
		StartedAt: now, HeartbeatAt: now})
}

// Heartbeat records that this process is alive now.
func (h *Hub) Heartbeat(ctx context.Context) error {
	return h.store.HeartbeatInstance(ctx, h.instanceID, h.now())
}

// RunHeartbeat writes the heartbeat every InstanceConfig.HeartbeatEvery until ctx ends.
func (h *Hub) RunHeartbeat(ctx context.Context) {
	h.repeat(ctx, h.instance.HeartbeatEvery, false, "write instance heartbeat", h.Heartbeat)
}

// StopInstance records that this process stopped: its claims are taken over at once.
func (h *Hub) StopInstance(ctx context.Context) error {
	return h.store.StopInstance(ctx, h.instanceID, h.now())
}

// instanceGone reports whether the instance id no longer runs. An id never registered is
// gone too (its registration is removed only long after it stopped).
func (h *Hub) instanceGone(ctx context.Context, id string) (bool, error) {
	inst, err := h.store.GetInstance(ctx, id)
	if errors.Is(err, contracts.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return inst.Gone(h.now(), h.instance.Lease), nil
}
