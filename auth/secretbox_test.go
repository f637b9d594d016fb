package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSecretBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, SecretKeyBytes)
	b, err := NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte("pump-community"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("pump-community")) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, _ := b.Seal([]byte("pump-community"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
	got, err := b.Open(sealed)
	if err != nil || string(got) != "pump-community" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := NewSecretBox(bytes.Repeat([]byte{8}, SecretKeyBytes))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("another key opened the value")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for _, bad := range [][]byte{nil, {1}, tampered, append([]byte{2}, sealed[1:]...)} {
		if _, err := b.Open(bad); err == nil {
			t.Fatalf("Open(%x) succeeded", bad)
		}
	}
	if _, err := NewSecretBox(key[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func TestLoadOrCreateSecretKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "secret.key")
	k1, err := LoadOrCreateSecretKey(path)
	if err != nil || len(k1) != SecretKeyBytes {
		t.Fatalf("create: %x, %v", k1, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := LoadOrCreateSecretKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload gave another key: %v", err)
	}
	os.WriteFile(path, []byte("not hex"), 0o600)
	if _, err := LoadOrCreateSecretKey(path); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}

func FuzzSecretBoxOpen(f *testing.F) {
	b, _ := NewSecretBox(bytes.Repeat([]byte{7}, SecretKeyBytes))
	sealed, _ := b.Seal([]byte("x"))
	f.Add(sealed)
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = b.Open(data) // must not panic
	})
}
