package sql

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRebindDollar(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{`SELECT "we?ird" FROM t WHERE x = ?`, `SELECT "we?ird" FROM t WHERE x = $1`},
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{"SELECT ? /* really? */ , ?", "SELECT $1 /* really? */ , $2"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT ? -- trailing?", "SELECT $1 -- trailing?"},
		{"SELECT ? /* open?", "SELECT $1 /* open?"},
		{"?", "$1"},
		{"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?", "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"},
		{"SELECT 'héllo', ?", "SELECT 'héllo', $1"},
	} {
		if got := rebindDollar(tc.in); got != tc.want {
			t.Errorf("rebindDollar(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRebindByEngine(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ?"
	if got := (&Store{engine: engineSQLite}).rebind(q); got != q {
		t.Errorf("sqlite rebind = %q, want it unchanged", got)
	}
	if got := (&Store{engine: enginePostgres}).rebind(q); got != "SELECT a FROM t WHERE b = $1" {
		t.Errorf("postgres rebind = %q", got)
	}
}

// FuzzRebindDollar checks that rebinding never loses or adds text other
// than the placeholders, and numbers them from $1 up.
func FuzzRebindDollar(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE a = ? AND b = ?",
		"SELECT 'it''s ?', ?",
		`"?"?'?'?`,
		"-- ?\n? /* ? */ ?",
		"/*", "'", `"`, "--", "?", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := rebindDollar(in)
		if strings.Contains(in, "$") {
			return // the undo below needs every $ to be a placeholder
		}
		// Undo the rebinding: the placeholders must be $1, $2… in order.
		var b strings.Builder
		n := 0
		for i := 0; i < len(out); i++ {
			if out[i] != '$' {
				b.WriteByte(out[i])
				continue
			}
			n++
			want := "$" + strconv.Itoa(n)
			if !strings.HasPrefix(out[i:], want) {
				t.Fatalf("rebindDollar(%q) = %q: placeholder %d at byte %d is not %s", in, out, n, i, want)
			}
			b.WriteByte('?')
			i += len(want) - 1
		}
		if b.String() != in {
			t.Fatalf("rebindDollar(%q) = %q, which does not undo to the input", in, out)
		}
		if n > strings.Count(in, "?") {
			t.Fatalf("rebindDollar(%q) = %q: more placeholders than question marks", in, out)
		}
	})
}

func TestSQLiteDSN(t *testing.T) {
	const all = "_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29"
	for _, tc := range []struct {
		in, want, dir string
	}{
		{"data/wardwatch.db", "data/wardwatch.db?" + all, "data"},
		{"/var/lib/wardwatch/ww.db", "/var/lib/wardwatch/ww.db?" + all, "/var/lib/wardwatch"},
		{"ww.db", "ww.db?" + all, "."},
		{":memory:", ":memory:?" + all, ""},
		{"file:/var/lib/ww.db", "file:/var/lib/ww.db?" + all, ""},
		{"file:ww.db?mode=rwc", "file:ww.db?mode=rwc&" + all, ""},
		{"ww.db?", "ww.db?" + all, "."},
		{"ww.db?cache=shared&", "ww.db?cache=shared&" + all, "."},
		{"ww.db?_pragma=busy_timeout(1)", "ww.db?_pragma=busy_timeout(1)&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29", "."},
		{"ww.db?_pragma=JOURNAL_MODE%3DDELETE&_fk=0&_timeout=9", "ww.db?_pragma=JOURNAL_MODE%3DDELETE&_fk=0&_timeout=9", "."},
	} {
		got, dir, err := sqliteDSN(tc.in, storePragmas)
		if err != nil || got != tc.want || dir != tc.dir {
			t.Errorf("sqliteDSN(%q) = %q, %q, %v; want %q, %q", tc.in, got, dir, err, tc.want, tc.dir)
		}
	}
	for _, in := range []string{"", " ", "file:", "?_fk=1", "ww.db?a=%zz"} {
		if _, _, err := sqliteDSN(in, storePragmas); err == nil {
			t.Errorf("sqliteDSN(%q) succeeded, want an error", in)
		}
	}
}

// FuzzSQLiteDSN checks that sqliteDSN never panics and that, when it
// accepts a DSN, the result keeps the DSN as its prefix and sets every
// pragma.
func FuzzSQLiteDSN(f *testing.F) {
	for _, s := range []string{
		"data/wardwatch.db", "file:ww.db?mode=ro", ":memory:", "ww.db?_pragma=busy_timeout(1)&_fk=0",
		"ww.db?&&", "file:?x", "a?b=%", "?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, _, err := sqliteDSN(in, storePragmas)
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, in) {
			t.Fatalf("sqliteDSN(%q) = %q, which drops the input", in, out)
		}
		_, query, _ := strings.Cut(out, "?")
		params, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("sqliteDSN(%q) = %q, whose parameters do not parse: %v", in, out, err)
		}
		set := map[string]bool{}
		for _, p := range params["_pragma"] {
			set[pragmaName(p)] = true
		}
		for k, name := range map[string]string{"_busy_timeout": "busy_timeout", "_timeout": "busy_timeout", "_journal_mode": "journal_mode", "_journal": "journal_mode", "_foreign_keys": "foreign_keys", "_fk": "foreign_keys"} {
			if params.Has(k) {
				set[name] = true
			}
		}
		for _, p := range storePragmas {
			if !set[pragmaName(p)] {
				t.Fatalf("sqliteDSN(%q) = %q, which does not set %s", in, out, p)
			}
		}
	})
}
