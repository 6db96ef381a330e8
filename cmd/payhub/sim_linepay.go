package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	linepaysim "payhub/mocks/linepay"
	"payhub/mocks/sim"
)

const defaultLinePaySimAddr = "127.0.0.1:7102"

// linepayCredentials are LINE Pay's HMAC channel credentials, shared by the adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type linepayCredentials struct {
	ChannelID, ChannelSecret string
}

// linepayFromEnv reads PAYHUB_LINEPAY_CHANNEL_ID and PAYHUB_LINEPAY_CHANNEL_SECRET (or their
// _FILE); withDemoDefaults fills the simulator's documented demo values for what is unset
// (demo and sim only).
func linepayFromEnv(withDemoDefaults bool) (linepayCredentials, error) {
	c := linepayCredentials{}
	var err error
	for _, f := range []struct {
		name, demo string
		dst        *string
	}{
		{"PAYHUB_LINEPAY_CHANNEL_ID", linepaysim.DemoChannelID, &c.ChannelID},
		{"PAYHUB_LINEPAY_CHANNEL_SECRET", linepaysim.DemoChannelSecret, &c.ChannelSecret},
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

// startLinePaySim serves the LINE Pay simulator on addr until ctx ends.
func startLinePaySim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger) (net.Listener, *linepaysim.Simulator, error) {
	creds, err := linepayFromEnv(true)
	if err != nil {
		return nil, nil, err
	}
	s := linepaysim.New(linepaysim.Config{ChannelID: creds.ChannelID, ChannelSecret: creds.ChannelSecret,
		Clock: sim.SystemClock{}, Faults: faults})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("linepay simulator: %w", err)
	}
	go func() {
		if err := serveUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("linepay simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}
