package snmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
)

// Limits on a profile, so a pasted file cannot make WardWatch build huge
// requests or maps.
const (
	maxProfileSize  = 64 << 10 // bytes of YAML
	maxProfileName  = 64
	maxDescription  = 1000
	maxEnumEntries  = 256
	maxEnumKeyLen   = 64
	maxAlarmBits    = 64
	maxAlarmTextLen = 200
)

// Profile says where one kind of agent keeps each pump field: a single
// pump's agent (scalars) or a pump server's table with one row per pump.
//
// With Table empty every field is a scalar OID (usually ending in .0) and
// a poll yields one pump. With Table set (the OID of the table's entry, the
// conceptual row), a field whose OID lies below Table is a column: the
// collector walks it, groups the values by row index and makes one pump of
// each row. A field outside Table is a scalar applied to every row (a
// server-wide drug library, say).
//
// Fields left nil are not read; numbers not read are NaN in the pump's
// state. Serial is required: it is the pump's identity.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Table       string `yaml:"table,omitempty"`

	Serial             *Field `yaml:"serial"`
	Model              *Field `yaml:"model,omitempty"`
	Status             *Field `yaml:"status,omitempty"`  // enum → infusing, paused, idle, kvo, complete, alarm, off, unknown
	OnAC               *Field `yaml:"on_ac,omitempty"`   // enum → true, false; without one, TruthValue (1 true, 2 false)
	Battery            *Field `yaml:"battery,omitempty"` // percent
	Rate               *Field `yaml:"rate,omitempty"`    // ml/h
	VTBI               *Field `yaml:"vtbi,omitempty"`    // ml
	Infused            *Field `yaml:"infused,omitempty"` // ml
	Firmware           *Field `yaml:"firmware,omitempty"`
	DrugLibrary        *Field `yaml:"drug_library,omitempty"`
	DrugLibraryVersion *Field `yaml:"drug_library_version,omitempty"`

	// AlarmTable lists active alarms, one row per alarm; AlarmBits maps the
	// bits of one value to alarms. A profile may use both.
	AlarmTable *AlarmTable `yaml:"alarm_table,omitempty"`
	AlarmBits  *AlarmBits  `yaml:"alarm_bits,omitempty"`
}

// Field locates one pump field and says how to read its value.
type Field struct {
	// OID is the numeric OID: a scalar's instance (…​.0) or a column of
	// the profile's table (without the row index).
	OID string `yaml:"oid"`
	// Scale multiplies a numeric value: 0.1 for a rate in 0.1 ml/h. Zero
	// means 1. Scales like 0.1 and 0.01 divide by 10 and 100, so a register
	// value of 1234 at 0.1 reads exactly 123.4.
	Scale float64 `yaml:"scale,omitempty"`
	// Enum maps raw values to WardWatch's: an integer's decimal form
	// ("3") or a string's text ("RUN") to a PumpStatus, "true"/"false" or
	// an alarm priority.
	Enum map[string]string `yaml:"enum,omitempty"`
}

// AlarmTable is a table of active alarms. For a single-pump profile its
// rows are indexed by an alarm number; for a pump-server profile by the
// pump's row index followed by an alarm number, so each alarm finds its
// pump.
type AlarmTable struct {
	Table    string `yaml:"table"` // the alarm table's entry OID
	Code     *Field `yaml:"code"`
	Text     *Field `yaml:"text,omitempty"`
	Priority *Field `yaml:"priority,omitempty"` // enum → high, medium, low; unmapped values read as high
}

// AlarmBits maps the bits of one value to alarms, as pumps with alarm flag
// words report them. Bit 0 is the least significant bit of an integer; for
// an OCTET STRING (the SMI BITS construct) bit 0 is the most significant
// bit of the first octet.
type AlarmBits struct {
	OID  string     `yaml:"oid"`
	Bits []AlarmBit `yaml:"bits"`
}

// AlarmBit is one alarm flag.
type AlarmBit struct {
	Bit      int                `yaml:"bit"`
	Code     string             `yaml:"code"`
	Text     string             `yaml:"text,omitempty"`
	Priority wardwatch.Priority `yaml:"priority"`
}

// fieldKind is how a field's value is read.
type fieldKind int

const (
	kindString fieldKind = iota
	kindNumber
	kindStatus
	kindBool
	kindPriority
	kindBits
)

// fieldSpec names a profile field for messages and says how it is read.
type fieldSpec struct {
	name string
	kind fieldKind
	get  func(*Profile) *Field
}

// pumpFields are the per-pump fields of a profile, in the order they are
// reported.
var pumpFields = []fieldSpec{
	{"serial", kindString, func(p *Profile) *Field { return p.Serial }},
	{"model", kindString, func(p *Profile) *Field { return p.Model }},
	{"status", kindStatus, func(p *Profile) *Field { return p.Status }},
	{"on_ac", kindBool, func(p *Profile) *Field { return p.OnAC }},
	{"battery", kindNumber, func(p *Profile) *Field { return p.Battery }},
	{"rate", kindNumber, func(p *Profile) *Field { return p.Rate }},
	{"vtbi", kindNumber, func(p *Profile) *Field { return p.VTBI }},
	{"infused", kindNumber, func(p *Profile) *Field { return p.Infused }},
	{"firmware", kindString, func(p *Profile) *Field { return p.Firmware }},
	{"drug_library", kindString, func(p *Profile) *Field { return p.DrugLibrary }},
	{"drug_library_version", kindString, func(p *Profile) *Field { return p.DrugLibraryVersion }},
}

// alarmFields are the columns of an alarm table.
var alarmFields = []fieldSpec{
	{"alarm_table.code", kindString, func(p *Profile) *Field { return p.AlarmTable.Code }},
	{"alarm_table.text", kindString, func(p *Profile) *Field { return p.AlarmTable.Text }},
	{"alarm_table.priority", kindPriority, func(p *Profile) *Field { return p.AlarmTable.Priority }},
}

// ParseProfile reads a profile from YAML, rejecting unknown keys, and
// validates it. Errors are *wardwatch.Error (EINVALID, ETOOLARGE) with a
// message saying what to fix.
func ParseProfile(data []byte) (Profile, error) {
	if len(data) > maxProfileSize {
		return Profile{}, wardwatch.Errorf(wardwatch.ETOOLARGE, "The profile is %d bytes; at most %d are accepted.", len(data), maxProfileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return Profile{}, wardwatch.Errorf(wardwatch.EINVALID, "The profile is empty.")
		}
		return Profile{}, &wardwatch.Error{Code: wardwatch.EINVALID, Message: "The profile is not valid YAML: " + yamlMessage(err), Err: err}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Profile{}, wardwatch.Errorf(wardwatch.EINVALID, "The profile must be a single YAML document.")
	}
	if err := p.normalize(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// yamlMessage shortens a YAML error for users.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, " in type snmp.", " in ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// MarshalProfile writes p as YAML that ParseProfile reads back to an equal
// profile.
func MarshalProfile(p Profile) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("marshal profile %s: %w", p.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal profile %s: %w", p.Name, err)
	}
	return buf.Bytes(), nil
}

// Validate checks p as ParseProfile does, without changing it.
func (p Profile) Validate() error {
	c := p.clone()
	return c.normalize()
}

// IsTable reports whether p reads a pump server's table (many pumps)
// rather than one pump's scalars.
func (p Profile) IsTable() bool { return p.Table != "" }

// normalize validates p and rewrites its OIDs without a leading dot.
func (p *Profile) normalize() error {
	invalid := func(format string, args ...any) error {
		name := p.Name
		if name == "" {
			name = "(unnamed)"
		}
		return wardwatch.Errorf(wardwatch.EINVALID, "Profile %s: "+format, append([]any{name}, args...)...)
	}
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case p.Name == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "The profile needs a name.")
	case utf8.RuneCountInString(p.Name) > maxProfileName:
		return wardwatch.Errorf(wardwatch.EINVALID, "The profile name is longer than %d characters.", maxProfileName)
	case !validText(p.Name):
		return wardwatch.Errorf(wardwatch.EINVALID, "The profile name has control characters or invalid UTF-8.")
	case utf8.RuneCountInString(p.Description) > maxDescription || !utf8.ValidString(p.Description):
		return invalid("the description must be valid UTF-8 of at most %d characters.", maxDescription)
	}
	if p.Table != "" {
		t, err := normalizeOID(p.Table)
		if err != nil {
			return invalid("table: %v.", err)
		}
		p.Table = t
	}
	if p.Serial == nil {
		return invalid("serial is required: it identifies each pump.")
	}
	seen := map[string]string{}
	useOID := func(name, oid string) error {
		if other, dup := seen[oid]; dup {
			return invalid("%s and %s read the same OID %s.", other, name, oid)
		}
		seen[oid] = name
		return nil
	}
	for _, spec := range pumpFields {
		f := spec.get(p)
		if f == nil {
			continue
		}
		if err := f.normalize(spec, invalid); err != nil {
			return err
		}
		if p.Table != "" && f.OID == p.Table {
			return invalid("%s: OID %s is the table entry itself, not a column below it.", spec.name, f.OID)
		}
		if err := useOID(spec.name, f.OID); err != nil {
			return err
		}
	}
	if p.Table != "" && !underOID(p.Serial.OID, p.Table) {
		return invalid("serial must be a column of the table %s (its OID must start with %s.).", p.Table, p.Table)
	}
	if a := p.AlarmTable; a != nil {
		t, err := normalizeOID(a.Table)
		if err != nil {
			return invalid("alarm_table.table: %v.", err)
		}
		a.Table = t
		if a.Code == nil {
			return invalid("alarm_table.code is required.")
		}
		for _, spec := range alarmFields {
			f := spec.get(p)
			if f == nil {
				continue
			}
			if err := f.normalize(spec, invalid); err != nil {
				return err
			}
			if !underOID(f.OID, a.Table) {
				return invalid("%s: OID %s is not a column of the alarm table %s.", spec.name, f.OID, a.Table)
			}
			if err := useOID(spec.name, f.OID); err != nil {
				return err
			}
		}
	}
	if b := p.AlarmBits; b != nil {
		oid, err := normalizeOID(b.OID)
		if err != nil {
			return invalid("alarm_bits.oid: %v.", err)
		}
		b.OID = oid
		if err := useOID("alarm_bits", oid); err != nil {
			return err
		}
		if len(b.Bits) == 0 || len(b.Bits) > maxAlarmBits {
			return invalid("alarm_bits needs between 1 and %d bits.", maxAlarmBits)
		}
		bits := map[int]bool{}
		for i := range b.Bits {
			bit := &b.Bits[i]
			switch {
			case bit.Bit < 0 || bit.Bit > 63:
				return invalid("alarm_bits: bit %d is outside 0–63.", bit.Bit)
			case bits[bit.Bit]:
				return invalid("alarm_bits: bit %d is listed twice.", bit.Bit)
			case strings.TrimSpace(bit.Code) == "" || len(bit.Code) > maxEnumKeyLen || !validText(bit.Code):
				return invalid("alarm_bits: bit %d needs a code of at most %d characters.", bit.Bit, maxEnumKeyLen)
			case len(bit.Text) > maxAlarmTextLen || !validText(bit.Text):
				return invalid("alarm_bits: bit %d: the text must be valid text of at most %d bytes.", bit.Bit, maxAlarmTextLen)
			case !validPriority(bit.Priority):
				return invalid("alarm_bits: bit %d: priority %q is not high, medium or low.", bit.Bit, bit.Priority)
			}
			bits[bit.Bit] = true
		}
	}
	return nil
}

// normalize checks one field against what its kind allows.
func (f *Field) normalize(spec fieldSpec, invalid func(string, ...any) error) error {
	oid, err := normalizeOID(f.OID)
	if err != nil {
		return invalid("%s.oid: %v.", spec.name, err)
	}
	f.OID = oid
	if f.Scale != 0 {
		if spec.kind != kindNumber {
			return invalid("%s: scale applies to numeric fields only.", spec.name)
		}
		if math.IsNaN(f.Scale) || math.IsInf(f.Scale, 0) || f.Scale <= 0 || f.Scale > 1e9 || f.Scale < 1e-9 {
			return invalid("%s: scale %v must be a positive number between 1e-9 and 1e9.", spec.name, f.Scale)
		}
	}
	if len(f.Enum) == 0 {
		f.Enum = nil
		return nil
	}
	switch spec.kind {
	case kindStatus, kindBool, kindPriority:
	default:
		return invalid("%s: enum applies to status, on_ac and alarm priority only.", spec.name)
	}
	if len(f.Enum) > maxEnumEntries {
		return invalid("%s: enum has more than %d entries.", spec.name, maxEnumEntries)
	}
	for k, v := range f.Enum {
		if k == "" || len(k) > maxEnumKeyLen || !utf8.ValidString(k) {
			return invalid("%s: enum key %.70q must be non-empty valid text of at most %d bytes.", spec.name, k, maxEnumKeyLen)
		}
		switch spec.kind {
		case kindStatus:
			if !wardwatch.PumpStatus(v).Valid() {
				return invalid("%s: enum value %.70q is not a pump status (infusing, paused, idle, kvo, complete, alarm, off, unknown).", spec.name, v)
			}
		case kindBool:
			if v != "true" && v != "false" {
				return invalid("%s: enum value %.70q must be true or false.", spec.name, v)
			}
		case kindPriority:
			if !validPriority(wardwatch.Priority(v)) {
				return invalid("%s: enum value %.70q is not high, medium or low.", spec.name, v)
			}
		}
	}
	return nil
}

func validPriority(p wardwatch.Priority) bool {
	return p == wardwatch.PriorityHigh || p == wardwatch.PriorityMedium || p == wardwatch.PriorityLow
}

// validText reports whether s is valid UTF-8 without control characters.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// clone returns a deep copy of p, so validation can normalise it freely.
func (p Profile) clone() Profile {
	c := p
	cp := func(f *Field) *Field {
		if f == nil {
			return nil
		}
		g := *f
		if f.Enum != nil {
			g.Enum = make(map[string]string, len(f.Enum))
			for k, v := range f.Enum {
				g.Enum[k] = v
			}
		}
		return &g
	}
	c.Serial, c.Model, c.Status, c.OnAC = cp(p.Serial), cp(p.Model), cp(p.Status), cp(p.OnAC)
	c.Battery, c.Rate, c.VTBI, c.Infused = cp(p.Battery), cp(p.Rate), cp(p.VTBI), cp(p.Infused)
	c.Firmware, c.DrugLibrary, c.DrugLibraryVersion = cp(p.Firmware), cp(p.DrugLibrary), cp(p.DrugLibraryVersion)
	if p.AlarmTable != nil {
		a := *p.AlarmTable
		a.Code, a.Text, a.Priority = cp(a.Code), cp(a.Text), cp(a.Priority)
		c.AlarmTable = &a
	}
	if p.AlarmBits != nil {
		b := *p.AlarmBits
		b.Bits = slices.Clone(b.Bits)
		c.AlarmBits = &b
	}
	return c
}
