package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"payhub/internal/config"
	nanacosim "payhub/mocks/nanaco"
	"payhub/mocks/sim"
)

const defaultNanacoSimAddr = "127.0.0.1:7104"

// StartNanacoSim serves the nanaco (NCS v1) simulator on addr until ctx ends
// (docs/partners/nanaco.md §B8). It reads PAYHUB_NANACO_MERCHANT_ID and PAYHUB_NANACO_SECRET
// (or their _FILE), with the simulator's demo values for what is unset, so that it agrees
// with an adapter started from the same environment. allowFaultHeader honours the
// per-request NCS-Mock-Fault header.
func StartNanacoSim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger, allowFaultHeader bool) (net.Listener, *nanacosim.Simulator, error) {
	creds, err := config.NanacoCredentialsFromEnv(true)
	if err != nil {
		return nil, nil, err
	}
	s := nanacosim.New(nanacosim.Config{MerchantID: creds.MerchantID, Secret: creds.Secret, Clock: sim.SystemClock{},
		Faults: faults, AllowFaultHeader: allowFaultHeader})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("nanaco simulator: %w", err)
	}
	go func() {
		if err := ServeUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("nanaco simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
