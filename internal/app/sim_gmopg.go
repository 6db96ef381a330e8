package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"payhub/internal/config"
	gmopgsim "payhub/mocks/gmopg"
	"payhub/mocks/sim"
)

const defaultGMOPGSimAddr = "127.0.0.1:7103"

// startGMOPGSim serves the GMO-PG simulator on addr until ctx ends. Its 3-D Secure page is
// on the same address, as browsers reach it.
func StartGMOPGSim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger) (net.Listener, *gmopgsim.Simulator, error) {
	creds, err := config.GMOPGCredentialsFromEnv(true)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("gmopg simulator: %w", err)
	}
	s := gmopgsim.New(gmopgsim.Config{ShopID: creds.ShopID, ShopPass: creds.ShopPass, Clock: sim.SystemClock{},
		Faults: faults, PublicURL: "http://" + ln.Addr().String()})
	go func() {
		if err := ServeUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("gmopg simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
