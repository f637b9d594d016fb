package fhir

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Paging limits for searches.
const (
	DefaultCount = 50
	MaxCount     = 500
	maxOffset    = 1_000_000
	maxValues    = 64  // values of all parameters of one search
	maxValueLen  = 512 // bytes of one value
)

// Search parameter types (R4 search §3.1.1.4).
const (
	typeToken     = "token"
	typeReference = "reference"
	typeDate      = "date"
	typeString    = "string"
)

// searchParam is one supported search parameter of a resource type.
type searchParam struct {
	Name, Type, Doc string
}

// localSearchParams are the parameters WardWatch adds to R4's base ones
// ("Type.name"); their definitions live under LocalSearchParameterBase.
var localSearchParams = map[string]bool{"Observation.location": true}

// searchParams lists what each resource type can be searched by.
var searchParams = map[string][]searchParam{
	"Device": {
		{"_id", typeToken, "Logical id: asset-N, pump-…, unit-N, modbus-N, channel-…"},
		{"identifier", typeToken, "Asset tag (system = the asset-tag system), serial number, or UDI device identifier (system = the issuing agency: " +
			SystemUDIGS1 + ", " + SystemUDIHIBCC + " or " + SystemUDIICCBBA + ")"},
		{"udi-di", typeString, "UDI device identifier (GS1 GTIN-14, HIBCC labeler code + product + unit of measure, ICCBBA product code) starts with (case-insensitive)"},
		{"udi-carrier", typeString, "UDI human-readable form (GS1 without spaces) starts with (case-insensitive)"},
		{"manufacturer", typeString, "Manufacturer starts with (case-insensitive)"},
		{"model", typeString, "Model number starts with (case-insensitive); a pump's own report wins over the asset's"},
		{"type", typeToken, "Device kind, " + SystemDeviceKind},
		{"location", typeReference, "Current location (exact zone or floor; no :below)"},
		{"status", typeToken, "active | inactive"},
		{"parent", typeReference, "Parent device (a channel's Modbus device, a Modbus device's unit)"},
	},
	"Location": {
		{"_id", typeToken, "Logical id: site, building, floor-N, zone-N"},
		{"name", typeString, "Name starts with (case-insensitive)"},
		{"type", typeToken, "Zone kind, " + SystemZoneKind},
		{"partof", typeReference, "The location it is part of"},
	},
	"Observation": {
		{"_id", typeToken, "Logical id"},
		{"code", typeToken, "Metric, " + SystemMetric + " (or LOINC 60832-3)"},
		{"device", typeReference, "DeviceMetric or Device: a Modbus channel, its Modbus device or unit; for a tag's or a pump's own readings (temperature, battery) the asset the tag is fixed to or the pump"},
		{"subject", typeReference, "The room (Location) measured"},
		{"location", typeReference, "Where the measuring device is now (not when the reading was taken): a Modbus channel's unit's zone; the current zone (or floor) of a tag's asset or a pump's asset (exact; no :below)"},
		{"date", typeDate, "Without date: each channel's latest reading; with date (ge/gt/le/lt/eq): the readings in that range. Tag and pump channels are those that reported since WardWatch started, plus those device or _id names"},
	},
	"DeviceMetric": {
		{"_id", typeToken, "Logical id: channel-… (channel-tag.… and channel-pump.… for tags and pumps)"},
		{"type", typeToken, "Metric, " + SystemMetric},
		{"source", typeReference, "The channel's Device: a Modbus channel's, or the asset a tag is fixed to, or the pump"},
		{"parent", typeReference, "The channel's Modbus device"},
		{"category", typeToken, "measurement"},
	},
	"Flag": {
		{"_id", typeToken, "Logical id: excursion-N"},
		{"subject", typeReference, "The quarantined unit (Device) or room (Location)"},
	},
}

// Query is a parsed FHIR search: the filters (ANDed; each with ORed
// values) and the paging.
type Query struct {
	Params []Param
	Count  int // entries per page, 0…MaxCount
	Offset int
	Pretty bool
}

// Param is one search parameter with its values (any may match).
type Param struct {
	Name   string
	Type   string
	Values []Value
}

// Value is one value of a search parameter, parsed by the parameter's type.
type Value struct {
	// Token: System is set when the value has a "|"; Code may be empty
	// ("system|" matches any code of the system).
	System    string
	HasSystem bool
	Code      string
	// Reference: ResourceType is "" for a bare id.
	ResourceType string
	ID           string
	// Date: Prefix is eq, gt, lt, ge or le; the value covers [From, To).
	Prefix   string
	From, To time.Time
	// String: lower-cased.
	Text string
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ParseQuery parses the search parameters q of resource type resource.
// Unknown parameters, modifiers and chains are errors (EINVALID), as are
// malformed values; _format (JSON only), _pretty and _total (a total is
// always given when known) are the general parameters accepted. Empty
// values are ignored, as R4 search says.
func ParseQuery(resource string, q url.Values) (Query, error) {
	specs, ok := searchParams[resource]
	if !ok {
		return Query{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "Resource type %q is not supported.", resource)
	}
	out := Query{Count: DefaultCount}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	nvalues := 0
	for _, name := range names {
		raw := q[name]
		switch name {
		case "_count", "_offset":
			if len(raw) != 1 {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "%s must be given once.", name)
			}
			n, err := strconv.Atoi(raw[0])
			if err != nil || n < 0 {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a whole number ≥ 0.", name)
			}
			if name == "_count" {
				out.Count = min(n, MaxCount)
			} else if n > maxOffset {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "_offset must be at most %d.", maxOffset)
			} else {
				out.Offset = n
			}
			continue
		case "_format":
			for _, f := range raw {
				switch strings.TrimSpace(strings.SplitN(f, ";", 2)[0]) {
				case "json", "application/json", "application/fhir+json", "":
				default:
					return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "_format %q is not supported: this server speaks JSON only.", f)
				}
			}
			continue
		case "_pretty":
			for _, v := range raw {
				switch v {
				case "true":
					out.Pretty = true
				case "false", "":
				default:
					return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "_pretty must be true or false.")
				}
			}
			continue
		case "_total":
			continue
		}
		i := slices.IndexFunc(specs, func(s searchParam) bool { return s.Name == name })
		if i < 0 {
			base, _, modified := strings.Cut(name, ":")
			if j := slices.IndexFunc(specs, func(s searchParam) bool { return s.Name == base }); modified && j >= 0 {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "Search parameter %q: modifiers are not supported.", clip(name))
			}
			if strings.Contains(base, ".") {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "Search parameter %q: chained searches are not supported.", clip(name))
			}
			return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "Search parameter %q is not supported for %s.", clip(name), resource)
		}
		spec := specs[i]
		for _, r := range raw {
			if r == "" {
				continue
			}
			if len(r) > maxValueLen {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "Search parameter %s: a value is longer than %d bytes.", name, maxValueLen)
			}
			p := Param{Name: name, Type: spec.Type}
			parts := splitEscaped(r, ',')
			if spec.Type == typeDate && len(parts) > 1 {
				return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "Search parameter date: give one value per parameter (repeat it to bound a range).")
			}
			for _, part := range parts {
				if nvalues++; nvalues > maxValues {
					return Query{}, wardwatch.Errorf(wardwatch.EINVALID, "A search may have at most %d values.", maxValues)
				}
				v, err := parseValue(spec, part)
				if err != nil {
					return Query{}, err
				}
				p.Values = append(p.Values, v)
			}
			out.Params = append(out.Params, p)
		}
	}
	return out, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// splitEscaped splits s at unescaped sep ("\," is a literal comma) and
// removes the escapes of "\,", "\|", "\$" and "\\" from tokens later.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes FHIR search escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func parseValue(spec searchParam, s string) (Value, error) {
	bad := func(format string, args ...any) error {
		return wardwatch.Errorf(wardwatch.EINVALID, "Search parameter %s: "+format, append([]any{spec.Name}, args...)...)
	}
	switch spec.Type {
	case typeToken:
		parts := splitEscaped(s, '|')
		switch len(parts) {
		case 1:
			return Value{Code: unescape(parts[0])}, nil
		case 2:
			v := Value{System: unescape(parts[0]), HasSystem: true, Code: unescape(parts[1])}
			if v.System == "" && v.Code == "" {
				return Value{}, bad("%q has neither a system nor a code.", clip(s))
			}
			return v, nil
		}
		return Value{}, bad("%q has more than one unescaped \"|\".", clip(s))
	case typeReference:
		s = unescape(s)
		if u, err := url.Parse(s); err == nil && u.IsAbs() {
			segs := strings.Split(strings.TrimRight(u.Path, "/"), "/")
			if len(segs) < 2 {
				return Value{}, bad("%q is not a reference to a resource.", clip(s))
			}
			s = segs[len(segs)-2] + "/" + segs[len(segs)-1]
		}
		typ, id, typed := strings.Cut(s, "/")
		if !typed {
			typ, id = "", s
		}
		if typed && (typ == "" || strings.ToUpper(typ[:1]) != typ[:1] || strings.ContainsAny(typ, "/?#")) {
			return Value{}, bad("%q is not a reference: give Type/id or id.", clip(s))
		}
		if !idRE.MatchString(id) {
			return Value{}, bad("%q is not a valid id.", clip(id))
		}
		return Value{ResourceType: typ, ID: id}, nil
	case typeDate:
		prefix := "eq"
		if len(s) >= 2 {
			switch s[:2] {
			case "eq", "gt", "lt", "ge", "le":
				prefix, s = s[:2], s[2:]
			case "ne", "sa", "eb", "ap":
				return Value{}, bad("prefix %q is not supported (use eq, gt, lt, ge or le).", s[:2])
			}
		}
		from, to, err := parseDate(s)
		if err != nil {
			return Value{}, bad("%v", err)
		}
		return Value{Prefix: prefix, From: from, To: to}, nil
	case typeString:
		return Value{Text: strings.ToLower(unescape(s))}, nil
	}
	return Value{}, bad("unsupported type %s", spec.Type)
}

// parseDate parses a FHIR date or dateTime search value into the range it
// covers: YYYY, YYYY-MM, YYYY-MM-DD (UTC days), or a dateTime with a time
// zone, to the second or finer.
func parseDate(s string) (from, to time.Time, err error) {
	errf := func() (time.Time, time.Time, error) {
		return time.Time{}, time.Time{}, wardwatch.Errorf(wardwatch.EINVALID,
			"%q is not a date: use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or ±hh:mm).", clip(s))
	}
	switch len(s) {
	case 4:
		t, err := time.Parse("2006", s)
		if err != nil {
			return errf()
		}
		return t, t.AddDate(1, 0, 0), nil
	case 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return errf()
		}
		return t, t.AddDate(0, 1, 0), nil
	case 10:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return errf()
		}
		return t, t.AddDate(0, 0, 1), nil
	}
	if len(s) < 20 || s[10] != 'T' {
		return errf()
	}
	if t, err := time.Parse("2006-01-02T15:04:05Z07:00", s); err == nil {
		// The value's precision: to the second, or to its fraction.
		step := time.Second
		if dot := strings.IndexByte(s, '.'); dot > 0 {
			digits := 0
			for _, c := range s[dot+1:] {
				if c < '0' || c > '9' {
					break
				}
				digits++
			}
			step = time.Second
			for range min(digits, 9) {
				step /= 10
			}
		}
		return t.UTC(), t.UTC().Add(step), nil
	}
	return errf()
}

// matchDate reports whether t satisfies date value v.
func matchDate(v Value, t time.Time) bool {
	switch v.Prefix {
	case "gt":
		return !t.Before(v.To)
	case "ge":
		return !t.Before(v.From)
	case "lt":
		return t.Before(v.From)
	case "le":
		return t.Before(v.To)
	}
	return !t.Before(v.From) && t.Before(v.To)
}

// dateBounds narrows [from, to) by the date values of q.
func dateBounds(q Query, from, to time.Time) (time.Time, time.Time) {
	for _, p := range q.Params {
		if p.Type != typeDate {
			continue
		}
		for _, v := range p.Values {
			lo, hi := from, to
			switch v.Prefix {
			case "gt":
				lo = v.To
			case "ge":
				lo = v.From
			case "lt":
				hi = v.From
			case "le":
				hi = v.To
			default:
				lo, hi = v.From, v.To
			}
			if lo.After(from) {
				from = lo
			}
			if hi.Before(to) {
				to = hi
			}
		}
	}
	return from, to
}

// matchToken reports whether token value v matches any coding.
func matchToken(v Value, codings []Coding) bool {
	for _, c := range codings {
		if v.HasSystem && v.System != c.System {
			continue
		}
		if v.Code == "" || v.Code == c.Code {
			return true
		}
	}
	return false
}

// matchIdentifier reports whether token value v matches any identifier:
// "system|value", "|value" (no system) or "value".
func matchIdentifier(v Value, ids []Identifier) bool {
	for _, id := range ids {
		if v.HasSystem && v.System != id.System {
			continue
		}
		if v.Code == "" || v.Code == id.Value {
			return true
		}
	}
	return false
}

// matchRef reports whether reference value v points at ref ("Type/id"),
// with a bare id matching any type.
func matchRef(v Value, ref *Reference) bool {
	if ref == nil {
		return false
	}
	typ, id, _ := strings.Cut(ref.Reference, "/")
	return v.ID == id && (v.ResourceType == "" || v.ResourceType == typ)
}

// matchAll reports whether every parameter of q has a value match accepts.
// Date parameters are left to the caller.
func matchAll(q Query, match func(p Param, v Value) bool) bool {
	for _, p := range q.Params {
		if p.Type == typeDate {
			continue
		}
		if !slices.ContainsFunc(p.Values, func(v Value) bool { return match(p, v) }) {
			return false
		}
	}
	return true
}

// hasParam reports whether q has a parameter called name.
func (q Query) hasParam(name string) bool {
	return slices.ContainsFunc(q.Params, func(p Param) bool { return p.Name == name })
}
