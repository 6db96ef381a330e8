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
	DB                string
	Timeout           time.Duration
	// Payhub is the payhub binary the serve processes run; "" is the one next to payhub-lab.
	Payhub string
}

func webhookBenchCommand() *cobra.Command {
	var cfg webhookBenchConfig
	cmd := &cobra.Command{
		Use:   "webhookbench",
		Short: "Measure store-notification delivery: several serve processes on one PostgreSQL, one local receiver",
		Long: `Write --events events for one store with one webhook endpoint into a PostgreSQL
database, start --processes 'payhub serve' processes on it, and let them deliver to a local
receiver that verifies every signature. Prints the events per second, and fails when any
event arrived twice, went missing or was sent more than once.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runWebhookBench(ctx, cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 10000, "events to deliver")
	f.IntVar(&cfg.Processes, "processes", 2, "serve processes sharing the database")
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
	if cfg.Events < 1 || cfg.Processes < 1 {
		return errors.New("webhookbench: need --events ≥ 1 and --processes ≥ 1")
	}
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

	storeID, eventIDs, err := seedBenchEvents(ctx, st, "http://"+ln.Addr().String()+"/hooks", secret, cfg.Events)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "webhookbench: %d events for store %s, %d serve processes on PostgreSQL\n", cfg.Events, storeID, cfg.Processes)
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
	return reportWebhookBench(ctx, st, storeID, eventIDs, rcv, elapsed, out)
}

// seedBenchEvents writes a store's endpoint and n events about one payment; each event
// fans out to the endpoint as one pending delivery.
func seedBenchEvents(ctx context.Context, st contracts.Store, url string, secret webhooks.Secret, n int) (string, []string, error) {
	gen := ids.New(contracts.SystemClock{})
	now := time.Now().UTC()
	storeID := "bench-" + strconv.FormatInt(now.UnixNano(), 36)
	ep := contracts.WebhookEndpoint{ID: gen.New(contracts.PrefixWebhookEndpoint), StoreID: storeID, ClientID: storeID,
		URL: url, Status: contracts.EndpointEnabled, CreatedAt: now, UpdatedAt: now}
	p := contracts.Payment{ID: gen.New(contracts.PrefixPayment), StoreID: storeID, ClientID: storeID, Method: contracts.MethodPayPay,
		Flow: contracts.FlowBarcode, Amount: contracts.Money{Amount: 100, Currency: contracts.JPY}, Status: contracts.StatusProcessing,
		CaptureMethod: contracts.CaptureAutomatic, Attempt: 1, PartnerRef: "bench_1", CreatedAt: now, UpdatedAt: now}
	err := st.InTx(ctx, func(tx contracts.Tx) error {
		if err := tx.CreateWebhookEndpoint(ctx, ep, contracts.WebhookSecret{EndpointID: ep.ID, Secret: string(secret), CreatedAt: now}); err != nil {
			return err
		}
		return tx.InsertPayment(ctx, p)
	})
	if err != nil {
		return "", nil, err
	}
	eventIDs := make([]string, 0, n)
	for batch := 0; batch < n; batch += 500 {
		err := st.InTx(ctx, func(tx contracts.Tx) error {
			for i := batch; i < min(batch+500, n); i++ {
				e := contracts.Event{ID: gen.New(contracts.PrefixEvent), Type: contracts.EventPaymentProcessing, StoreID: storeID,
					PaymentID: p.ID, Sequence: int64(i + 1), CreatedAt: now}
				e.Payload = fmt.Appendf(nil, `{"id":%q,"type":"payment.processing","timestamp":%q,"api_version":%q,"data":{"sequence":%d,"object":{"object":"payment","id":%q}}}`,
					e.ID, now.Format(time.RFC3339), contracts.APIVersion, i+1, p.ID)
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				eventIDs = append(eventIDs, e.ID)
			}
			return nil
		})
		if err != nil {
			return "", nil, err
		}
	}
	return storeID, eventIDs, nil
}

// startBenchServes starts the serve processes that deliver.
func startBenchServes(ctx context.Context, cfg webhookBenchConfig, dir string) ([]*childProcess, error) {
	bins, err := findBinaries(cfg.Payhub)
	if err != nil {
		return nil, err
	}
	env := []string{"PAYHUB_PAYPAY_API_KEY=" + paypaysim.DemoAPIKey, "PAYHUB_PAYPAY_API_SECRET=" + paypaysim.DemoAPISecret,
		"PAYHUB_PAYPAY_MERCHANT_ID=" + paypaysim.DemoMerchantID, "PAYHUB_PAYPAY_BASE_URL=http://127.0.0.1:9"}
	var procs []*childProcess
	for i := range cfg.Processes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return procs, err
		}
		p := &childProcess{name: fmt.Sprintf("serve-%d", i+1), logPath: filepath.Join(dir, fmt.Sprintf("serve-%d.log", i+1)), bin: bins.payhub, env: env,
			args: []string{"serve", "--addr", addr, "--db", cfg.DB, "--webhook-allow-loopback", "--deliver-interval", "50ms", "--metrics-addr", ""}}
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
func reportWebhookBench(ctx context.Context, st contracts.Store, storeID string, eventIDs []string, rcv *benchReceiver, elapsed time.Duration, out io.Writer) error {
	rcv.mu.Lock()
	received, dups, bad := len(rcv.seen), 0, rcv.bad
	for _, n := range rcv.seen {
		dups += n - 1
	}
	rcv.mu.Unlock()
	sends, bySender := 0, map[string]int{}
	for _, id := range eventIDs {
		attempts, err := st.ListDeliveryAttempts(ctx, storeID, id)
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
