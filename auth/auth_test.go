package auth_test

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

func TestHashPasswordRules(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"empty", "", true},
		{"eleven characters", "abcdefghijk", true},
		{"twelve characters", "abcdefghijkl", false},
		{"twelve multi-byte characters", "ééééééééééé€", false},
		{"eleven multi-byte characters", "ééééééééééé", true},
		{"72 bytes", strings.Repeat("a", 72), false},
		{"73 bytes", strings.Repeat("a", 73), true},
		{"over 72 bytes in 30 characters", strings.Repeat("€", 30), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := auth.HashPassword(tt.password)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("HashPassword(%q): %v", tt.password, err)
				}
				if !auth.CheckPassword(h, tt.password) {
					t.Errorf("CheckPassword(HashPassword(%q)) = false", tt.password)
				}
				return
			}
			if err == nil {
				t.Fatalf("HashPassword(%q) = %q, want error", tt.password, h)
			}
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
				t.Errorf("error code = %q, want %q (err %v)", code, wardwatch.EINVALID, err)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.HasPrefix(msg, "Passwords must") {
				t.Errorf("message = %q, want a rule users can read", msg)
			}
		})
	}
}

func TestHashAndCheck(t *testing.T) {
	const password = "correct horse battery"
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != 12 {
		t.Errorf("bcrypt cost = %d, %v; want 12", cost, err)
	}
	h2, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("HashPassword again: %v", err)
	}
	if h == h2 {
		t.Error("two hashes of the same password are equal; want distinct salts")
	}

	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
	}{
		{"right password", h, password, true},
		{"right password, second hash", h2, password, true},
		{"wrong password", h, "correct horse battery!", false},
		{"empty password", h, "", false},
		{"prefix of password", h, "correct horse", false},
		{"empty hash", "", password, false},
		{"malformed hash", "$2a$12$notahash", password, false},
		{"plain text as hash", password, password, false},
		{"too long password", h, password + strings.Repeat("x", 80), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.CheckPassword(tt.hash, tt.password); got != tt.want {
				t.Errorf("CheckPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewToken(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatalf("NewToken: %v", err)
		}
		if len(tok) != 43 {
			t.Errorf("len(%q) = %d, want 43", tok, len(tok))
		}
		if strings.ContainsAny(tok, "=+/") {
			t.Errorf("token %q is not unpadded base64url", tok)
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 32 {
			t.Errorf("decode %q: %d bytes, %v; want 32 bytes", tok, len(b), err)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
	}
}

func TestHashToken(t *testing.T) {
	tests := []struct {
		token string
		want  string // hex SHA-256
	}{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(auth.HashToken(tt.token))
		if got != tt.want {
			t.Errorf("HashToken(%q) = %s, want %s", tt.token, got, tt.want)
		}
	}
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := auth.HashToken(tok), auth.HashToken(tok); string(a) != string(b) || len(a) != 32 {
		t.Errorf("HashToken is not a stable 32-byte digest: %x, %x", a, b)
	}
}

func TestGeneratePassword(t *testing.T) {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	seen := make(map[string]bool)
	for range 200 {
		p, err := auth.GeneratePassword()
		if err != nil {
			t.Fatalf("GeneratePassword: %v", err)
		}
		if len(p) < 16 {
			t.Errorf("password %q has %d characters, want ≥ 16", p, len(p))
		}
		groups := strings.Split(p, "-")
		if len(groups) != 4 {
			t.Errorf("password %q: %d groups, want 4", p, len(groups))
		}
		for _, g := range groups {
			if len(g) != 4 {
				t.Errorf("password %q: group %q, want 4 characters", p, g)
			}
			for _, c := range g {
				if !strings.ContainsRune(alphabet, c) {
					t.Errorf("password %q: character %q outside the typable alphabet", p, c)
				}
			}
		}
		if seen[p] {
			t.Fatalf("password %q repeated", p)
		}
		seen[p] = true
	}
}

func TestGeneratedPasswordIsAccepted(t *testing.T) {
	p, err := auth.GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	h, err := auth.HashPassword(p)
	if err != nil {
		t.Fatalf("HashPassword(generated %q): %v", p, err)
	}
	if !auth.CheckPassword(h, p) {
		t.Errorf("CheckPassword(hash of %q) = false", p)
	}
}
