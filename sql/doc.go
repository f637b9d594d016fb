// Package sql is WardWatch's configuration store and its embedded telemetry
// store, over database/sql.
//
// Store keeps the configuration admins edit in the web UI: floors and their
// plans, zones, gateways, assets and their tags, users and their sessions. It
// runs on SQLite (modernc.org/sqlite, the embedded default) and on PostgreSQL
// (pgx/v5, production) with the same DML: queries are written with ?
// placeholders and rebound to $n for PostgreSQL, timestamps are stored as
// unix milliseconds UTC in BIGINT columns, and inserts use RETURNING id. Each
// engine has its own migrations under migrations/sqlite and
// migrations/postgres, with the same version numbers, embedded and applied
// with goose by Store.Migrate.
//
// Telemetry is the embedded default behind wardwatch.TelemetryStore: the
// positions history in its own SQLite file, with its own migrations under
// migrations/telemetry, applied when it is opened. Production uses InfluxDB
// instead.
//
// Errors users should see are *wardwatch.Error values: ENOTFOUND for missing
// rows and missing referenced rows, ECONFLICT for duplicates, EINVALID for
// bad input. Everything else is wrapped with context.
package sql
