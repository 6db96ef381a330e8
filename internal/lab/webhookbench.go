package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"payhub/contracts"
	"payhub/internal/ids"
	"payhub/internal/store"
	"payhub/internal/webhooks"
	paypaysim "payhub/mocks/paypay"
)

// webhookBenchConfig is one run of the delivery benchmark.
type webhookBenchConfig struct {
	Events, Processes int
	// Stores share the events, one endpoint each (all at the one receiver).
	Stores  int
	DB      string
	Timeout time.Duration
	// DeliverInterval is the serve processes' --deliver-interval.
	DeliverInterval time.Duration
	// Payhub is the payhub binary the serve processes run; "" is the one next to payhub-lab.
	Payhub string
	// Hostile runs issue 15's attack instead (hostileBench).
	Hostile hostileBenchConfig
}

func webhookBenchCommand() *cobra.Command {
	var cfg webhookBenchConfig
	cmd := &cobra.Command{
		Use:   "webhookbench",
		Short: "Measure store-notification delivery: several serve processes on one PostgreSQL, one local receiver",
		Long: `Write --events events for --stores stores (one webhook endpoint each) into a fresh
PostgreSQL database made on --db's server for the run (and dropped after it), start --processes 'payhub serve' processes on it, and let them deliver to a local
receiver that verifies every signature. Prints the events per second, and fails when any
event arrived twice, went missing or was sent more than once.

With --hostile-store it runs the attack of one store on another instead: a store with
--hostile-endpoints endpoints on a server that never answers, its queue already full, and
for --duration both it (--hostile-rate events a second) and a healthy store (--rate) get
events. Prints the healthy store's notification latency (from the event's commit to its
arrival) and fails when its 99th percentile reaches --p99-limit, or when any of its events
went missing or arrived twice.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if cfg.Hostile.On {
				if !cmd.Flags().Changed("deliver-interval") {
					cfg.DeliverInterval = time.Second // serve's own default
				}
				return runHostileBench(ctx, cfg, cmd.OutOrStdout())
			}
			return runWebhookBench(ctx, cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 10000, "events to deliver")
	f.IntVar(&cfg.Processes, "processes", 2, "serve processes sharing the database")
	f.IntVar(&cfg.Stores, "stores", 1, "stores sharing the events, one endpoint each")
	f.DurationVar(&cfg.DeliverInterval, "deliver-interval", 50*time.Millisecond, "the serve processes' --deliver-interval (1s, serve's default, with --hostile-store)")
	f.BoolVar(&cfg.Hostile.On, "hostile-store", false, "run the attack of a store whose endpoints hang on a healthy store instead")
	f.IntVar(&cfg.Hostile.Endpoints, "hostile-endpoints", 48, "the hostile store's endpoints, all on a server that never answers")
	f.DurationVar(&cfg.Hostile.Duration, "duration", 30*time.Second, "how long both stores get events (--hostile-store)")
	f.Float64Var(&cfg.Hostile.Rate, "rate", 20, "the healthy store's events a second (--hostile-store)")
	f.Float64Var(&cfg.Hostile.HostileRate, "hostile-rate", 10, "the hostile store's events a second, each to every one of its endpoints (--hostile-store)")
	f.DurationVar(&cfg.Hostile.P99Limit, "p99-limit", 2*time.Second, "the healthy store's 99th-percentile latency that fails the run (--hostile-store)")
	f.StringVar(&cfg.DB, "db", os.Getenv("PAYHUB_DATABASE_URL"), "database: postgres://… (default $PAYHUB_DATABASE_URL)")
	f.StringVar(&cfg.Payhub, "payhub", "", "the payhub binary to run (default: payhub next to payhub-lab)")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "how long the deliveries may take")
	return cmd
}

// benchReceiver is the store's endpoint: it verifies each delivery and counts them by
// webhook-id.
type benchReceiver struct {
	secret webhooks.Secret
	want   int

	mu       sync.Mutex
	seen     map[string]int
	bad      int
	lastSeen time.Time
	all      chan struct{}
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	ok := webhooks.Verify(body, req.Header, time.Now(), r.secret) == nil
	r.mu.Lock()
	if ok {
		id := req.Header.Get(webhooks.HeaderID)
		r.seen[id]++
		if len(r.seen) == r.want && r.seen[id] == 1 {
			close(r.all)
		}
	} else {
		r.bad++
	}
	r.lastSeen = time.Now()
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func runWebhookBench(ctx context.Context, cfg webhookBenchConfig, out io.Writer) error {
	if dbKind(cfg.DB) != "postgres" || cfg.DB == "" {
		return errors.New("webhookbench: --db must be a postgres:// URL (several processes share it)")
	}
	if cfg.Events < 1 || cfg.Processes < 1 || cfg.Stores < 1 {
		return errors.New("webhookbench: need --events ≥ 1, --processes ≥ 1 and --stores ≥ 1")
	}
	// A database of the run's own: what an earlier run left queued must not weigh on this one.
	db, drop, err := throwawayPostgres(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer drop()
	cfg.DB = db
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	rcv := &benchReceiver{secret: secret, want: cfg.Events, seen: map[string]int{}, all: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	storeOf, eventIDs, err := seedBenchEvents(ctx, st, "http://"+ln.Addr().String()+"/hooks", secret, cfg.Events, cfg.Stores)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "webhookbench: %d events for %d store(s) (%s…), %d serve processes on PostgreSQL\n", cfg.Events, cfg.Stores,
		storeOf[eventIDs[0]], cfg.Processes)
	dir, err := os.MkdirTemp("", "payhub-webhookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	procs, err := startBenchServes(ctx, cfg, dir)
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	if err != nil {
		return err
	}
	select {
	case <-rcv.all:
	case <-time.After(cfg.Timeout):
	case <-ctx.Done():
		return ctx.Err()
	}
	elapsed := time.Since(start)
	// Let anything still in flight land, so a duplicate sent late is counted.
	time.Sleep(2 * time.Second)
	for _, p := range procs {
		p.stop()
	}
	return reportWebhookBench(ctx, st, storeOf, eventIDs, rcv, elapsed, out)
}

// benchStore is a store the bench writes events for: its endpoints, and the one payment
// its events are about.
type benchStore struct {
	id, payment string
	seq         int64
}

// newBenchStore writes a store's endpoints (one per url, all signing with secret) and a
// payment. The endpoints are written directly, as endpoints made before the per-store limit
// existed: the deliverers must hold past the limit the API enforces.
func newBenchStore(ctx context.Context, st contracts.Store, gen *ids.Generator, storeID string, urls []string, secret webhooks.Secret) (*benchStore, error) {
	now := time.Now().UTC()
	p := contracts.Payment{ID: gen.New(contracts.PrefixPayment), StoreID: storeID, ClientID: storeID, Method: contracts.MethodPayPay,
		Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}, Status: contracts.StatusProcessing,
		CaptureMethod: contracts.CaptureAutomatic, Attempt: 1, PartnerRef: storeID + "_1", CreatedAt: now, UpdatedAt: now}
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		for _, url := range urls {
			ep := contracts.WebhookEndpoint{ID: gen.New(contracts.PrefixWebhookEndpoint), StoreID: storeID, ClientID: storeID,
				URL: url, Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWebhookEndpoint(ctx, ep, contracts.WebhookSecret{EndpointID: ep.ID, Secret: string(secret), CreatedAt: now}); err != nil {
				return err
			}
		}
		return tx.InsertPayment(ctx, p)
	})
	return &benchStore{id: storeID, payment: p.ID}, err
}

// appendEvent writes the store's next event in tx; it fans out to every endpoint.
func (b *benchStore) appendEvent(ctx context.Context, tx contracts.Tx, gen *ids.Generator) (string, error) {
	now := time.Now().UTC()
	b.seq++
	e := contracts.Event{ID: gen.New(contracts.PrefixEvent), Type: contracts.EventPaymentProcessing, StoreID: b.id,
		PaymentID: b.payment, Sequence: b.seq, CreatedAt: now}
	e.Payload = fmt.Appendf(nil, `{"id":%q,"type":"payment.processing","timestamp":%q,"api_version":%q,"data":{"sequence":%d,"object":{"object":"payment","id":%q}}}`,
		e.ID, now.Format(time.RFC3339), contracts.APIVersion, b.seq, b.payment)
	return e.ID, tx.AppendEvent(ctx, e)
}

// seedBenchEvents writes stores stores, one endpoint each, and n events shared among them
// (each about its store's payment); each event fans out to its store's endpoint as one
// pending delivery. It returns each event's store and the events in order.
func seedBenchEvents(ctx context.Context, st contracts.Store, url string, secret webhooks.Secret, n, stores int) (map[string]string, []string, error) {
	gen := ids.New(contracts.SystemClock{})
	run := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var all []*benchStore
	for i := range stores {
		storeID := run
		if stores > 1 {
			storeID = fmt.Sprintf("%s-%d", run, i+1)
		}
		b, err := newBenchStore(ctx, st, gen, storeID, []string{url}, secret)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, b)
	}
	storeOf := map[string]string{}
	eventIDs := make([]string, 0, n)
	for batch := 0; batch < n; batch += 500 {
		err := st.InTx(ctx, func(tx contracts.Tx) error {
			for i := batch; i < min(batch+500, n); i++ {
				b := all[i%len(all)]
				id, err := b.appendEvent(ctx, tx, gen)
				if err != nil {
					return err
				}
				storeOf[id] = b.id
				eventIDs = append(eventIDs, id)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return storeOf, eventIDs, nil
}

// startBenchServes starts the serve processes that deliver.
func startBenchServes(ctx context.Context, cfg webhookBenchConfig, dir string) ([]*childProcess, error) {
	bins, err := findBinaries(cfg.Payhub)
	if err != nil {
		return nil, err
	}
	env := []string{secretKeyEnv(), auditKeyEnv(), "PAYHUB_PAYPAY_API_KEY=" + paypaysim.DemoAPIKey, "PAYHUB_PAYPAY_API_SECRET=" + paypaysim.DemoAPISecret,
		"PAYHUB_PAYPAY_MERCHANT_ID=" + paypaysim.DemoMerchantID, "PAYHUB_PAYPAY_BASE_URL=http://127.0.0.1:9"}
	var procs []*childProcess
	for i := range cfg.Processes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return procs, err
		}
		p := &childProcess{name: fmt.Sprintf("serve-%d", i+1), logPath: filepath.Join(dir, fmt.Sprintf("serve-%d.log", i+1)), bin: bins.payhub, env: env,
			args: []string{"serve", "--addr", addr, "--db", cfg.DB, "--no-default-limits", "--webhook-allow-loopback", "--deliver-interval", cfg.DeliverInterval.String(), "--metrics-addr", ""}}
		if err := p.start(); err != nil {
			return procs, err
		}
		procs = append(procs, p)
		if err := waitReady(ctx, p, "http://"+addr+"/healthz"); err != nil {
			return procs, err
		}
	}
	return procs, nil
}

// reportWebhookBench prints the rate and checks exactly-once arrival and sending.
func reportWebhookBench(ctx context.Context, st contracts.Store, storeOf map[string]string, eventIDs []string, rcv *benchReceiver, elapsed time.Duration, out io.Writer) error {
	rcv.mu.Lock()
	received, dups, bad := len(rcv.seen), 0, rcv.bad
	for _, n := range rcv.seen {
		dups += n - 1
	}
	rcv.mu.Unlock()
	sends, bySender := 0, map[string]int{}
	for _, id := range eventIDs {
		attempts, err := st.ListDeliveryAttempts(ctx, storeOf[id], id)
		if err != nil {
			return err
		}
		sends += len(attempts)
		for _, a := range attempts {
			bySender[a.SentBy]++
		}
	}
	fmt.Fprintf(out, "delivered:        %d of %d events in %s\n", received, len(eventIDs), elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "events/second:    %.0f\n", float64(received)/elapsed.Seconds())
	fmt.Fprintf(out, "sends recorded:   %d (%s)\n", sends, senderShares(bySender))
	fmt.Fprintf(out, "duplicates:       %d\n", dups)
	fmt.Fprintf(out, "bad signatures:   %d\n", bad)
	if received != len(eventIDs) || dups != 0 || bad != 0 || sends != len(eventIDs) {
		return errors.New("webhookbench: not every event arrived exactly once")
	}
	return nil
}

// senderShares lists how many sends each process made, largest first.
func senderShares(by map[string]int) string {
	counts := make([]int, 0, len(by))
	for _, n := range by {
		counts = append(counts, n)
	}
	slices.SortFunc(counts, func(a, b int) int { return b - a })
	parts := make([]string, len(counts))
	for i, n := range counts {
		parts[i] = fmt.Sprintf("process %d: %d", i+1, n)
	}
	return strings.Join(parts, ", ")
}

// hostileBenchConfig is the attack of issue 15 (docs/api.md §8.4): a store with many
// endpoints on a server that hangs must not delay another store's notifications.
type hostileBenchConfig struct {
	On bool
	// Endpoints is the hostile store's endpoints, all on the hanging server.
	Endpoints int
	// Duration is how long both stores get events, Rate and HostileRate how many a second.
	Duration          time.Duration
	Rate, HostileRate float64
	// P99Limit fails the run when the healthy store's 99th percentile reaches it.
	P99Limit time.Duration
}

// hangingReceiver answers nothing: it holds every request until the run ends (or the
// deliverer gives up on it), counting them.
type hangingReceiver struct {
	release chan struct{}

	mu                   sync.Mutex
	held, maxHeld, total int
}

func (h *hangingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reading the body to its end lets the server notice when the deliverer hangs up.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	h.held++
	h.total++
	h.maxHeld = max(h.maxHeld, h.held)
	h.mu.Unlock()
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
	h.mu.Lock()
	h.held--
	h.mu.Unlock()
	w.WriteHeader(http.StatusServiceUnavailable)
}

// latencyReceiver is the healthy store's endpoint: it verifies each delivery and notes when
// each event first arrived.
type latencyReceiver struct {
	secret webhooks.Secret

	mu        sync.Mutex
	arrived   map[string]time.Time
	dups, bad int
}

func (r *latencyReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	ok := webhooks.Verify(body, req.Header, now, r.secret) == nil
	r.mu.Lock()
	switch id := req.Header.Get(webhooks.HeaderID); {
	case !ok:
		r.bad++
	case !r.arrived[id].IsZero():
		r.dups++
	default:
		r.arrived[id] = now
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// serveLoopback serves h on a fresh loopback port until the returned stop is called.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// runHostileBench runs the attack: the hostile store's queue is filled first (every event
// goes to each of its endpoints), then for cfg.Hostile.Duration both stores get events
// while the serve processes deliver, and each of the healthy store's events is timed from
// its commit to its arrival.
func runHostileBench(ctx context.Context, cfg webhookBenchConfig, out io.Writer) error {
	h := cfg.Hostile
	if dbKind(cfg.DB) != "postgres" || cfg.DB == "" {
		return errors.New("webhookbench: --db must be a postgres:// URL (several processes share it)")
	}
	if cfg.Processes < 1 || h.Endpoints < 1 || h.Rate <= 0 || h.HostileRate < 0 || h.Duration <= 0 {
		return errors.New("webhookbench: need --processes ≥ 1, --hostile-endpoints ≥ 1, --rate > 0, --hostile-rate ≥ 0 and --duration > 0")
	}
	db, drop, err := throwawayPostgres(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer drop()
	cfg.DB = db
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	rcv := &latencyReceiver{secret: secret, arrived: map[string]time.Time{}}
	rcvURL, stopRcv, err := serveLoopback(rcv)
	if err != nil {
		return err
	}
	defer stopRcv()
	hang := &hangingReceiver{release: make(chan struct{})}
	hangURL, stopHang, err := serveLoopback(hang)
	if err != nil {
		return err
	}
	released := false
	release := func() {
		if !released {
			close(hang.release)
			released = true
		}
	}
	defer func() { release(); stopHang() }()

	gen := ids.New(contracts.SystemClock{})
	run := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	urls := make([]string, h.Endpoints)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/hook/%d", hangURL, i)
	}
	hostile, err := newBenchStore(ctx, st, gen, run+"-hostile", urls, secret)
	if err != nil {
		return err
	}
	healthy, err := newBenchStore(ctx, st, gen, run+"-healthy", []string{rcvURL + "/hooks"}, secret)
	if err != nil {
		return err
	}
	write := func(b *benchStore) (string, time.Time, error) {
		var id string
		err := st.InTx(ctx, func(tx contracts.Tx) error {
			var err error
			id, err = b.appendEvent(ctx, tx, gen)
			return err
		})
		return id, time.Now(), err
	}
	// The hostile store's queue is full before the first deliverer starts.
	prefill := 20
	for range prefill {
		if _, _, err := write(hostile); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "webhookbench --hostile-store: store %s has %d endpoints on a server that never answers and %d deliveries queued;\n",
		hostile.id, h.Endpoints, prefill*h.Endpoints)
	fmt.Fprintf(out, "for %s it gets %.0f events a second (%.0f deliveries) and store %s %.0f; %d serve processes on PostgreSQL, --deliver-interval %s\n",
		h.Duration, h.HostileRate, h.HostileRate*float64(h.Endpoints), healthy.id, h.Rate, cfg.Processes, cfg.DeliverInterval)

	dir, err := os.MkdirTemp("", "payhub-webhookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	procs, err := startBenchServes(ctx, cfg, dir)
	defer func() {
		release()
		for _, p := range procs {
			p.stop()
		}
	}()
	if err != nil {
		return err
	}

	var (
		mu        sync.Mutex
		committed = map[string]time.Time{}
		hostileN  = prefill
		writeErr  error
		wg        sync.WaitGroup
	)
	loadCtx, endLoad := context.WithTimeout(ctx, h.Duration)
	defer endLoad()
	every := func(rate float64, fn func() error) {
		if rate <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for {
				select {
				case <-loadCtx.Done():
					return
				case <-t.C:
				}
				if err := fn(); err != nil {
					mu.Lock()
					writeErr = errors.Join(writeErr, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	every(h.Rate, func() error {
		id, at, err := write(healthy)
		mu.Lock()
		committed[id] = at
		mu.Unlock()
		return err
	})
	every(h.HostileRate, func() error {
		_, _, err := write(hostile)
		mu.Lock()
		hostileN++
		mu.Unlock()
		return err
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if writeErr != nil {
		return writeErr
	}
	// The last events may take a moment yet; then whatever has not come is missing.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rcv.mu.Lock()
		n := len(rcv.arrived)
		rcv.mu.Unlock()
		if n >= len(committed) {
			break
		}
	}
	time.Sleep(time.Second) // a duplicate sent late is counted too
	end := time.Now()
	held, total := func() (int, int) { hang.mu.Lock(); defer hang.mu.Unlock(); return hang.maxHeld, hang.total }()
	release()
	for _, p := range procs {
		p.stop()
	}

	rcv.mu.Lock()
	latencies := make([]time.Duration, 0, len(committed))
	missing := 0
	for id, at := range committed {
		arrived, ok := rcv.arrived[id]
		if !ok {
			missing++
			arrived = end
		}
		latencies = append(latencies, arrived.Sub(at))
	}
	dups, bad := rcv.dups, rcv.bad
	rcv.mu.Unlock()
	slices.Sort(latencies)
	pct := func(p int) time.Duration {
		return latencies[max((len(latencies)*p+99)/100-1, 0)].Round(time.Millisecond)
	}
	p99 := pct(99)
	fmt.Fprintf(out, "healthy store:    %d events, %d missing, %d duplicates, %d bad signatures\n", len(latencies), missing, dups, bad)
	fmt.Fprintf(out, "healthy latency:  p50 %s, p90 %s, p99 %s, max %s (commit to arrival)\n", pct(50), pct(90), p99, pct(100))
	fmt.Fprintf(out, "hostile store:    %d events, %d deliveries; the hanging server got %d requests, at most %d at once\n",
		hostileN, hostileN*h.Endpoints, total, held)
	if len(latencies) == 0 || missing > 0 || dups > 0 || bad > 0 || p99 >= h.P99Limit {
		return fmt.Errorf("webhookbench: the hostile store delayed the healthy one (p99 %s, limit %s; %d missing, %d duplicates, %d bad)",
			p99, h.P99Limit, missing, dups, bad)
	}
	return nil
}
