package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"payhub/internal/secrets"
)

// PAYHUB_SECRET_KEYS is a ring, newest first; PAYHUB_SECRET_KEY one key; either may come
// from a file; both at once, or a bad key, is an error that never quotes a key.
func TestSecretKeys(t *testing.T) {
	newer, older := secrets.NewKey(), secrets.NewKey()
	enc := base64.StdEncoding.EncodeToString
	for _, name := range []string{"PAYHUB_SECRET_KEYS", "PAYHUB_SECRET_KEY", "PAYHUB_SECRET_KEYS_FILE", "PAYHUB_SECRET_KEY_FILE"} {
		t.Setenv(name, "")
	}
	if keys, err := SecretKeys(); keys != nil || err != nil {
		t.Fatalf("unset: %d keys, %v", len(keys), err)
	}
	if k, err := SecretKey(); k != nil || err != nil {
		t.Fatalf("unset: %v", err)
	}

	t.Setenv("PAYHUB_SECRET_KEY", enc(older))
	keys, err := SecretKeys()
	if err != nil || len(keys) != 1 || string(keys[0]) != string(older) {
		t.Fatalf("PAYHUB_SECRET_KEY: %d keys, %v", len(keys), err)
	}

	t.Setenv("PAYHUB_SECRET_KEYS", enc(newer)+","+enc(older))
	if _, err := SecretKeys(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both set: %v", err)
	}
	t.Setenv("PAYHUB_SECRET_KEY", "")
	keys, err = SecretKeys()
	if err != nil || len(keys) != 2 || string(keys[0]) != string(newer) || string(keys[1]) != string(older) {
		t.Fatalf("PAYHUB_SECRET_KEYS: %d keys, %v", len(keys), err)
	}
	if k, err := SecretKey(); err != nil || string(k) != string(newer) {
		t.Fatalf("SecretKey is not the newest: %v", err)
	}

	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(enc(newer)+"\n"+enc(older)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYHUB_SECRET_KEYS", "")
	t.Setenv("PAYHUB_SECRET_KEYS_FILE", file)
	if keys, err := SecretKeys(); err != nil || len(keys) != 2 || string(keys[0]) != string(newer) {
		t.Fatalf("PAYHUB_SECRET_KEYS_FILE: %d keys, %v", len(keys), err)
	}

	t.Setenv("PAYHUB_SECRET_KEYS_FILE", "")
	for _, bad := range []string{enc(newer) + ",c2hvcnQ=", enc(newer) + "," + enc(newer)} {
		t.Setenv("PAYHUB_SECRET_KEYS", bad)
		_, err := SecretKeys()
		if err == nil || !strings.Contains(err.Error(), "PAYHUB_SECRET_KEYS") || strings.Contains(err.Error(), enc(newer)) || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("bad ring: %v", err)
		}
	}
}
