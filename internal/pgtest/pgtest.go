// Package pgtest gives tests a PostgreSQL database of their own: the test
// server's DSN (scripts/ensure-postgres.sh) and a fresh schema per test.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DSN returns the test server's DSN from WARDWATCH_TEST_POSTGRES_DSN, and
// skips the test without one (fails it when CI=true).
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("WARDWATCH_TEST_POSTGRES_DSN")
	if dsn == "" {
		const msg = "PostgreSQL required in CI: run scripts/ensure-postgres.sh and set WARDWATCH_TEST_POSTGRES_DSN"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// FreshSchema creates a schema with a random name, drops it when the test
// ends, and returns dsn with search_path set to it.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	schema := "wwtest_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
