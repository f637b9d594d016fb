package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretKeyBytes is the size of a secret-box key (AES-256).
const SecretKeyBytes = 32

// secretVersion prefixes every sealed value, so the format can change.
const secretVersion = 1

// SecretBox seals stored credentials (SNMP communities and passwords)
// with AES-256-GCM under a key kept outside the database. It implements
// wardwatch.SecretBox.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox returns a box for a 32-byte key.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != SecretKeyBytes {
		return nil, fmt.Errorf("secret key: %d bytes, want %d", len(key), SecretKeyBytes)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plaintext: a version byte, a random nonce, the ciphertext
// with its tag.
func (b *SecretBox) Seal(plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = secretVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, out[:1]), nil
}

// errSealed is every failure to open: wrong key, tampering or garbage.
var errSealed = errors.New("sealed value cannot be opened with this key")

// Open decrypts a value Seal made under the same key.
func (b *SecretBox) Open(sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != secretVersion {
		return nil, errSealed
	}
	out, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], sealed[:1])
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}

// LoadOrCreateSecretKey reads the hex key in path, or creates the file
// (mode 0600, its directory 0750) with a new random key when it does not
// exist. Every WardWatch instance sharing a database needs the same key.
func LoadOrCreateSecretKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != SecretKeyBytes {
			return nil, fmt.Errorf("secret key %s: want %d bytes in hex", path, SecretKeyBytes)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	key := make([]byte, SecretKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return key, nil
}
