// Package provision is WardWatch's configuration as code: a site file
// (YAML, see FORMAT.md) that lists floors, zones, gateways, assets and
// their tags, RFID readers, HTTP poll targets, monitored units and their
// alert rules, device profiles, Modbus devices, SNMP targets, contacts, PAR
// levels, escalation policies, maintenance windows and users.
//
// Parse reads and validates a site file, with errors that name its lines;
// NewPlan compares it with the configuration store by natural keys (floor
// name, zone floor and name, gateway key, asset tag or name, tag ID, unit
// name, device name, target name, username…) and lists the changes; Apply
// carries them out through the Store interface, auditing each one. Export
// writes the store's configuration in the same format, secrets replaced by
// references, so apply → export → apply changes nothing.
package provision

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// FormatVersion is the version of the site file format this package reads
// and writes.
const FormatVersion = 1

// Site is the content of a site file. Every list is optional; a list that
// is absent or empty leaves those objects alone (unless pruning).
type Site struct {
	Version            int             `yaml:"version"`
	Floors             []Floor         `yaml:"floors,omitempty"`
	Zones              []Zone          `yaml:"zones,omitempty"`
	Gateways           []Gateway       `yaml:"gateways,omitempty"`
	RFIDReaders        []RFIDReader    `yaml:"rfid_readers,omitempty"`
	PollTargets        []PollTarget    `yaml:"poll_targets,omitempty"`
	Assets             []Asset         `yaml:"assets,omitempty"`
	Units              []Unit          `yaml:"units,omitempty"`
	DeviceProfiles     []DeviceProfile `yaml:"device_profiles,omitempty"`
	ModbusDevices      []ModbusDevice  `yaml:"modbus_devices,omitempty"`
	SNMPTargets        []SNMPTarget    `yaml:"snmp_targets,omitempty"`
	Contacts           []Contact       `yaml:"contacts,omitempty"`
	PARLevels          []PARLevel      `yaml:"par_levels,omitempty"`
	EscalationPolicies *[]Policy       `yaml:"escalation_policies,omitempty"` // nil: leave alone; empty: back to the defaults
	MaintenanceWindows []Window        `yaml:"maintenance_windows,omitempty"`
	Users              []User          `yaml:"users,omitempty"`

	name  string                 // the file's name, for errors
	lines map[string]map[int]int // section → item index → line
}

// line is the line of item i of section in the file, 0 when unknown.
func (s *Site) line(section string, i int) int {
	if s == nil || s.lines == nil {
		return 0
	}
	return s.lines[section][i]
}

// where names item i of section as "file:line" for messages.
func (s *Site) where(section string, i int) string {
	name := "site file"
	if s != nil && s.name != "" {
		name = s.name
	}
	if l := s.line(section, i); l > 0 {
		return fmt.Sprintf("%s:%d", name, l)
	}
	return fmt.Sprintf("%s: %s[%d]", name, section, i)
}

// Floor is one storey; its name is its key.
type Floor struct {
	Name     string   `yaml:"name"`
	Building string   `yaml:"building,omitempty"` // "": the site's only building
	Level    int      `yaml:"level"`
	Width    float64  `yaml:"width"`          // metres
	Height   float64  `yaml:"height"`         // metres; with a plan, may be left out (width × the plan's aspect)
	Plan     *PlanRef `yaml:"plan,omitempty"` // nil: leave the stored plan alone
}

// Zone is an area of a floor; floor and name are its key.
type Zone struct {
	Floor    string  `yaml:"floor"`
	Name     string  `yaml:"name"`
	Kind     string  `yaml:"kind"`
	CareUnit string  `yaml:"care_unit,omitempty"` // the ward it belongs to: "4B"
	Polygon  Polygon `yaml:"polygon"`
}

// Gateway is a fixed BLE receiver; its key is its key.
type Gateway struct {
	Key              string   `yaml:"key"`
	Name             string   `yaml:"name,omitempty"`
	Floor            string   `yaml:"floor"`
	Position         Coord    `yaml:"position"`
	Height           float64  `yaml:"height,omitempty"`
	RSSIAt1m         float64  `yaml:"rssi_at_1m,omitempty"`
	PathLossExponent float64  `yaml:"path_loss_exponent,omitempty"`
	RxOffset         float64  `yaml:"rx_offset,omitempty"`
	AnchorZone       *ZoneRef `yaml:"anchor_zone,omitempty"`
}

// Asset is a tracked piece of equipment with its tags; its key is its
// asset tag, or its name when it has none.
type Asset struct {
	Name     string `yaml:"name"`
	Kind     string `yaml:"kind"`
	Status   string `yaml:"status,omitempty"` // "": leave the status alone (available when created)
	AssetTag string `yaml:"asset_tag,omitempty"`
	Serial   string `yaml:"serial,omitempty"`
	// UDI is the label's human-readable UDI (wardwatch.ParseUDI), kept in
	// its canonical form.
	UDI          string   `yaml:"udi,omitempty"`
	Manufacturer string   `yaml:"manufacturer,omitempty"`
	Model        string   `yaml:"model,omitempty"`
	PMDue        string   `yaml:"pm_due,omitempty"` // 2026-05-01 or RFC 3339
	Tags         []string `yaml:"tags,omitempty"`
}

// key is the asset's natural key.
func (a Asset) key() string {
	if a.AssetTag != "" {
		return "tag:" + a.AssetTag
	}
	return "name:" + a.Name
}

// label names the asset for people.
func (a Asset) label() string {
	if a.AssetTag != "" {
		return fmt.Sprintf("%s (%s)", a.Name, a.AssetTag)
	}
	return a.Name
}

// Unit is a monitored fridge, freezer or room; its name is its key.
type Unit struct {
	Name    string   `yaml:"name"`
	Profile string   `yaml:"profile"`
	Zone    *ZoneRef `yaml:"zone,omitempty"`
	// Rules is the unit's own threshold rule set; nil leaves the stored
	// one alone, an empty set means no threshold rules.
	Rules *RuleSet `yaml:"rules,omitempty"`
	// Schedules are the unit's daily defrost and maintenance windows
	// (schedules.go).
	Schedules []Schedule `yaml:"schedules,omitempty"`
}

// ModbusDevice is a polled Modbus device; its name is its key.
type ModbusDevice struct {
	Name           string `yaml:"name"`
	Unit           string `yaml:"unit,omitempty"`
	Transport      string `yaml:"transport"`
	Address        string `yaml:"address"`
	Baud           int    `yaml:"baud,omitempty"`
	DataBits       int    `yaml:"data_bits,omitempty"`
	Parity         string `yaml:"parity,omitempty"`
	StopBits       int    `yaml:"stop_bits,omitempty"`
	SlaveID        int    `yaml:"slave_id"`
	Profile        string `yaml:"profile"`
	Interval       string `yaml:"interval"`
	Timeout        string `yaml:"timeout"`
	Enabled        *bool  `yaml:"enabled,omitempty"` // nil: true
	CalibrationDue string `yaml:"calibration_due,omitempty"`
}

// SNMPTarget is a polled pump or pump server; its name is its key. Its
// community and passwords are Secret references.
type SNMPTarget struct {
	Name         string  `yaml:"name"`
	Address      string  `yaml:"address"`
	Version      string  `yaml:"version"`
	Community    *Secret `yaml:"community,omitempty"`
	User         string  `yaml:"user,omitempty"`
	AuthProtocol string  `yaml:"auth_protocol,omitempty"`
	AuthPassword *Secret `yaml:"auth_password,omitempty"`
	PrivProtocol string  `yaml:"priv_protocol,omitempty"`
	PrivPassword *Secret `yaml:"priv_password,omitempty"`
	Profile      string  `yaml:"profile"`
	Interval     string  `yaml:"interval"`
	Timeout      string  `yaml:"timeout"`
	Retries      int     `yaml:"retries,omitempty"`
	Enabled      *bool   `yaml:"enabled,omitempty"` // nil: true
}

// Contact is who an escalation group reaches; team and name are its key.
type Contact struct {
	Name    string `yaml:"name"`
	Team    string `yaml:"team"`
	Group   string `yaml:"group"`
	Unit    string `yaml:"unit,omitempty"`
	Email   string `yaml:"email,omitempty"`
	Webhook string `yaml:"webhook,omitempty"`
	Enabled *bool  `yaml:"enabled,omitempty"` // nil: true
}

// PARLevel is a periodic-automatic-replenishment level; its ID is its key.
type PARLevel struct {
	ID          string    `yaml:"id"`
	Name        string    `yaml:"name,omitempty"`
	Kind        string    `yaml:"kind"`
	CleanZones  []ZoneRef `yaml:"clean_zones,omitempty"`
	SoiledZones []ZoneRef `yaml:"soiled_zones,omitempty"`
	CleanMin    int       `yaml:"clean_min,omitempty"`
	SoiledMax   *int      `yaml:"soiled_max,omitempty"`
}

// Policy is an escalation policy. The policies are one document: a file
// that lists them replaces all of them.
type Policy struct {
	Unit     string `yaml:"unit,omitempty"`
	Team     string `yaml:"team,omitempty"`
	Priority string `yaml:"priority"`
	Tiers    []Tier `yaml:"tiers"`
	Reminder string `yaml:"reminder,omitempty"`
}

// Tier is one step of an escalation policy.
type Tier struct {
	After   string   `yaml:"after"`
	Targets []Target `yaml:"targets"`
}

// Target is who a tier notifies and how.
type Target struct {
	Channel string `yaml:"channel"`
	Group   string `yaml:"group,omitempty"`
	Address string `yaml:"address,omitempty"`
}

// User is a person who signs in; the username is the key. Password, when
// set, is a Secret reference: the user's password is set to it when it
// does not already match.
type User struct {
	Username string   `yaml:"username"`
	Role     string   `yaml:"role"`
	Units    []string `yaml:"units,omitempty,flow"` // care units the user is scoped to; none: the whole site
	Password *Secret  `yaml:"password,omitempty"`
}

// ZoneRef names a zone by its floor and name.
type ZoneRef struct {
	Floor string `yaml:"floor"`
	Zone  string `yaml:"zone"`
}

func (z ZoneRef) String() string { return z.Floor + " / " + z.Zone }

// MarshalYAML writes the reference on one line.
func (z ZoneRef) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	n.Content = append(n.Content, str("floor"), str(z.Floor), str("zone"), str(z.Zone))
	return n, nil
}

// Coord is a point on a floor, [x, y] in metres.
type Coord []float64

// MarshalYAML writes the point as a flow sequence.
func (c Coord) MarshalYAML() (any, error) { return c.node(), nil }

func (c Coord) node() *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range c {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(v, 'g', -1, 64)})
	}
	return n
}

func (c Coord) point() wardwatch.Point {
	if len(c) != 2 {
		return wardwatch.Point{}
	}
	return wardwatch.Point{X: c[0], Y: c[1]}
}

// Polygon is a zone's outline, [[x, y], …] in metres.
type Polygon []Coord

// MarshalYAML writes the polygon on one line.
func (p Polygon) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, c := range p {
		n.Content = append(n.Content, c.node())
	}
	return n, nil
}

func (p Polygon) points() []wardwatch.Point {
	pts := make([]wardwatch.Point, len(p))
	for i, c := range p {
		pts[i] = c.point()
	}
	return pts
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// Secret is a reference to a secret kept outside the file: {env: NAME}
// (an environment variable) or {file: PATH} (a file's content without its
// trailing newline). The file never holds the secret itself.
type Secret struct {
	Env  string `yaml:"env,omitempty" json:"env,omitempty"`
	File string `yaml:"file,omitempty" json:"file,omitempty"`

	line     int
	value    string // resolved at apply, or read from the store
	resolved bool
}

// UnmarshalYAML reads a reference and refuses a literal secret.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: write a secret as {env: VARIABLE} or {file: /path}, never the secret itself", n.Line)
	}
	if len(n.Content) != 2 || (n.Content[0].Value != "env" && n.Content[0].Value != "file") ||
		n.Content[1].Kind != yaml.ScalarNode || strings.TrimSpace(n.Content[1].Value) == "" {
		return fmt.Errorf("line %d: a secret reference has exactly one of env: VARIABLE or file: /path", n.Line)
	}
	*s = Secret{line: n.Line}
	if n.Content[0].Value == "env" {
		s.Env = n.Content[1].Value
	} else {
		s.File = n.Content[1].Value
	}
	return nil
}

// MarshalYAML writes the reference, never the value, with a comment
// saying so.
func (s Secret) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, LineComment: "secret: the value is not exported"}
	if s.File != "" {
		n.Content = append(n.Content, str("file"), str(s.File))
	} else {
		n.Content = append(n.Content, str("env"), str(s.Env))
	}
	return n, nil
}

func (s Secret) String() string {
	if s.File != "" {
		return "{file: " + s.File + "}"
	}
	return "{env: " + s.Env + "}"
}

// RuleSet is a unit's threshold rules, written in YAML with the fields of
// alerts.FormatRules' JSON (a JSON array pasted as is also reads).
type RuleSet struct {
	Rules []alerts.Rule
}

// UnmarshalYAML reads and validates the rules as alerts.ParseRules does.
func (r *RuleSet) UnmarshalYAML(n *yaml.Node) error {
	var doc []byte
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		doc = []byte(n.Value) // a JSON document in a string
	} else {
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: rules: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: rules: %v", n.Line, err)
		}
		doc = b
	}
	rules, err := alerts.ParseRules(doc)
	if err != nil {
		return fmt.Errorf("line %d: rules: %s", n.Line, wardwatch.ErrorMessage(err))
	}
	r.Rules = rules
	return nil
}

// MarshalYAML writes the rules as YAML with FormatRules' fields, in its
// order.
func (r RuleSet) MarshalYAML() (any, error) {
	b, err := alerts.FormatRules(r.Rules)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("rules: unexpected document")
	}
	n := doc.Content[0]
	blockStyle(n)
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle // []
	}
	return n, nil
}

// blockStyle clears the JSON (flow, quoted) styles of n's tree.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// equal reports whether two rule sets are the same.
func (r *RuleSet) equal(o *RuleSet) bool {
	if r == nil || o == nil {
		return r == o
	}
	a, err1 := alerts.FormatRules(r.Rules)
	b, err2 := alerts.FormatRules(o.Rules)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// fmtDuration writes d as "10m", "1h30m", "2s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// fmtTime writes t as a date when it is midnight UTC, else in RFC 3339;
// "" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

// parseTime reads a date or an RFC 3339 time, to the millisecond as
// stored.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date like 2026-05-01 or a time like 2026-05-01T08:00:00Z", s)
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

func boolPtr(b bool) *bool { return &b }

func enabled(b *bool) bool { return b == nil || *b }
