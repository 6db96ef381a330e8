package config

import (
	"strings"
	"testing"

	"payhub/internal/secrets"
)

// TestOptionalPartnersAreAllOrNothing: LINE Pay and cards are offered only when all their
// variables are set, left out when none is, and a half configuration refuses to start;
// cards also need the sealing key and the public URL.
func TestOptionalPartnersAreAllOrNothing(t *testing.T) {
	for _, v := range []string{"PAYHUB_LINEPAY_BASE_URL", "PAYHUB_LINEPAY_CHANNEL_ID", "PAYHUB_LINEPAY_CHANNEL_SECRET",
		"PAYHUB_GMOPG_BASE_URL", "PAYHUB_GMOPG_SHOP_ID", "PAYHUB_GMOPG_SHOP_PASS"} {
		t.Setenv(v, "")
	}
	if c, err := LinePay(); c != nil || err != nil {
		t.Fatalf("nothing set: %+v, %v", c, err)
	}
	if c, err := GMOPG(nil, ""); c != nil || err != nil {
		t.Fatalf("nothing set: %+v, %v", c, err)
	}
	t.Setenv("PAYHUB_LINEPAY_CHANNEL_ID", "1650000000")
	if _, err := LinePay(); err == nil || !strings.Contains(err.Error(), "PAYHUB_LINEPAY_BASE_URL, PAYHUB_LINEPAY_CHANNEL_SECRET") {
		t.Fatalf("half set: %v", err)
	}
	t.Setenv("PAYHUB_LINEPAY_BASE_URL", "http://127.0.0.1:7102")
	t.Setenv("PAYHUB_LINEPAY_CHANNEL_SECRET", "s")
	if c, err := LinePay(); err != nil || c == nil || c.Currency != "TWD" {
		t.Fatalf("all set: %+v, %v", c, err)
	}
	t.Setenv("PAYHUB_LINEPAY_CURRENCY", "JPY")
	if _, err := LinePay(); err == nil {
		t.Fatal("LINE Pay took JPY")
	}

	t.Setenv("PAYHUB_GMOPG_BASE_URL", "http://127.0.0.1:7103")
	t.Setenv("PAYHUB_GMOPG_SHOP_ID", "tshop00000001")
	t.Setenv("PAYHUB_GMOPG_SHOP_PASS", "p")
	if _, err := GMOPG(nil, "https://pay.example"); err == nil || !strings.Contains(err.Error(), "PAYHUB_SECRET_KEY") {
		t.Fatalf("cards without a sealing key: %v", err)
	}
	if _, err := GMOPG(secrets.NewKey(), ""); err == nil || !strings.Contains(err.Error(), "PAYHUB_PUBLIC_URL") {
		t.Fatalf("cards without a public URL: %v", err)
	}
	if c, err := GMOPG(secrets.NewKey(), "https://pay.example"); err != nil || c == nil {
		t.Fatalf("cards configured: %+v, %v", c, err)
	}
	t.Setenv("PAYHUB_SECRET_KEY", "too-short")
	if _, err := SecretKey(); err == nil {
		t.Fatal("a short PAYHUB_SECRET_KEY was taken")
	}
}
