package replay

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/tracker"
)

// maxConfigBytes bounds an engine configuration file.
const maxConfigBytes = 1 << 20

// ReadConfig reads an engine configuration from YAML onto
// tracker.DefaultConfig(). Every settable field of tracker.Config is a key
// named in snake_case (MinDwell is min_dwell, DefaultRSSIAt1m is
// default_rssi_at_1m); nested structs are nested mappings. Durations use Go
// syntax ("500ms", "4s"). Unknown keys are an error naming the line, so a
// typo cannot silently leave a default in place. Fields that are not plain
// values (interfaces, functions, pointers, maps) cannot be set from YAML.
// The meaning of each value, including what 0 and negative values select,
// is tracker.Config's.
func ReadConfig(r io.Reader) (tracker.Config, error) {
	cfg := tracker.DefaultConfig()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return cfg, wardwatch.Errorf(wardwatch.ETOOLARGE, "engine config larger than %d KiB", maxConfigBytes>>10)
	}
	mirror := yamlMirror(reflect.TypeFor[tracker.Config]())
	v := reflect.New(mirror).Elem()
	copyFields(v, reflect.ValueOf(cfg))

	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v.Addr().Interface()); err != nil && !errors.Is(err, io.EOF) {
		return cfg, configError(err)
	}
	copyFields(reflect.ValueOf(&cfg).Elem(), v)
	return cfg, nil
}

// configError makes a YAML error readable: the mirror struct's type never
// shows, and an unknown key lists the keys that exist.
func configError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return wardwatch.Errorf(wardwatch.EINVALID, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if before, _, ok := strings.Cut(m, " not found in type "); ok {
			m = strings.Replace(before, "field ", "unknown key ", 1) + " (known keys: " + strings.Join(ConfigKeys(), ", ") + ")"
		}
		if before, _, ok := strings.Cut(m, " into struct {"); ok {
			m = before + " into a mapping"
		}
		if strings.HasSuffix(m, " into time.Duration") {
			m += " (write durations with a unit: 500ms, 4s, 2m)"
		}
		msgs = append(msgs, m)
	}
	return wardwatch.Errorf(wardwatch.EINVALID, "%s", strings.Join(msgs, "; "))
}

// ConfigKeys lists the YAML keys ReadConfig accepts, nested keys as
// "parent.child", in field order.
func ConfigKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			name := f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(f.Type, prefix+name+".")
				continue
			}
			keys = append(keys, prefix+name)
		}
	}
	walk(yamlMirror(reflect.TypeFor[tracker.Config]()), "")
	return keys
}

// yamlMirror returns a struct type with t's YAML-settable exported fields,
// under the same names and types (nested structs mirrored in turn), each
// tagged with its snake_case key, or with the key of t's own yaml tag.
func yamlMirror(t reflect.Type) reflect.Type {
	var fields []reflect.StructField
	for f := range t.Fields() {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		key := snakeCase(f.Name)
		if tag, ok := f.Tag.Lookup("yaml"); ok {
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if name != "" {
				key = name
			}
		}
		ft, ok := yamlType(f.Type)
		if !ok {
			continue
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: ft, Tag: reflect.StructTag(`yaml:"` + key + `"`)})
	}
	return reflect.StructOf(fields)
}

// yamlType is the type a field of type t has in the mirror, and whether
// YAML can set it at all.
func yamlType(t reflect.Type) (reflect.Type, bool) {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return t, true
	case reflect.Slice:
		if _, ok := yamlType(t.Elem()); ok && t.Elem().Kind() != reflect.Struct && t.Elem().Kind() != reflect.Slice {
			return t, true
		}
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return t, true
		}
		m := yamlMirror(t)
		return m, m.NumField() > 0
	}
	return nil, false
}

// copyFields copies the fields dst and src share by name, recursing into
// mirrored structs.
func copyFields(dst, src reflect.Value) {
	for f := range dst.Type().Fields() {
		if !f.IsExported() {
			continue
		}
		s := src.FieldByName(f.Name)
		if !s.IsValid() {
			continue
		}
		d := dst.FieldByIndex(f.Index)
		switch {
		case d.Type() == s.Type():
			d.Set(s)
		case d.Kind() == reflect.Struct && s.Kind() == reflect.Struct:
			copyFields(d, s)
		}
	}
}

// snakeCase turns a Go field name into a YAML key: MinDwell → min_dwell,
// DefaultRSSIAt1m → default_rssi_at_1m, MaxGateways → max_gateways.
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			switch {
			case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
				b.WriteByte('_')
			case unicode.IsUpper(r) && unicode.IsUpper(prev) && nextLower:
				b.WriteByte('_')
			case unicode.IsDigit(r) && unicode.IsLetter(prev):
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
