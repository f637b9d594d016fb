package provision_test

import (
	"context"
	"crypto/rand"
	dbsql "database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// freshSchema creates a schema with a random name, drops it when the test
// ends, and returns dsn with search_path set to it.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	schema := "wwprov_" + hex.EncodeToString(b[:])
	admin, err := dbsql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
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
