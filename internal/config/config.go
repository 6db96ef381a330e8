// Package config reads payhub's configuration: the PAYHUB_* environment variables (a
// secret may come from the file named by NAME_FILE instead) into the adapters' and the
// engine's settings. Only cmd/* and internal/app read configuration, through this package;
// nothing here is logged, and a partner configured by halves is an error, never a silent
// fallback.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	gmopgadapter "payhub/adapters/gmopg"
	linepayadapter "payhub/adapters/linepay"
	nanacoadapter "payhub/adapters/nanaco"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/auth"
	"payhub/internal/hub"
	"payhub/internal/secrets"
	"payhub/internal/webhooks"
	gmopgsim "payhub/mocks/gmopg"
	linepaysim "payhub/mocks/linepay"
	nanacosim "payhub/mocks/nanaco"
	paypaysim "payhub/mocks/paypay"
)

// Env reads a PAYHUB_* variable; secrets may come from a file named by NAME_FILE instead.
func Env(name string) (string, error) {
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

// EnvOr is Env of name, or fallback when it is unset (or unreadable).
func EnvOr(name, fallback string) string {
	if v, _ := Env(name); v != "" {
		return v
	}
	return fallback
}

// PayPayCredentials are PayPay's OPA-Auth credentials, shared by the adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type PayPayCredentials struct {
	APIKey, APISecret, MerchantID string
}

// PayPayCredentialsFromEnv reads the PAYHUB_PAYPAY_* credentials; withDemoDefaults fills the
// simulator's documented demo values for what is unset (demo and sim only).
func PayPayCredentialsFromEnv(withDemoDefaults bool) (PayPayCredentials, error) {
	c := PayPayCredentials{}
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
		if *v.dst, err = Env(v.name); err != nil {
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

// PayPay is the PayPay adapter's configuration from the environment. serve refuses to start
// while any of it is missing: there is no silent fallback to a simulator.
func PayPay() (paypayadapter.Config, error) {
	creds, err := PayPayCredentialsFromEnv(false)
	if err != nil {
		return paypayadapter.Config{}, err
	}
	cfg := paypayadapter.Config{BaseURL: EnvOr("PAYHUB_PAYPAY_BASE_URL", ""), APIKey: creds.APIKey,
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

// DatabaseURL is the --db flag, else PAYHUB_DATABASE_URL (or its _FILE), else a local
// SQLite file. The environment is read here, not as the flag's default, so a password in
// the URL never shows in --help.
func DatabaseURL(flag string) string {
	if flag != "" {
		return flag
	}
	return EnvOr("PAYHUB_DATABASE_URL", "sqlite:payhub.db")
}

// BarcodeRules reads PAYHUB_BARCODE_PREFIXES ("paypay=9000818188:18,linepay=39:12|18,…"),
// the prefix table that routes method auto; unset means payhub's defaults.
func BarcodeRules() ([]hub.BarcodeRule, error) {
	v, err := Env("PAYHUB_BARCODE_PREFIXES")
	if err != nil || v == "" {
		return nil, err
	}
	rules, err := hub.ParseBarcodeRules(v)
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_BARCODE_PREFIXES: %w", err)
	}
	return rules, nil
}

// OperatorKeys reads PAYHUB_OPERATOR_KEYS (or the file named by PAYHUB_OPERATOR_KEYS_FILE):
// a JSON array of {"operator","kid","public_key_pem","roles"}. Unset leaves /v1/ops closed.
func OperatorKeys() (auth.KeySource, error) {
	v, err := Env("PAYHUB_OPERATOR_KEYS")
	if err != nil || v == "" {
		return nil, err
	}
	keys, err := auth.ParseOperatorKeys([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_OPERATOR_KEYS: %w", err)
	}
	return keys, nil
}

// LoopbackOnly admits callbacks from this machine only (demo and tests).
var LoopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// CallbackAllowlist reads PAYHUB_PAYPAY_WEBHOOK_ALLOWLIST: the comma-separated addresses
// or CIDR networks PayPay's callbacks may come from (its published source IPs). Unset, no
// callback is accepted: payhub then learns of payments by polling and the resolver only.
func CallbackAllowlist() (hub.CallbackConfig, error) {
	raw, err := Env("PAYHUB_PAYPAY_WEBHOOK_ALLOWLIST")
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

// SecretKeys reads the key ring that seals the secrets payhub keeps (GMO-PG's AccessID and
// AccessPass per card payment, the webhook endpoints' signing secrets): PAYHUB_SECRET_KEYS
// (or its _FILE), keys of 32 bytes in base64 separated by commas, spaces or newlines,
// newest first — the first seals, every one opens, so a key is rotated by putting the new
// one first and running `payhub secrets reseal`; or PAYHUB_SECRET_KEY (or its _FILE), one
// key. Both set is an error (say it once). Unset: nil (the app makes a key that lives as
// long as the process, and serve refuses partners that need a lasting one). Errors name a
// bad key by its position, never by its text.
func SecretKeys() ([][]byte, error) {
	ring, err := Env("PAYHUB_SECRET_KEYS")
	if err != nil {
		return nil, err
	}
	one, err := Env("PAYHUB_SECRET_KEY")
	if err != nil {
		return nil, err
	}
	switch {
	case ring != "" && one != "":
		return nil, errors.New("set PAYHUB_SECRET_KEYS (newest first) or PAYHUB_SECRET_KEY, not both")
	case ring != "":
		keys, err := secrets.ParseKeys(ring)
		if err != nil {
			return nil, fmt.Errorf("PAYHUB_SECRET_KEYS: %w", err)
		}
		return keys, nil
	case one != "":
		k, err := secrets.ParseKey(one)
		if err != nil {
			return nil, fmt.Errorf("PAYHUB_SECRET_KEY: %w", err)
		}
		return [][]byte{k}, nil
	}
	return nil, nil
}

// AuditKey reads the key of the audit log's hash chain (docs/security.md §9):
// PAYHUB_AUDIT_KEY (or its _FILE), 32 bytes in base64. It lives in configuration, never in
// the database, so that someone who can write only to the database cannot re-chain the log.
// Unset: nil (serve refuses to start; the audit and client commands refuse to run). The
// error never repeats the key's text.
func AuditKey() ([]byte, error) {
	v, err := Env("PAYHUB_AUDIT_KEY")
	if err != nil || v == "" {
		return nil, err
	}
	k, err := secrets.ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("PAYHUB_AUDIT_KEY: %w", err)
	}
	return k, nil
}

// SecretKey is the key that seals: the first of SecretKeys (nil when none is configured).
func SecretKey() ([]byte, error) {
	keys, err := SecretKeys()
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return keys[0], nil
}

// LinePayCredentials are LINE Pay's HMAC channel credentials, shared by the adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type LinePayCredentials struct {
	ChannelID, ChannelSecret string
}

// LinePayCredentialsFromEnv reads PAYHUB_LINEPAY_CHANNEL_ID and PAYHUB_LINEPAY_CHANNEL_SECRET (or their
// _FILE); withDemoDefaults fills the simulator's documented demo values for what is unset
// (demo and sim only).
func LinePayCredentialsFromEnv(withDemoDefaults bool) (LinePayCredentials, error) {
	c := LinePayCredentials{}
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_LINEPAY_CHANNEL_ID", linepaysim.DemoChannelID, &c.ChannelID},
		envVar{"PAYHUB_LINEPAY_CHANNEL_SECRET", linepaysim.DemoChannelSecret, &c.ChannelSecret})
}

// GMOPGCredentials are GMO-PG's shop credentials, shared by the card adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type GMOPGCredentials struct {
	ShopID, ShopPass string
}

// GMOPGCredentialsFromEnv reads PAYHUB_GMOPG_SHOP_ID and PAYHUB_GMOPG_SHOP_PASS (or their _FILE);
// withDemoDefaults fills the simulator's documented demo values for what is unset (demo and
// sim only).
func GMOPGCredentialsFromEnv(withDemoDefaults bool) (GMOPGCredentials, error) {
	c := GMOPGCredentials{}
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_GMOPG_SHOP_ID", gmopgsim.DemoShopID, &c.ShopID},
		envVar{"PAYHUB_GMOPG_SHOP_PASS", gmopgsim.DemoShopPass, &c.ShopPass})
}

// LinePay reads LINE Pay's adapter configuration for serve:
// PAYHUB_LINEPAY_BASE_URL, PAYHUB_LINEPAY_CHANNEL_ID, PAYHUB_LINEPAY_CHANNEL_SECRET (or
// their _FILE) and PAYHUB_LINEPAY_CURRENCY (TWD, the default, or THB: a channel has one).
// None set: LINE Pay is not offered (nil). Some but not all set: an error, so a typo never
// silently switches a partner off.
func LinePay() (*linepayadapter.Config, error) {
	creds, err := LinePayCredentialsFromEnv(false)
	if err != nil {
		return nil, err
	}
	base := EnvOr("PAYHUB_LINEPAY_BASE_URL", "")
	configured, err := allOrNone("linepay", map[string]string{"PAYHUB_LINEPAY_BASE_URL": base,
		"PAYHUB_LINEPAY_CHANNEL_ID": creds.ChannelID, "PAYHUB_LINEPAY_CHANNEL_SECRET": creds.ChannelSecret})
	if !configured {
		return nil, err
	}
	currency := contracts.Currency(EnvOr("PAYHUB_LINEPAY_CURRENCY", string(contracts.TWD)))
	if currency != contracts.TWD && currency != contracts.THB {
		return nil, fmt.Errorf("PAYHUB_LINEPAY_CURRENCY must be TWD or THB, not %q", currency)
	}
	return &linepayadapter.Config{BaseURL: base, ChannelID: creds.ChannelID, ChannelSecret: creds.ChannelSecret, Currency: currency}, nil
}

// NanacoCredentials are the NCS merchant credentials, shared by the nanaco adapter and the
// simulator so that `payhub sim` and `payhub serve` started with one environment agree.
type NanacoCredentials struct {
	MerchantID, Secret string
}

// NanacoCredentialsFromEnv reads PAYHUB_NANACO_MERCHANT_ID and PAYHUB_NANACO_SECRET (or
// their _FILE); withDemoDefaults fills the simulator's documented demo values for what is
// unset (demo and sim only).
func NanacoCredentialsFromEnv(withDemoDefaults bool) (NanacoCredentials, error) {
	c := NanacoCredentials{}
	return c, readEnv(withDemoDefaults,
		envVar{"PAYHUB_NANACO_MERCHANT_ID", nanacosim.DemoMerchantID, &c.MerchantID},
		envVar{"PAYHUB_NANACO_SECRET", nanacosim.DemoSecret, &c.Secret})
}

// Nanaco reads the nanaco adapter's configuration for serve: PAYHUB_NANACO_BASE_URL,
// PAYHUB_NANACO_MERCHANT_ID, PAYHUB_NANACO_SECRET (or their _FILE), the NCS centre and the
// merchant's HMAC credentials (docs/partners/nanaco.md §B1, §B2). None set: nanaco is not
// offered (nil). Some but not all: an error.
func Nanaco() (*nanacoadapter.Config, error) {
	creds, err := NanacoCredentialsFromEnv(false)
	if err != nil {
		return nil, err
	}
	base := EnvOr("PAYHUB_NANACO_BASE_URL", "")
	configured, err := allOrNone("nanaco", map[string]string{"PAYHUB_NANACO_BASE_URL": base,
		"PAYHUB_NANACO_MERCHANT_ID": creds.MerchantID, "PAYHUB_NANACO_SECRET": creds.Secret})
	if !configured {
		return nil, err
	}
	return &nanacoadapter.Config{BaseURL: base, MerchantID: creds.MerchantID, Secret: creds.Secret}, nil
}

// GMOPG reads the card adapter's configuration for serve: PAYHUB_GMOPG_BASE_URL,
// PAYHUB_GMOPG_SHOP_ID, PAYHUB_GMOPG_SHOP_PASS (or their _FILE). None set: cards are not
// offered (nil). Some but not all: an error. Cards need PAYHUB_SECRET_KEY (GMO's AccessID
// and AccessPass are kept sealed, and must still open after a restart) and
// PAYHUB_PUBLIC_URL (3-D Secure returns the customer's browser to payhub).
// PAYHUB_GMOPG_ALLOW_WITHOUT_3DS=true is the explicit exemption that authorises cards whose
// issuer has no 3-D Secure 2 (refused otherwise).
func GMOPG(secretKey []byte, publicURL string) (*gmopgadapter.Config, error) {
	creds, err := GMOPGCredentialsFromEnv(false)
	if err != nil {
		return nil, err
	}
	base := EnvOr("PAYHUB_GMOPG_BASE_URL", "")
	configured, err := allOrNone("card (GMO-PG)", map[string]string{"PAYHUB_GMOPG_BASE_URL": base,
		"PAYHUB_GMOPG_SHOP_ID": creds.ShopID, "PAYHUB_GMOPG_SHOP_PASS": creds.ShopPass})
	switch {
	case !configured:
		return nil, err
	case secretKey == nil:
		return nil, errors.New("partner card (GMO-PG) needs PAYHUB_SECRET_KEYS or PAYHUB_SECRET_KEY (base64 of 32 bytes) to seal GMO's AccessID and AccessPass")
	case publicURL == "":
		return nil, errors.New("partner card (GMO-PG) needs PAYHUB_PUBLIC_URL: 3-D Secure sends the customer's browser back to payhub")
	}
	cfg := &gmopgadapter.Config{BaseURL: base, ShopID: creds.ShopID, ShopPass: creds.ShopPass}
	switch v := EnvOr("PAYHUB_GMOPG_ALLOW_WITHOUT_3DS", "false"); v {
	case "true":
		cfg.AllowWithout3DS = true // the explicit exemption of docs/partners/gmopg.md §4
	case "false":
	default:
		return nil, fmt.Errorf("PAYHUB_GMOPG_ALLOW_WITHOUT_3DS must be true or false, not %q", v)
	}
	return cfg, nil
}

// WebhookPolicy is what store notifications may reach and how much of the deliverers one
// store may hold (docs/api.md §8.4, §8.6). Zero fields mean internal/webhooks' defaults.
type WebhookPolicy struct {
	// Ports are the ports endpoints may name (PAYHUB_WEBHOOK_PORTS; default 443 alone).
	Ports []uint16
	// MaxEndpointsPerStore is how many endpoints one store may have
	// (PAYHUB_WEBHOOK_MAX_ENDPOINTS; default 16).
	MaxEndpointsPerStore int
	// PerEndpoint and PerStore bound the sends in flight to one endpoint and to one store,
	// over every instance (PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT, _PER_STORE; default 4 and 8).
	PerEndpoint, PerStore int
}

// Webhooks reads the WebhookPolicy from PAYHUB_WEBHOOK_PORTS (comma-separated ports),
// PAYHUB_WEBHOOK_MAX_ENDPOINTS, PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT and
// PAYHUB_WEBHOOK_INFLIGHT_PER_STORE; unset variables keep the defaults.
func Webhooks() (WebhookPolicy, error) {
	var p WebhookPolicy
	if raw := EnvOr("PAYHUB_WEBHOOK_PORTS", ""); raw != "" {
		ports, err := webhooks.ParsePorts(raw)
		if err != nil {
			return p, fmt.Errorf("PAYHUB_WEBHOOK_PORTS: %w", err)
		}
		p.Ports = ports
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{
		{"PAYHUB_WEBHOOK_MAX_ENDPOINTS", &p.MaxEndpointsPerStore},
		{"PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT", &p.PerEndpoint},
		{"PAYHUB_WEBHOOK_INFLIGHT_PER_STORE", &p.PerStore},
	} {
		raw := EnvOr(v.name, "")
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 10000 {
			return p, fmt.Errorf("%s: %q is not a whole number from 1 to 10000", v.name, raw)
		}
		*v.dst = n
	}
	return p, nil
}
