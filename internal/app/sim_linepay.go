package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"payhub/internal/config"
	linepaysim "payhub/mocks/linepay"
	"payhub/mocks/sim"
)

const defaultLinePaySimAddr = "127.0.0.1:7102"

// startLinePaySim serves the LINE Pay simulator on addr until ctx ends. slowPayDelay is
// how long a pay with OneTimeKeySlow runs before LINE records it (0: the simulator's
// DefaultSlowPayDelay).
func StartLinePaySim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger, slowPayDelay time.Duration) (net.Listener, *linepaysim.Simulator, error) {
	if slowPayDelay < 0 {
		return nil, nil, fmt.Errorf("linepay simulator: slow pay delay %s is negative", slowPayDelay)
	}
	creds, err := config.LinePayCredentialsFromEnv(true)
	if err != nil {
		return nil, nil, err
	}
	s := linepaysim.New(linepaysim.Config{ChannelID: creds.ChannelID, ChannelSecret: creds.ChannelSecret,
		Clock: sim.SystemClock{}, Faults: faults, SlowPayDelay: slowPayDelay})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("linepay simulator: %w", err)
	}
	go func() {
		if err := ServeUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("linepay simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
