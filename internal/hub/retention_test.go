package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/clock"
	"payhub/internal/hub"
	"payhub/internal/ids"
	"payhub/internal/store/storetest"
)

// attemptsSpy is a store that notes the retention deletes of delivery attempts and
// answers them with a scripted count.
type attemptsSpy struct {
	contracts.Store
	mu      sync.Mutex
	befores []time.Time
	answers []int64
}

func (s *attemptsSpy) DeleteWebhookAttemptsBefore(_ context.Context, before time.Time, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.befores = append(s.befores, before)
	if len(s.answers) == 0 {
		return 0, nil
	}
	n := min(s.answers[0], int64(limit))
	s.answers = s.answers[1:]
	return n, nil
}

// TestRetentionDeletesWhatOnlyExplainsThePast: issue 15. partner_callbacks and
// webhook_attempts grew forever. The retention job deletes callbacks that left the inbox
// 30 days after they arrived and delivery attempts after 90 days (DefaultRetention),
// batch by batch until none is left; callbacks still waiting and events stay.
func TestRetentionDeletesWhatOnlyExplainsThePast(t *testing.T) {
	st := storetest.OpenSQLite(t)
	spy := &attemptsSpy{Store: st, answers: []int64{2, 2, 1}}
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	clk := clock.NewManual(now)
	h := hub.New(hub.Config{Store: spy, Clock: clk, IDs: ids.New(clk), APIVersion: contracts.APIVersion,
		Metrics: hub.NewMetrics(prometheus.NewRegistry())})
	ctx := context.Background()
	day := 24 * time.Hour
	record := func(eventID string, age time.Duration, status contracts.CallbackStatus) {
		received := now.Add(-age)
		cb := contracts.PartnerCallback{ID: ids.New(clk).New(contracts.PrefixPartnerCallback), Partner: contracts.MethodPayPay,
			EventID: eventID, SourceIP: "127.0.0.1", Body: []byte(`{}`), ReceivedAt: received, Status: status}
		if status != contracts.CallbackReceived {
			cb.ProcessedAt = &received
		}
		if _, err := st.RecordCallback(ctx, cb); err != nil {
			t.Fatal(err)
		}
	}
	record("done-31d", 31*day, contracts.CallbackProcessed)
	record("ignored-45d", 45*day, contracts.CallbackIgnored)
	record("rejected-30d1m", 30*day+time.Minute, contracts.CallbackRejected)
	record("waiting-60d", 60*day, contracts.CallbackReceived)
	record("done-29d", 29*day, contracts.CallbackProcessed)

	got, err := h.PruneOnce(ctx, hub.RetentionConfig{Batch: 2})
	if err != nil || got.Callbacks != 3 || got.WebhookAttempts != 5 {
		t.Fatalf("PruneOnce = %+v, %v; want 3 callbacks and 5 attempts", got, err)
	}
	left, _ := st.ListCallbacks(ctx, contracts.MethodPayPay)
	if len(left) != 2 || left[0].EventID != "waiting-60d" || left[1].EventID != "done-29d" {
		t.Fatalf("kept %+v", left)
	}
	if len(spy.befores) != 3 || !spy.befores[0].Equal(now.Add(-90*day)) {
		t.Fatalf("attempts deleted in %d statements before %v; want 3 before %v", len(spy.befores), spy.befores, now.Add(-90*day))
	}
	if hub.DefaultRetention.Callbacks != 30*day || hub.DefaultRetention.WebhookAttempts != 90*day {
		t.Fatalf("DefaultRetention = %+v", hub.DefaultRetention)
	}

	// The background job prunes at once when it starts, then every interval.
	record("done-40d", 40*day, contracts.CallbackProcessed)
	jobCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.RunRetention(jobCtx, time.Hour, hub.RetentionConfig{}); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if left, _ := st.ListCallbacks(ctx, contracts.MethodPayPay); len(left) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunRetention did not prune on start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}
