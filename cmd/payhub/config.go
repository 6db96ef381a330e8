package main

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/secrets"
	paypaysim "payhub/mocks/paypay"
)

// env reads a PAYHUB_* variable; secrets may come from a file named by NAME_FILE instead.
func env(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if path := os.Getenv(name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func envOr(name, fallback string) string {
	if v, _ := env(name); v != "" {
		return v
	}
	return fallback
}

// paypayCredentials are PayPay's OPA-Auth credentials, shared by the adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type paypayCredentials struct {
	APIKey, APISecret, MerchantID string
}

// paypayFromEnv reads the PAYHUB_PAYPAY_* credentials; withDemoDefaults fills the
// simulator's documented demo values for what is unset (demo and sim only).
func paypayFromEnv(withDemoDefaults bool) (paypayCredentials, error) {
	c := paypayCredentials{}
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_PAYPAY_API_KEY", paypaysim.DemoAPIKey, &c.APIKey},
		envVar{"PAYHUB_PAYPAY_API_SECRET", paypaysim.DemoAPISecret, &c.APISecret},
		envVar{"PAYHUB_PAYPAY_MERCHANT_ID", paypaysim.DemoMerchantID, &c.MerchantID})
}

// envVar is one configuration variable: its name, the simulator's documented demo value,
// and where it goes.
type envVar struct {
	name, demo string
	dst        *string
}

// readEnv reads each variable (or its _FILE); withDemoDefaults fills the demo value of
// what is unset (demo and sim only).
func readEnv(withDemoDefaults bool, vars ...envVar) error {
	for _, v := range vars {
		var err error
		if *v.dst, err = env(v.name); err != nil {
			return err
		}
		if *v.dst == "" && withDemoDefaults {
			*v.dst = v.demo
		}
	}
	return nil
}

// allOrNone says whether an optional partner is configured: every named value set (true),
// none (false), or some (an error naming the missing ones, so a typo never silently
// switches a partner off).
func allOrNone(partner string, values map[string]string) (bool, error) {
	var missing []string
	for name, v := range values {
		if v == "" {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 0:
		return true, nil
	case len(values):
		return false, nil
	}
	slices.Sort(missing)
	return false, fmt.Errorf("partner %s is half configured: set %s (or none of them)", partner, strings.Join(missing, ", "))
}

// paypayAdapterConfig is the adapter's configuration from the environment. serve refuses
// to start while any of it is missing: there is no silent fallback to a simulator.
func paypayAdapterConfig() (paypayadapter.Config, error) {
	creds, err := paypayFromEnv(false)
	if err != nil {
		return paypayadapter.Config{}, err
	}
	cfg := paypayadapter.Config{BaseURL: envOr("PAYHUB_PAYPAY_BASE_URL", ""), APIKey: creds.APIKey,
		APISecret: creds.APISecret, MerchantID: creds.MerchantID}
	var missing []string
	for name, v := range map[string]string{"PAYHUB_PAYPAY_BASE_URL": cfg.BaseURL, "PAYHUB_PAYPAY_API_KEY": cfg.APIKey,
		"PAYHUB_PAYPAY_API_SECRET": cfg.APISecret, "PAYHUB_PAYPAY_MERCHANT_ID": cfg.MerchantID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return cfg, fmt.Errorf("partner paypay is not configured: set %s", strings.Join(missing, ", "))
	}
	return cfg, nil
}

// databaseURL is the --db flag, else PAYHUB_DATABASE_URL (or its _FILE), else a local
// SQLite file. The environment is read here, not as the flag's default, so a password in
// the URL never shows in --help.
func databaseURL(flag string) string {
	if flag != "" {
		return flag
	}
	return envOr("PAYHUB_DATABASE_URL", "sqlite:payhub.db")
}

// barcodeRules reads PAYHUB_BARCODE_PREFIXES ("paypay=9000818188:18,linepay=39:12|18,…"),
// the prefix table that routes method auto; unset means payhub's defaults.
func barcodeRules() ([]hub.BarcodeRule, error) {
	v, err := env("PAYHUB_BARCODE_PREFIXES")
	if err != nil || v == "" {
		return nil, err
	}
	rules, err := hub.ParseBarcodeRules(v)
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_BARCODE_PREFIXES: %w", err)
	}
	return rules, nil
}

// operatorKeys reads PAYHUB_OPERATOR_KEYS (or the file named by PAYHUB_OPERATOR_KEYS_FILE):
// a JSON array of {"operator","kid","public_key_pem","roles"}. Unset leaves /v1/ops closed.
func operatorKeys() (auth.KeySource, error) {
	v, err := env("PAYHUB_OPERATOR_KEYS")
	if err != nil || v == "" {
		return nil, err
	}
	keys, err := auth.ParseOperatorKeys([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_OPERATOR_KEYS: %w", err)
	}
	return keys, nil
}

// loopbackOnly admits callbacks from this machine only (demo and tests).
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// callbackAllowlist reads PAYHUB_PAYPAY_WEBHOOK_ALLOWLIST: the comma-separated addresses
// or CIDR networks PayPay's callbacks may come from (its published source IPs). Unset, no
// callback is accepted: payhub then learns of payments by polling and the resolver only.
func callbackAllowlist() (hub.CallbackConfig, error) {
	raw, err := env("PAYHUB_PAYPAY_WEBHOOK_ALLOWLIST")
	if err != nil || strings.TrimSpace(raw) == "" {
		return hub.CallbackConfig{}, err
	}
	var nets []netip.Prefix
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return hub.CallbackConfig{}, fmt.Errorf("PAYHUB_PAYPAY_WEBHOOK_ALLOWLIST: %q is neither an address nor a network", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p.Masked())
	}
	return hub.CallbackConfig{Allow: map[contracts.Method][]netip.Prefix{contracts.MethodPayPay: nets}}, nil
}

// secretKeyFromEnv reads PAYHUB_SECRET_KEY (or its _FILE): base64 of 32 bytes, the key that
// seals partner credentials kept per payment. Unset: nil (buildApp makes a key that lives
// as long as the process, and serve refuses partners that need a lasting one).
func secretKeyFromEnv() ([]byte, error) {
	v, err := env("PAYHUB_SECRET_KEY")
	if err != nil || v == "" {
		return nil, err
	}
	k, err := secrets.ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_SECRET_KEY: %w", err)
	}
	return k, nil
}
