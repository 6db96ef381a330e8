package secrets

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, err := NewBox(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	const secret = "0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"
	sealed := box.Seal("pay_1", secret)
	if strings.Contains(sealed, "0123456789abcdef") || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("sealed %q shows the secret or lacks its version", sealed)
	}
	if again := box.Seal("pay_1", secret); again == sealed {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	if got, err := box.Open("pay_1", sealed); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open("pay_2", sealed); err != ErrUnreadable {
		t.Errorf("opened for another owner: %v", err)
	}
	other, _ := NewBox(NewKey())
	if _, err := other.Open("pay_1", sealed); err != ErrUnreadable {
		t.Errorf("opened under another key: %v", err)
	}
	for _, bad := range []string{"v1.", "v1.!!", "v2." + sealed[3:], sealed[:len(sealed)-2], secret} {
		if _, err := box.Open("pay_1", bad); err != ErrUnreadable {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	if box.Seal("pay_1", "") != "" {
		t.Error("empty plaintext sealed to something")
	}
	if got, err := box.Open("pay_1", ""); got != "" || err != nil {
		t.Errorf("Open(\"\") = %q, %v", got, err)
	}
}

func TestParseKey(t *testing.T) {
	k := NewKey()
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || string(got) != string(k) {
			t.Errorf("ParseKey(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16])} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
	if _, err := NewBox(k[:16]); err == nil {
		t.Error("NewBox took a 16-byte key")
	}
}
