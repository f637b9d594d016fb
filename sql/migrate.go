package sql

import (
	dbsql "database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFS holds every migration set: one directory per engine for the
// configuration store (same version numbers in each) and one for telemetry.
//
//go:embed migrations
var migrationFS embed.FS

// Migration directories inside migrationFS.
const (
	sqliteMigrations    = "migrations/sqlite"
	postgresMigrations  = "migrations/postgres"
	telemetryMigrations = "migrations/telemetry"
)

// telemetryVersionTable is goose's version table in a telemetry database. It
// differs from the configuration store's so that both could share one file.
const telemetryVersionTable = "goose_telemetry_version"

// newProvider returns a goose provider over db for the migrations in dir. It
// logs nothing and ignores Go migrations registered globally by other code.
func newProvider(dialect goose.Dialect, db *dbsql.DB, dir string, opts ...goose.ProviderOption) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", dir, err)
	}
	opts = append([]goose.ProviderOption{
		goose.WithSlog(slog.New(slog.DiscardHandler)),
		goose.WithDisableGlobalRegistry(true),
	}, opts...)
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", dir, err)
	}
	return p, nil
}

// newStoreProvider returns the goose provider for a configuration store on
// engine. On PostgreSQL it takes a session advisory lock while migrating, so
// that several instances starting at once migrate one after the other.
func newStoreProvider(engine string, db *dbsql.DB) (*goose.Provider, error) {
	switch engine {
	case engineSQLite:
		return newProvider(goose.DialectSQLite3, db, sqliteMigrations)
	case enginePostgres:
		// Poll the lock every second, for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		return newProvider(goose.DialectPostgres, db, postgresMigrations, goose.WithSessionLocker(locker))
	}
	return nil, fmt.Errorf("no migrations for engine %q", engine)
}
