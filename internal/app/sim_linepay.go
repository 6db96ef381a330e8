package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	linepayadapter "payhub/adapters/linepay"
	"payhub/contracts"

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
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_LINEPAY_CHANNEL_ID", linepaysim.DemoChannelID, &c.ChannelID},
		envVar{"PAYHUB_LINEPAY_CHANNEL_SECRET", linepaysim.DemoChannelSecret, &c.ChannelSecret})
}

// startLinePaySim serves the LINE Pay simulator on addr until ctx ends. slowPayDelay is
// how long a pay with OneTimeKeySlow runs before LINE records it (0: the simulator's
// DefaultSlowPayDelay).
func startLinePaySim(ctx context.Context, addr string, faults *sim.Faults, log *slog.Logger, slowPayDelay time.Duration) (net.Listener, *linepaysim.Simulator, error) {
	if slowPayDelay < 0 {
		return nil, nil, fmt.Errorf("linepay simulator: slow pay delay %s is negative", slowPayDelay)
	}
	creds, err := linepayFromEnv(true)
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
		if err := serveUntilDone(ctx, ln, s, 5*time.Second); err != nil {
			log.Error("linepay simulator stopped", "err", err)
		}
	}()
	return ln, s, nil
}

// linepayAdapterConfig reads LINE Pay's adapter configuration for serve:
// PAYHUB_LINEPAY_BASE_URL, PAYHUB_LINEPAY_CHANNEL_ID, PAYHUB_LINEPAY_CHANNEL_SECRET (or
// their _FILE) and PAYHUB_LINEPAY_CURRENCY (TWD, the default, or THB: a channel has one).
// None set: LINE Pay is not offered (nil). Some but not all set: an error, so a typo never
// silently switches a partner off.
func linepayAdapterConfig() (*linepayadapter.Config, error) {
	creds, err := linepayFromEnv(false)
	if err != nil {
		return nil, err
	}
	base := envOr("PAYHUB_LINEPAY_BASE_URL", "")
	configured, err := allOrNone("linepay", map[string]string{"PAYHUB_LINEPAY_BASE_URL": base,
		"PAYHUB_LINEPAY_CHANNEL_ID": creds.ChannelID, "PAYHUB_LINEPAY_CHANNEL_SECRET": creds.ChannelSecret})
	if !configured {
		return nil, err
	}
	currency := contracts.Currency(envOr("PAYHUB_LINEPAY_CURRENCY", string(contracts.TWD)))
	if currency != contracts.TWD && currency != contracts.THB {
		return nil, fmt.Errorf("PAYHUB_LINEPAY_CURRENCY must be TWD or THB, not %q", currency)
	}
	return &linepayadapter.Config{BaseURL: base, ChannelID: creds.ChannelID, ChannelSecret: creds.ChannelSecret, Currency: currency}, nil
}
