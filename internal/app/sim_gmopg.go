package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	gmopgadapter "payhub/adapters/gmopg"
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
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_GMOPG_SHOP_ID", gmopgsim.DemoShopID, &c.ShopID},
		envVar{"PAYHUB_GMOPG_SHOP_PASS", gmopgsim.DemoShopPass, &c.ShopPass})
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

// cardAdapterConfig reads the card adapter's configuration for serve: PAYHUB_GMOPG_BASE_URL,
// PAYHUB_GMOPG_SHOP_ID, PAYHUB_GMOPG_SHOP_PASS (or their _FILE). None set: cards are not
// offered (nil). Some but not all: an error. Cards need PAYHUB_SECRET_KEY (GMO's AccessID
// and AccessPass are kept sealed, and must still open after a restart) and
// PAYHUB_PUBLIC_URL (3-D Secure returns the customer's browser to payhub).
// PAYHUB_GMOPG_ALLOW_WITHOUT_3DS=true is the explicit exemption that authorises cards whose
// issuer has no 3-D Secure 2 (refused otherwise).
func cardAdapterConfig(secretKey []byte, publicURL string) (*gmopgadapter.Config, error) {
	creds, err := gmopgFromEnv(false)
	if err != nil {
		return nil, err
	}
	base := envOr("PAYHUB_GMOPG_BASE_URL", "")
	configured, err := allOrNone("card (GMO-PG)", map[string]string{"PAYHUB_GMOPG_BASE_URL": base,
		"PAYHUB_GMOPG_SHOP_ID": creds.ShopID, "PAYHUB_GMOPG_SHOP_PASS": creds.ShopPass})
	switch {
	case !configured:
		return nil, err
	case secretKey == nil:
		return nil, errors.New("partner card (GMO-PG) needs PAYHUB_SECRET_KEY (base64 of 32 bytes) to seal GMO's AccessID and AccessPass")
	case publicURL == "":
		return nil, errors.New("partner card (GMO-PG) needs PAYHUB_PUBLIC_URL: 3-D Secure sends the customer's browser back to payhub")
	}
	cfg := &gmopgadapter.Config{BaseURL: base, ShopID: creds.ShopID, ShopPass: creds.ShopPass}
	switch v := envOr("PAYHUB_GMOPG_ALLOW_WITHOUT_3DS", "false"); v {
	case "true":
		cfg.AllowWithout3DS = true // the explicit exemption of card-gmopg.md §4
	case "false":
	default:
		return nil, fmt.Errorf("PAYHUB_GMOPG_ALLOW_WITHOUT_3DS must be true or false, not %q", v)
	}
	return cfg, nil
}
