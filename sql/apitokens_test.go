package sql

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"

	"github.com/wardwatch/wardwatch/internal/pgtest"
)

// TestAPITokensSQLite and TestAPITokensPostgres run the API token contract
// on both engines.
func TestAPITokensSQLite(t *testing.T) {
	testAPITokens(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "wardwatch.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestAPITokensPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	testAPITokens(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "postgres", pgtest.FreshSchema(t, dsn))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func testAPITokens(t *testing.T, open func(t *testing.T) *Store) {
	ctx := t.Context()
	s := open(t)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }

	// Invalid input.
	for name, tok := range map[string]wardwatch.APIToken{
		"no name":    {Role: wardwatch.RoleViewer, SecretHash: hash("a")},
		"long name":  {Name: string(make([]byte, 101)), Role: wardwatch.RoleViewer, SecretHash: hash("a")},
		"bad role":   {Name: "x", Role: "root", SecretHash: hash("a")},
		"short hash": {Name: "x", Role: wardwatch.RoleViewer, SecretHash: []byte("abc")},
	} {
		if err := s.CreateAPIToken(ctx, &tok); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("CreateAPIToken(%s) = %v, want EINVALID", name, err)
		}
	}

	a := wardwatch.APIToken{Name: " CMMS ", Role: wardwatch.RoleBiomed, Prefix: "wwt_abcd", CreatedBy: "alice", SecretHash: hash("one")}
	if err := s.CreateAPIToken(ctx, &a); err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	if a.ID == 0 || a.CreatedAt.IsZero() || a.Name != "CMMS" {
		t.Fatalf("created token = %+v", a)
	}
	dup := wardwatch.APIToken{Name: "dup", Role: wardwatch.RoleViewer, SecretHash: hash("one")}
	if err := s.CreateAPIToken(ctx, &dup); wardwatch.ErrorCode(err) != wardwatch.ECONFLICT {
		t.Errorf("CreateAPIToken with a used hash = %v, want ECONFLICT", err)
	}
	b := wardwatch.APIToken{Name: "Dashboard", Role: wardwatch.RoleViewer, Prefix: "wwt_efgh", CreatedBy: "bob", SecretHash: hash("two")}
	if err := s.CreateAPIToken(ctx, &b); err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}

	got, err := s.APITokenBySecretHash(ctx, hash("one"))
	if err != nil || got.ID != a.ID || got.Role != wardwatch.RoleBiomed || got.CreatedBy != "alice" || got.Prefix != "wwt_abcd" ||
		!got.CreatedAt.Equal(a.CreatedAt) || !got.LastUsed.IsZero() || got.Revoked() {
		t.Fatalf("APITokenBySecretHash = %+v, %v; want %+v", got, err, a)
	}
	for name, h := range map[string][]byte{"unknown": hash("three"), "short": []byte("x"), "nil": nil} {
		if _, err := s.APITokenBySecretHash(ctx, h); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
			t.Errorf("APITokenBySecretHash(%s) = %v, want ENOTFOUND", name, err)
		}
	}

	// Touch: at most once a minute.
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at   time.Time
		want time.Time
	}{
		{t0, t0},
		{t0.Add(30 * time.Second), t0},
		{t0.Add(-time.Hour), t0},
		{t0.Add(time.Minute), t0.Add(time.Minute)},
		{t0.Add(time.Minute + 59*time.Second), t0.Add(time.Minute)},
	} {
		if err := s.TouchAPIToken(ctx, a.ID, step.at); err != nil {
			t.Fatalf("TouchAPIToken: %v", err)
		}
		got, err := s.APITokenBySecretHash(ctx, hash("one"))
		if err != nil || !got.LastUsed.Equal(step.want) {
			t.Fatalf("after TouchAPIToken(%v): LastUsed = %v, %v; want %v", step.at, got.LastUsed, err, step.want)
		}
	}
	if err := s.TouchAPIToken(ctx, 99999, t0); err != nil {
		t.Errorf("TouchAPIToken(unknown) = %v, want nil", err)
	}

	// Revoke.
	if err := s.RevokeAPIToken(ctx, a.ID); err != nil {
		t.Fatalf("RevokeAPIToken: %v", err)
	}
	if _, err := s.APITokenBySecretHash(ctx, hash("one")); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Errorf("revoked token found: %v", err)
	}
	if err := s.RevokeAPIToken(ctx, a.ID); err != nil {
		t.Errorf("RevokeAPIToken twice = %v, want nil", err)
	}
	if err := s.RevokeAPIToken(ctx, 99999); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Errorf("RevokeAPIToken(unknown) = %v, want ENOTFOUND", err)
	}
	if _, err := s.APITokenBySecretHash(ctx, hash("two")); err != nil {
		t.Errorf("other token after revoke: %v", err)
	}

	list, err := s.APITokens(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("APITokens = %+v, %v", list, err)
	}
	byID := map[int64]wardwatch.APIToken{}
	for _, tok := range list {
		byID[tok.ID] = tok
	}
	if !byID[a.ID].Revoked() || byID[b.ID].Revoked() || !byID[a.ID].LastUsed.Equal(t0.Add(time.Minute)) {
		t.Errorf("APITokens = %+v", list)
	}
}
