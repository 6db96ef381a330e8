package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
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
	if strings.Contains(sealed, "0123456789abcdef") || !strings.HasPrefix(sealed, "v2."+box.KeyID()+".") {
		t.Fatalf("sealed %q shows the secret or lacks its version and key id", sealed)
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
	body := sealed[len("v2."+box.KeyID()+"."):]
	for _, bad := range []string{"v1.", "v1.!!", "v2.", "v2." + box.KeyID(), "v2." + box.KeyID() + ".", "v2." + box.KeyID() + ".!!",
		"v3." + sealed[3:], "v1." + body, "v2." + other.KeyID() + "." + body, sealed[:len(sealed)-2], secret} {
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

// sealV1 seals as payhub did before key ids: "v1." + base64url(nonce ‖ ciphertext ‖ tag),
// the owner as additional data. Written out here so the test does not depend on the code
// it checks.
func sealV1(t *testing.T, k []byte, owner, plaintext string) string {
	t.Helper()
	block, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return "v1." + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), []byte(owner)))
}

// A ring seals under its first key and opens under every key, values of format v1 (no key
// id) included; a value moves to the sealing key by Reseal.
func TestRing(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	oldBox, _ := NewBox(oldKey)
	ring, err := NewRing(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if ring.KeyID() != KeyID(newKey) || len(ring.KeyIDs()) != 2 || ring.KeyIDs()[1] != oldBox.KeyID() {
		t.Fatalf("ring ids %v, sealing %s", ring.KeyIDs(), ring.KeyID())
	}
	if !ring.Has(oldBox.KeyID()) || ring.Has(KeyID(NewKey())) {
		t.Error("Has")
	}
	const secret = "access-id:access-pass"
	v1 := sealV1(t, oldKey, "pay_1", secret)
	v2old := oldBox.Seal("pay_1", secret)
	for name, sealed := range map[string]string{"v1": v1, "v2 under the old key": v2old} {
		if got, err := ring.Open("pay_1", sealed); err != nil || got != secret {
			t.Errorf("ring opens %s: %q, %v", name, got, err)
		}
		if ring.Current(sealed) {
			t.Errorf("%s counts as current", name)
		}
		moved, changed, err := ring.Reseal("pay_1", sealed)
		if err != nil || !changed || !strings.HasPrefix(moved, ring.CurrentPrefix()) || !ring.Current(moved) {
			t.Fatalf("Reseal(%s) = %q, %v, %v", name, moved, changed, err)
		}
		if again, changed, err := ring.Reseal("pay_1", moved); again != moved || changed || err != nil {
			t.Errorf("Reseal of a current value changed it: %v %v", changed, err)
		}
		newOnly, _ := NewBox(newKey)
		if got, err := newOnly.Open("pay_1", moved); err != nil || got != secret {
			t.Errorf("the new key alone opens the resealed %s: %q, %v", name, got, err)
		}
		if _, err := newOnly.Open("pay_1", sealed); err != ErrUnreadable {
			t.Errorf("the new key alone opens the %s value: %v", name, err)
		}
	}
	if got, err := oldBox.Open("pay_1", v1); err != nil || got != secret {
		t.Errorf("a single key opens v1: %q, %v", got, err)
	}
	if _, _, err := ring.Reseal("pay_2", v1); err != ErrUnreadable {
		t.Errorf("Reseal for another owner: %v", err)
	}
	if moved, changed, err := ring.Reseal("pay_1", ""); moved != "" || changed || err != nil {
		t.Error("Reseal of nothing")
	}
	for _, c := range []struct{ in, format, id string }{
		{v1, "v1", ""}, {v2old, "v2", oldBox.KeyID()}, {"whsec_abc", "", ""}, {"v2.short.x", "", ""}, {"", "", ""},
	} {
		if f, id := Format(c.in); f != c.format || id != c.id {
			t.Errorf("Format(%.12q) = %q %q", c.in, f, id)
		}
	}
	if _, err := NewRing(newKey, oldKey, newKey); err == nil {
		t.Error("a ring took a key twice")
	}
	if _, err := NewRing(); err == nil {
		t.Error("an empty ring")
	}
}

// A key id is derived from the key but shows nothing of it.
func TestKeyIDRevealsNothing(t *testing.T) {
	k := NewKey()
	id := KeyID(k)
	if len(id) != KeyIDLength || id != KeyID(k) || id == KeyID(NewKey()) {
		t.Fatalf("KeyID = %q", id)
	}
	for _, enc := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), string(k)} {
		if strings.Contains(enc, id) || strings.Contains(id, enc[:8]) {
			t.Errorf("key id %s shows the key", id)
		}
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

func TestParseKeys(t *testing.T) {
	a, b := NewKey(), NewKey()
	ea, eb := base64.StdEncoding.EncodeToString(a), base64.RawURLEncoding.EncodeToString(b)
	for _, s := range []string{ea + "," + eb, ea + ", " + eb + "\n", "\n" + ea + "\n" + eb + "\n"} {
		keys, err := ParseKeys(s)
		if err != nil || len(keys) != 2 || string(keys[0]) != string(a) || string(keys[1]) != string(b) {
			t.Errorf("ParseKeys(%q) = %d keys, %v", s, len(keys), err)
		}
	}
	for _, s := range []string{"", " , ", ea + "," + ea, ea + ",short"} {
		keys, err := ParseKeys(s)
		if err == nil {
			t.Errorf("ParseKeys(%q) = %d keys", s, len(keys))
			continue
		}
		if strings.Contains(err.Error(), ea) || strings.Contains(err.Error(), "short") {
			t.Errorf("the error quotes a key: %v", err)
		}
	}
}
