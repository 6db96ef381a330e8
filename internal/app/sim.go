package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"payhub/internal/config"
	linepaysim "payhub/mocks/linepay"
	paypaysim "payhub/mocks/paypay"
	"payhub/mocks/sim"
)

const defaultPayPaySimAddr = "127.0.0.1:7101"

func SimCommand(logOut io.Writer) *cobra.Command {
	var paypayAddr, linepayAddr, gmopgAddr, nanacoAddr, faultSpec, webhookURL string
	var faultSeed int64
	var allowFaultHeader bool
	var linepaySlowPayDelay time.Duration
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the partner simulators, each on its own loopback port",
		Long: `Run the partner simulators: PayPay on 127.0.0.1:7101, LINE Pay on :7102, GMO-PG
(cards) on :7103, nanaco (NCS v1) on :7104. They read the same PAYHUB_PAYPAY_*,
PAYHUB_LINEPAY_*, PAYHUB_GMOPG_* and PAYHUB_NANACO_* credentials as the adapters, with
documented demo defaults, so 'payhub sim' and 'payhub serve' started with one environment
agree. One fault engine serves all.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := NewLogger(logOut)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			rules, err := sim.ParseFaultFlag(faultSpec)
			if err != nil {
				return fmt.Errorf("--faults: %w", err)
			}
			faults := sim.NewFaults(faultSeed)
			if err := faults.Set(rules); err != nil {
				return fmt.Errorf("--faults: %w", err)
			}
			ln, _, err := StartPayPaySim(ctx, paypayAddr, webhookURL, faults, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "PayPay simulator on http://%s\n", ln.Addr())
			lpLn, _, err := StartLinePaySim(ctx, linepayAddr, faults, log, linepaySlowPayDelay)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "LINE Pay simulator on http://%s\n", lpLn.Addr())
			gmoLn, _, err := StartGMOPGSim(ctx, gmopgAddr, faults, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "GMO-PG simulator on http://%s\n", gmoLn.Addr())
			ncLn, _, err := StartNanacoSim(ctx, nanacoAddr, faults, log, allowFaultHeader)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "nanaco simulator on http://%s\n", ncLn.Addr())
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&paypayAddr, "paypay-addr", defaultPayPaySimAddr, "PayPay simulator listen address")
	cmd.Flags().StringVar(&linepayAddr, "linepay-addr", defaultLinePaySimAddr, "LINE Pay simulator listen address")
	cmd.Flags().StringVar(&gmopgAddr, "gmopg-addr", defaultGMOPGSimAddr, "GMO-PG (cards) simulator listen address")
	cmd.Flags().StringVar(&nanacoAddr, "nanaco-addr", defaultNanacoSimAddr, "nanaco (NCS v1) simulator listen address")
	cmd.Flags().BoolVar(&allowFaultHeader, "allow-faults", false, "honour the per-request fault header NCS-Mock-Fault (nanaco simulator), e.g. \"NCS-Mock-Fault: commit_then_drop\"")
	cmd.Flags().StringVar(&faultSpec, "faults", "", `fault rules, e.g. "POST /v2/payments 0.1 commit_then_drop; * /v2/refunds 0.05 error:500" (see go doc ./mocks/sim ParseFaultFlag); change them at run time with PUT /_sim/faults`)
	cmd.Flags().StringVar(&webhookURL, "paypay-webhook-url", "", "where the PayPay simulator sends its callbacks, e.g. http://127.0.0.1:7100/v1/partners/paypay/webhooks (none when empty)")
	cmd.Flags().Int64Var(&faultSeed, "fault-seed", 1, "seed of the fault decisions (same seed and request order, same faults)")
	cmd.Flags().DurationVar(&linepaySlowPayDelay, "linepay-slow-pay-delay", linepaysim.DefaultSlowPayDelay,
		"how long a LINE Pay pay with the slow My Code fixture ("+linepaysim.OneTimeKeySlow+") runs before LINE records it (a payhub whose --linepay-late-window is not longer than this plus its partner timeout may close an order that still lands)")
	return cmd
}

// startPayPaySim serves the PayPay simulator on addr until ctx ends; with webhookURL set it
// sends PayPay's Transaction callbacks there.
func StartPayPaySim(ctx context.Context, addr, webhookURL string, faults *sim.Faults, log *slog.Logger) (net.Listener, *paypaysim.Simulator, error) {
	creds, err := config.PayPayCredentialsFromEnv(true)
	if err != nil {
		return nil, nil, err
	}
	s := paypaysim.New(paypaysim.Config{APIKey: creds.APIKey, APISecret: creds.APISecret,
		MerchantID: creds.MerchantID, Clock: sim.SystemClock{}, Faults: faults, WebhookURL: webhookURL})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("paypay simulator: %w", err)
	}
	go func() {
		if err := ServeUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("paypay simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
