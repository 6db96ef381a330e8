package app

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/config"
	"payhub/internal/httpapi"
	"payhub/internal/hub"
	"payhub/internal/secrets"
	"payhub/mocks/sim"
)

// The demo store client: one POS system acting for one store.
const (
	demoClientID = "demo-pos"
	demoKeyID    = "demo-pos-key-1"
	demoStoreID  = "store-001"
)

// demoReturnOrigins are where the demo client's redirect payments may send the browser
// back: a web shop on this machine (loopback is honoured because the demo's own public URL
// is loopback).
var demoReturnOrigins = []string{"http://127.0.0.1:8080", "http://localhost:8080"}

func DemoCommand(logOut io.Writer) *cobra.Command {
	var addr, metricsAddr, dataDir, paypayAddr, linepayAddr, gmopgAddr, nanacoAddr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run payhub with embedded SQLite and all partner simulators in one process",
		Long: `Run everything in one process: the PayPay and LINE Pay simulators, payhub on SQLite in the data
directory, and a demo store client whose private key is written as PKCS#8 PEM to
<data-dir>/demo-store.pem. Prints the ids and a ready curl that makes a payment.

Two operators, alice and bob (roles viewer, operator and security_admin), can use the operator API
(payhub ops --demo-dir <data-dir> --as alice …): their keys are operator-alice.pem and
operator-bob.pem in the data directory and — demo only — so are their TOTP secrets,
operator-alice.totp and operator-bob.totp, so that step-up needs no phone. A restart with
the same data directory reuses the keys and enrolments.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := NewLogger(logOut)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return err
			}
			// payhub's address first: the simulator sends its callbacks there.
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			faults := sim.NewFaults(1)
			simLn, _, err := StartPayPaySim(ctx, paypayAddr, "http://"+ln.Addr().String()+"/v1/partners/paypay/webhooks", faults, log)
			if err != nil {
				return err
			}
			creds, err := config.PayPayCredentialsFromEnv(true)
			if err != nil {
				return err
			}
			lpLn, _, err := StartLinePaySim(ctx, linepayAddr, faults, log, 0)
			if err != nil {
				return err
			}
			lpCreds, err := config.LinePayCredentialsFromEnv(true)
			if err != nil {
				return err
			}
			gmoLn, _, err := StartGMOPGSim(ctx, gmopgAddr, faults, log)
			if err != nil {
				return err
			}
			gmoCreds, err := config.GMOPGCredentialsFromEnv(true)
			if err != nil {
				return err
			}
			ncsLn, _, err := StartNanacoSim(ctx, nanacoAddr, faults, log, false)
			if err != nil {
				return err
			}
			ncsCreds, err := config.NanacoCredentialsFromEnv(true)
			if err != nil {
				return err
			}
			rules, err := config.BarcodeRules()
			if err != nil {
				return err
			}
			webhookPolicy, err := config.Webhooks()
			if err != nil {
				return err
			}
			secretKey, err := loadOrCreateSecretKey(filepath.Join(dataDir, demoSecretKeyFile))
			if err != nil {
				return err
			}
			// The audit key stays in the data dir, out of the database (docs/security.md §9).
			auditKey, err := loadOrCreateSecretKey(filepath.Join(dataDir, demoAuditKeyFile))
			if err != nil {
				return err
			}
			operatorKeys, operatorFiles, err := loadDemoOperatorKeys(dataDir)
			if err != nil {
				return err
			}
			conns := httpapi.NewConnBound(httpapi.DefaultMaxConnections)
			a, err := Build(ctx, Config{
				Collectors: conns.Collectors(),
				SecretKey:  secretKey, PublicURL: "http://" + ln.Addr().String(), KeyTTL: auth.DefaultKeyTTL,
				DatabaseURL: "sqlite:" + filepath.Join(dataDir, "payhub.db"), Logger: log, PollInterval: 2 * time.Second,
				BarcodeRules: rules, WebhookLoopback: true, Webhooks: webhookPolicy, OperatorKeys: operatorKeys,
				AuditKey: auditKey, DefaultLimits: true,
				Callbacks: hub.CallbackConfig{Allow: map[contracts.Method][]netip.Prefix{contracts.MethodPayPay: config.LoopbackOnly}},
				PayPay: paypayadapter.Config{BaseURL: "http://" + simLn.Addr().String(), APIKey: creds.APIKey,
					APISecret: creds.APISecret, MerchantID: creds.MerchantID},
				LinePay: &linepayadapter.Config{BaseURL: "http://" + lpLn.Addr().String(), ChannelID: lpCreds.ChannelID,
					ChannelSecret: lpCreds.ChannelSecret, Currency: contracts.TWD},
				Card: &gmopgadapter.Config{BaseURL: "http://" + gmoLn.Addr().String(), ShopID: gmoCreds.ShopID, ShopPass: gmoCreds.ShopPass},
				Nanaco: &nanacoadapter.Config{BaseURL: "http://" + ncsLn.Addr().String(), MerchantID: ncsCreds.MerchantID,
					Secret: ncsCreds.Secret},
			})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := serveMetrics(ctx, metricsAddr, a, log); err != nil {
				return err
			}
			if err := ensureDemoClient(ctx, a.Store, dataDir); err != nil {
				return err
			}
			box, err := secrets.NewRing(secretKey)
			if err != nil {
				return err
			}
			if err := ensureDemoOperators(ctx, a.Store, box, auditKey, dataDir, "http://"+ln.Addr().String(), operatorFiles); err != nil {
				return err
			}
			printDemoBanner(cmd.OutOrStdout(), ln.Addr().String(), simLn.Addr().String(), lpLn.Addr().String(), gmoLn.Addr().String(),
				ncsLn.Addr().String(), dataDir)
			gate := &httpapi.StartupGate{Conns: conns}
			gate.Ready(a.Handler)
			return ServeUntilDone(ctx, ln, gate, 10*time.Second)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", config.EnvOr("PAYHUB_ADDR", defaultAddr), "payhub listen address (PAYHUB_ADDR)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", config.EnvOr("PAYHUB_METRICS_ADDR", defaultMetricsAddr), "Prometheus /metrics listen address, apart from the API (empty: none)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "payhub-demo", "directory for the SQLite database and the demo store key")
	cmd.Flags().StringVar(&paypayAddr, "paypay-addr", defaultPayPaySimAddr, "PayPay simulator listen address")
	cmd.Flags().StringVar(&linepayAddr, "linepay-addr", defaultLinePaySimAddr, "LINE Pay simulator listen address")
	cmd.Flags().StringVar(&gmopgAddr, "gmopg-addr", defaultGMOPGSimAddr, "GMO-PG (cards) simulator listen address")
	cmd.Flags().StringVar(&nanacoAddr, "nanaco-addr", defaultNanacoSimAddr, "nanaco (NCS v1) simulator listen address")
	return cmd
}

// ensureDemoClient registers the demo store client, creating its key on first run and
// reusing the key file on later runs.
func ensureDemoClient(ctx context.Context, st contracts.Store, dataDir string) error {
	keyPath := filepath.Join(dataDir, demoKeyFile)
	key, err := loadOrCreateDemoKey(keyPath)
	if err != nil {
		return err
	}
	pub, err := auth.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return err
	}
	alg, err := auth.AlgorithmFor(key)
	if err != nil {
		return err
	}
	if existing, _, err := st.LookupClientKey(ctx, demoKeyID); err == nil {
		if string(existing.PublicKeyPEM) != string(pub) {
			return fmt.Errorf("the database in %s knows another demo key; remove the directory to start afresh", dataDir)
		}
	} else if errors.Is(err, contracts.ErrNotFound) {
		now := time.Now().UTC()
		if err := st.CreateStoreClient(ctx, contracts.StoreClient{ID: demoClientID, Name: "Demo POS", Stores: []string{demoStoreID},
			Keys:      []contracts.ClientKey{{KID: demoKeyID, ClientID: demoClientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}},
			CreatedAt: now}); err != nil {
			return fmt.Errorf("register demo client: %w", err)
		}
	} else {
		return err
	}
	// Also for a demo database made before return origins existed.
	if err := st.SetClientReturnOrigins(ctx, demoClientID, demoReturnOrigins); err != nil {
		return fmt.Errorf("demo client return origins: %w", err)
	}
	id, _ := json.MarshalIndent(demoIdentity{ClientID: demoClientID, KeyID: demoKeyID, StoreID: demoStoreID}, "", "  ")
	return os.WriteFile(filepath.Join(dataDir, demoIdentityFile), id, 0o600)
}

// loadOrCreateDemoKey reads the demo store's private key, or creates an Ed25519 key and
// writes it (PKCS#8 PEM, owner-only) on first run.
func loadOrCreateDemoKey(path string) (crypto.Signer, error) {
	if b, err := os.ReadFile(path); err == nil {
		return auth.ParsePrivateKeyPEM(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := auth.GenerateKey(contracts.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	pemBytes, err := auth.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, pemBytes, 0o600)
}

func printDemoBanner(w io.Writer, addr, simAddr, linepaySimAddr, gmopgSimAddr, nanacoSimAddr, dataDir string) {
	fmt.Fprintf(w, `payhub demo is running.

  payhub API        http://%[1]s   (contract: http://%[1]s/openapi.yaml)
  PayPay simulator  http://%[2]s
  LINE Pay sim      http://%[8]s
  GMO-PG sim        http://%[9]s  (cards: POST /_sim/tokens mints a card token)
  nanaco sim        http://%[10]s  (NCS v1; GET /_sim/cards/7000000000000001 shows a card)
  store client id   %[3]s
  key id            %[4]s
  store id          %[5]s
  private key       %[6]s (PKCS#8 PEM)

Make a PayPay barcode payment (fixture barcode 900081818800000000 always pays):

curl -sS -X POST http://%[1]s/v1/payments \
  -H "Authorization: Bearer $(go run ./cmd/payhub token --demo-dir %[7]s)" \
  -H "Idempotency-Key: $(date +%%s%%N)" \
  -H "Content-Type: application/json" \
  -d '{"amount":1200,"currency":"JPY","method":"paypay","flow":"barcode","barcode":"900081818800000000","terminal_id":"till-01","order_id":"demo-order-1"}'

A LINE Pay in-store payment in Taiwan dollars (whole TWD: 250.00 is 25000; fixture My Code
391000000000000000 always pays):

curl -sS -X POST http://%[1]s/v1/payments \
  -H "Authorization: Bearer $(go run ./cmd/payhub token --demo-dir %[7]s)" \
  -H "Idempotency-Key: $(date +%%s%%N)" \
  -H "Content-Type: application/json" \
  -d '{"amount":25000,"currency":"TWD","method":"linepay","flow":"barcode","barcode":"391000000000000000","terminal_id":"till-01","order_id":"demo-order-2"}'

A nanaco payment at the till's reader (fixture card 7000000000000001 holds ¥10,000):

curl -sS -X POST http://%[1]s/v1/payments \
  -H "Authorization: Bearer $(go run ./cmd/payhub token --demo-dir %[7]s)" \
  -H "Idempotency-Key: $(date +%%s%%N)" \
  -H "Content-Type: application/json" \
  -d '{"amount":800,"currency":"JPY","method":"nanaco","flow":"card_present","presented_card":{"number":"7000000000000001"},"terminal_id":"till-01","order_id":"demo-order-3"}'

and what the card holds now (¥800 less):

curl -sS -X POST http://%[1]s/v1/nanaco/balance \
  -H "Authorization: Bearer $(go run ./cmd/payhub token --demo-dir %[7]s)" \
  -H "Content-Type: application/json" \
  -d '{"presented_card":{"number":"7000000000000001"},"terminal_id":"till-01"}'

Operators alice and bob (roles viewer, operator, security_admin; keys and — demo only — TOTP
secrets in %[7]s) run the incident commands against this demo:

go run ./cmd/payhub ops --demo-dir %[7]s --as alice step-up
go run ./cmd/payhub ops --demo-dir %[7]s --as alice switch set --method card --operation refund --reason "Card refunds are paused."
go run ./cmd/payhub ops --demo-dir %[7]s --as alice switch list

and an operator token for curl: go run ./cmd/payhub token --demo-dir %[7]s --operator alice

Stop with Ctrl-C.
`, addr, simAddr, demoClientID, demoKeyID, demoStoreID, filepath.Join(dataDir, demoKeyFile), dataDir, linepaySimAddr, gmopgSimAddr, nanacoSimAddr)
}

// demoSecretKeyFile holds the demo's key for sealing partner credentials (owner-only).
const demoSecretKeyFile = "secret.key"

// demoAuditKeyFile holds the demo's audit key (owner-only), for the audit and client
// commands: PAYHUB_AUDIT_KEY_FILE=<data dir>/audit.key (docs/security.md §9).
const demoAuditKeyFile = "audit.key"

// loadOrCreateSecretKey reads the demo's sealing key, or creates it on first run, so the
// credentials sealed in the demo database still open after a restart.
func loadOrCreateSecretKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return secrets.ParseKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := secrets.NewKey()
	return k, os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600)
}
