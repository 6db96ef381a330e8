package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	gmopgsim "payhub/mocks/gmopg"
	"payhub/mocks/sim"
)

const defaultGMOPGSimAddr = "127.0.0.1:7103"

// gmopgCredentials are GMO-PG's shop credentials, shared by the card adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type gmopgCredentials struct {
	ShopID, ShopPass string
}

// gmopgFromEnv reads PAYHUB_GMOPG_SHOP_ID and PAYHUB_GMOPG_SHOP_PASS (or their _FILE);
// withDemoDefaults fills the simulator's documented demo values for what is unset (demo and
// sim only).
func gmopgFromEnv(withDemoDefaults bool) (gmopgCredentials, error) {
	c := gmopgCredentials{}
	var err error
	for _, f := range []struct {
		name, demo string
		dst        *string
	}{
		{"PAYHUB_GMOPG_SHOP_ID", gmopgsim.DemoShopID, &c.ShopID},
		{"PAYHUB_GMOPG_SHOP_PASS", gmopgsim.DemoShopPass, &c.ShopPass},
	} {
		if *f.dst, err = env(f.name); err != nil {
			return c, err
		}
		if *f.dst == "" && withDemoDefaults {
			*f.dst = f.demo
		}
	}
	return c, nil
}

// startGMOPGSim serves the GMO-PG simulator on addr until ctx ends. Its 3-D Secure page is
// on the same address, as browsers reach it.
func startGMOPGSim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger) (net.Listener, *gmopgsim.Simulator, error) {
	creds, err := gmopgFromEnv(true)
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
		if err := serveUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("gmopg simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
