package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wardwatch/wardwatch"
)

// Engines Open accepts.
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// storePragmas are set on every configuration-store connection unless the
// DSN sets them already.
var storePragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)"}

// Store is the configuration store on SQLite or PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	db       *dbsql.DB
	engine   string
	migrator *goose.Provider
	secrets  wardwatch.SecretBox // seals stored credentials; nil refuses to store them
}

// SetSecretBox sets how credentials (SNMP communities and passwords) are
// sealed at rest. Without one, storing or reading a credential fails.
func (s *Store) SetSecretBox(b wardwatch.SecretBox) { s.secrets = b }

// Open connects to the configuration store and pings it; it does not
// migrate (see Migrate).
//
// driver is "sqlite" or "postgres". For SQLite, dsn is a file path (its
// parent directory is created) or a "file:" URI; the pragmas
// busy_timeout(5000), journal_mode(WAL) and foreign_keys(1) are added unless
// the DSN sets them, and the pool holds one connection. For PostgreSQL, dsn
// is anything pgx accepts (a postgres:// URL or key=value pairs).
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var (
		db  *dbsql.DB
		err error
	)
	switch driver {
	case engineSQLite:
		db, err = openSQLite(dsn, storePragmas)
		if err != nil {
			return nil, err
		}
	case enginePostgres:
		if strings.TrimSpace(dsn) == "" {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "PostgreSQL DSN is empty")
		}
		// Parse first, so that a bad DSN is not reported as an unreachable
		// server; pgx's parse errors leave the password out.
		if _, err := pgx.ParseConfig(dsn); err != nil {
			return nil, &wardwatch.Error{Code: wardwatch.EINVALID, Message: "the PostgreSQL DSN is malformed", Err: err}
		}
		db, err = dbsql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	default:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "unknown database driver %q: want sqlite or postgres", driver)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "cannot reach the " + driver + " database", Err: err}
	}
	migrator, err := newStoreProvider(driver, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, engine: driver, migrator: migrator}, nil
}

// openSQLite opens a modernc.org/sqlite database for dsn with pragmas added
// unless dsn sets them, creating the parent directory of a plain path. The
// pool holds a single connection: SQLite has one writer anyway, and one
// connection keeps the pragmas and an in-memory database in one place.
func openSQLite(dsn string, pragmas []string) (*dbsql.DB, error) {
	full, dir, err := sqliteDSN(dsn, pragmas)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	db, err := dbsql.Open("sqlite", full)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// sqliteDSN returns the modernc.org/sqlite DSN for dsn, a file path or a
// "file:" URI, either optionally followed by "?" and driver parameters. Each
// of pragmas ("name(value)") is appended as a _pragma parameter unless dsn
// sets that pragma already, as a _pragma or through the driver's shorthand
// parameter. dir is the directory to create for a plain path, or "".
func sqliteDSN(dsn string, pragmas []string) (full, dir string, err error) {
	base, query, _ := strings.Cut(dsn, "?")
	if strings.TrimSpace(base) == "" || base == "file:" {
		return "", "", wardwatch.Errorf(wardwatch.EINVALID, "SQLite database path is empty")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", "", wardwatch.Errorf(wardwatch.EINVALID, "SQLite DSN parameters are malformed: %v", err)
	}
	given := make(map[string]bool)
	for _, p := range params["_pragma"] {
		given[pragmaName(p)] = true
	}
	for short, name := range map[string]string{
		"_busy_timeout": "busy_timeout", "_timeout": "busy_timeout",
		"_journal_mode": "journal_mode", "_journal": "journal_mode",
		"_foreign_keys": "foreign_keys", "_fk": "foreign_keys",
		"_synchronous": "synchronous", "_sync": "synchronous",
	} {
		if params.Has(short) {
			given[name] = true
		}
	}
	var b strings.Builder
	b.WriteString(dsn)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
		if query == "" || strings.HasSuffix(query, "&") {
			sep = ""
		}
	}
	for _, p := range pragmas {
		if given[pragmaName(p)] {
			continue
		}
		b.WriteString(sep)
		b.WriteString("_pragma=")
		b.WriteString(url.QueryEscape(p))
		sep = "&"
	}
	if !strings.HasPrefix(base, "file:") && base != ":memory:" {
		dir = filepath.Dir(base)
	}
	return b.String(), dir, nil
}

// pragmaName returns the lower-case name of a pragma given as "name(value)",
// "name = value" or "name".
func pragmaName(p string) string {
	name, _, _ := strings.Cut(p, "(")
	name, _, _ = strings.Cut(name, "=")
	return strings.ToLower(strings.TrimSpace(name))
}

// Migrate applies every pending migration. It logs nothing itself.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.migrator.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s store: %w", s.engine, err)
	}
	return nil
}

// Version returns the schema version: the highest migration applied, 0 for
// an empty database.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := s.migrator.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "the database does not answer", Err: err}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// rebind rewrites the ? placeholders of query for the store's engine.
func (s *Store) rebind(query string) string {
	if s.engine == enginePostgres {
		return rebindDollar(query)
	}
	return query
}

// rebindDollar rewrites ? placeholders to $1, $2… in order, leaving alone
// question marks inside quoted strings, quoted identifiers and comments.
func rebindDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			// Copy through the closing quote; a doubled quote is an
			// escaped one and keeps the literal open.
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+4])
			i += j + 3
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (dbsql.Result, error) {
	return s.db.ExecContext(ctx, s.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*dbsql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *dbsql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(query), args...)
}

// execOne runs a statement that must change exactly one row, and returns
// notFound when it changes none.
func (s *Store) execOne(ctx context.Context, notFound error, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// violation is the kind of integrity constraint a statement broke.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
	checkViolation
)

// violationOf reports which kind of constraint err says was broken, on
// either engine.
func violationOf(err error) violation {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return checkViolation
		}
		return noViolation
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return uniqueViolation
		case "23503": // foreign_key_violation
			return foreignKeyViolation
		case "23514", "23502": // check_violation, not_null_violation
			return checkViolation
		}
	}
	return noViolation
}

// errMap says which *wardwatch.Error a failed statement becomes: noRows
// for dbsql.ErrNoRows, unique and foreignKey for those constraint
// violations. A nil field leaves that case to the default.
type errMap struct {
	noRows, unique, foreignKey error
}

// mapErr turns err into the error a caller sees: the mapped *wardwatch.Error
// when m has one for it, EINVALID for a violated CHECK or NOT NULL
// constraint, and otherwise err wrapped with what.
func mapErr(err error, what string, m errMap) error {
	if err == nil {
		return nil
	}
	var we *wardwatch.Error
	if errors.As(err, &we) {
		return err
	}
	if m.noRows != nil && errors.Is(err, dbsql.ErrNoRows) {
		return m.noRows
	}
	switch violationOf(err) {
	case uniqueViolation:
		if m.unique != nil {
			return m.unique
		}
	case foreignKeyViolation:
		if m.foreignKey != nil {
			return m.foreignKey
		}
	case checkViolation:
		return &wardwatch.Error{Code: wardwatch.EINVALID, Message: "invalid " + what, Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// millis is t as unix milliseconds; every stored time is one.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the UTC time of unix milliseconds ms.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// finite reports whether every v is a finite number.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// nullBytes is b for a nullable BLOB/BYTEA column: NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullID stores a zero ID as NULL, for optional references.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
