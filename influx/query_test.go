package influx

import (
	"strings"
	"testing"
	"time"
)

func TestFluxString(t *testing.T) {
	for in, want := range map[string]string{
		"fridge-1/probe":   `"fridge-1/probe"`,
		`say "hi"`:         `"say \"hi\""`,
		`back\slash`:       `"back\\slash"`,
		"${x} costs $5":    `"\${x} costs $5"`,
		"a\nb\tc\rd":       `"a\nb\tc\rd"`,
		"":                 `""`,
		"Kühlschrank":      `"Kühlschrank"`,
		`trailing\`:        `"trailing\\"`,
		`$`:                `"$"`,
		`"${"`:             `"\"\${\""`,
		`db/autogen`:       `"db/autogen"`,
		`x") |> drop() //`: `"x\") |> drop() //"`,
	} {
		if got := fluxString(in); got != want {
			t.Errorf("fluxString(%q) = %s, want %s", in, got, want)
		}
	}
}

// unquoteFlux reverses fluxString by Flux's rules (flux v0.65
// internal/parser/strconv.go), reporting whether the literal is well
// formed: no unescaped quote or interpolation inside.
func unquoteFlux(lit string) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '$':
				b.WriteByte(s[i])
			default:
				return "", false
			}
		case c == '"':
			return "", false
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func FuzzFluxString(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, "${", "$${{", "a\"b\\c\nd", "\\${", "x$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := fluxString(s)
		got, ok := unquoteFlux(lit)
		if !ok || got != s {
			t.Fatalf("fluxString(%q) = %s, which reads back as %q (well formed: %v)", s, lit, got, ok)
		}
	})
}

func TestFluxRange(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     string
		empty    bool
	}{
		{"open", time.Time{}, time.Time{}, "range(start: 1970-01-01T00:00:00Z, stop: 2262-04-11T23:47:16.854775807Z)", false},
		{"bounded", at, at.Add(time.Minute), "range(start: 2026-05-01T10:00:00Z, stop: 2026-05-01T10:00:59.999999999Z)", false},
		{"sub-millisecond bounds round up", at.Add(time.Microsecond), at.Add(time.Millisecond + time.Microsecond),
			"range(start: 2026-05-01T10:00:00.001Z, stop: 2026-05-01T10:00:00.001999999Z)", false},
		{"before 1970", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), at, "range(start: 1970-01-01T00:00:00Z, stop: 2026-05-01T09:59:59.999999999Z)", false},
		{"zone", at.In(time.FixedZone("X", 3600)), time.Time{}, "range(start: 2026-05-01T10:00:00Z, stop: 2262-04-11T23:47:16.854775807Z)", false},
		{"empty", at, at, "", true},
		{"within one millisecond", at.Add(time.Microsecond), at.Add(2 * time.Microsecond), "", true},
	} {
		got, empty := fluxRange(tc.from, tc.to)
		if got != tc.want || empty != tc.empty {
			t.Errorf("%s: fluxRange = %q, %v; want %q, %v", tc.name, got, empty, tc.want, tc.empty)
		}
	}
}
