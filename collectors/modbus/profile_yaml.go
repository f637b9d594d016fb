package modbus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/wardwatch/wardwatch"
	"go.yaml.in/yaml/v3"
)

// MaxProfileSize is the largest profile document ParseProfile accepts.
const MaxProfileSize = 64 << 10

// ParseProfile reads a profile from YAML and validates it. Unknown keys,
// wrong value types and invalid values are errors (*wardwatch.Error with
// code EINVALID, or ETOOLARGE past MaxProfileSize) that name the line and
// the key at fault. Defaults: order ABCD for registers, scale 1, offset 0,
// unit the metric's own (°C, Pa, %RH…), max_gap 0.
//
//	name: vaccine-fridge
//	description: Refrigeration controller, probes in 0.1 °C
//	max_gap: 16
//	fields:
//	  - name: cabinet
//	    metric: temperature
//	    table: holding_register
//	    address: 256
//	    type: int16
//	    scale: 0.1
//	    unit: C
//	    fault_values: [-32768, 32767]
//	  - name: evaporator
//	    metric: temperature
//	    table: holding_register
//	    address: 257
//	    type: int16
//	    scale: 0.1
//	    diagnostic: true   # the coil, not the product: not judged against the unit's ranges
//	  - name: door
//	    metric: door_open
//	    table: discrete_input
//	    address: 3
//	    type: bit
func ParseProfile(data []byte) (Profile, error) {
	if len(data) > MaxProfileSize {
		return Profile{}, wardwatch.Errorf(wardwatch.ETOOLARGE, "profile: %d bytes, more than the %d allowed", len(data), MaxProfileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Profile{}, invalidf("profile: the document is empty")
		}
		return Profile{}, invalidf("profile: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Profile{}, invalidf("profile: expected one YAML document, found more")
	}
	if len(doc.Content) == 0 {
		return Profile{}, invalidf("profile: the document is empty")
	}
	p, err := parseProfile(doc.Content[0])
	if err != nil {
		return Profile{}, err
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

var (
	profileKeys = []string{"name", "description", "max_gap", "fields"}
	fieldKeys   = []string{"name", "metric", "table", "address", "type", "order", "bit", "scale", "offset", "unit", "fault_values", "diagnostic"}
)

func parseProfile(n *yaml.Node) (Profile, error) {
	var p Profile
	var fieldsNode *yaml.Node
	err := mapping(n, "", profileKeys, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "name":
			p.Name, err = str(v, key)
		case "description":
			p.Description, err = str(v, key)
		case "max_gap":
			var g int64
			g, err = integer(v, key)
			if err == nil && (g < 0 || g > MaxRegistersPerRead) {
				err = errAt(v, key, "%d is outside 0…%d", g, MaxRegistersPerRead)
			}
			p.MaxGap = int(g)
		case "fields":
			fieldsNode = v
		}
		return err
	})
	if err != nil {
		return Profile{}, err
	}
	if p.Name == "" {
		return Profile{}, errAt(n, "name", "is required")
	}
	if fieldsNode == nil {
		return Profile{}, errAt(n, "fields", "is required: list the channels to read")
	}
	if fieldsNode.Kind != yaml.SequenceNode {
		return Profile{}, errAt(fieldsNode, "fields", "expected a list of fields")
	}
	if len(fieldsNode.Content) > maxFields {
		return Profile{}, errAt(fieldsNode, "fields", "%d fields, more than the %d allowed", len(fieldsNode.Content), maxFields)
	}
	for i, fn := range fieldsNode.Content {
		path := fmt.Sprintf("fields[%d]", i)
		f, err := parseField(fn, path)
		if err != nil {
			return Profile{}, err
		}
		if err := f.validate(); err != nil {
			return Profile{}, errAt(fn, fmt.Sprintf("%s (%s)", path, f.Name), "%v", err)
		}
		p.Fields = append(p.Fields, f)
	}
	return p, nil
}

func parseField(n *yaml.Node, path string) (Field, error) {
	f := Field{Scale: 1}
	var hasAddress, hasOrder, hasUnit bool
	err := mapping(n, path, fieldKeys, func(key string, v *yaml.Node) error {
		kp := path + "." + key
		var err error
		switch key {
		case "name":
			f.Name, err = str(v, kp)
		case "metric":
			var s string
			s, err = str(v, kp)
			f.Metric = wardwatch.Metric(s)
		case "table":
			var s string
			s, err = str(v, kp)
			f.Table = Table(s)
		case "address":
			var a int64
			if a, err = integer(v, kp); err == nil {
				if a < 0 || a > 0xFFFF {
					return errAt(v, kp, "%d is outside 0…65535 (addresses are 0-based protocol addresses, not 40001-style register numbers)", a)
				}
				f.Address, hasAddress = uint16(a), true
			}
		case "type":
			var s string
			s, err = str(v, kp)
			f.Type = Type(s)
		case "order":
			var s string
			s, err = str(v, kp)
			f.Order, hasOrder = Order(strings.ToUpper(s)), true
		case "bit":
			var b int64
			if b, err = integer(v, kp); err == nil {
				if b < 0 || b > 15 {
					return errAt(v, kp, "%d is outside 0…15", b)
				}
				f.Bit = int(b)
			}
		case "scale":
			f.Scale, err = number(v, kp)
		case "offset":
			f.Offset, err = number(v, kp)
		case "unit":
			if v.Tag == "!!null" {
				return nil
			}
			var s string
			s, err = str(v, kp)
			f.Unit, hasUnit = Unit(s), true
		case "fault_values":
			f.FaultValues, err = integers(v, kp)
			if len(f.FaultValues) == 0 {
				f.FaultValues = nil
			}
		case "diagnostic":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				return errAt(v, kp, "want true or false")
			}
			f.Diagnostic = v.Value == "true"
		}
		return err
	})
	if err != nil {
		return Field{}, err
	}
	for _, req := range []struct {
		key string
		ok  bool
	}{{"name", f.Name != ""}, {"metric", f.Metric != ""}, {"table", f.Table != ""}, {"address", hasAddress}, {"type", f.Type != ""}} {
		if !req.ok {
			return Field{}, errAt(n, path+"."+req.key, "is required")
		}
	}
	if !hasOrder && !f.Table.IsBit() {
		f.Order = OrderABCD
	}
	if !hasUnit {
		f.Unit = DefaultUnit(f.Metric)
	}
	return f, nil
}

// mapping walks a YAML mapping, rejecting unknown and duplicate keys.
func mapping(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node) error) error {
	where := path
	if where == "" {
		where = "profile"
	}
	if n.Kind != yaml.MappingNode {
		return errAt(n, where, "expected a mapping of keys to values")
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return errAt(k, where, "keys must be plain names")
		}
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		if !slices.Contains(known, k.Value) {
			return errAt(k, kp, "unknown key (known keys: %s)", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return errAt(k, kp, "appears twice")
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			return errAt(v, kp, "YAML aliases are not supported")
		}
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func errAt(n *yaml.Node, path, format string, args ...any) error {
	return invalidf("profile: line %d: %s: %s", n.Line, path, fmt.Sprintf(format, args...))
}

func str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", errAt(n, path, "expected a text value")
	}
	return n.Value, nil
}

func integer(n *yaml.Node, path string) (int64, error) {
	var v int64
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		return 0, errAt(n, path, "expected an integer, got %q", n.Value)
	}
	return v, nil
}

func number(n *yaml.Node, path string) (float64, error) {
	var v float64
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Decode(&v) != nil {
		return 0, errAt(n, path, "expected a number, got %q", n.Value)
	}
	return v, nil
}

func integers(n *yaml.Node, path string) ([]int64, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, path, "expected a list of integers")
	}
	if len(n.Content) > maxFaultValues {
		return nil, errAt(n, path, "%d values, more than the %d allowed", len(n.Content), maxFaultValues)
	}
	out := make([]int64, 0, len(n.Content))
	for i, e := range n.Content {
		v, err := integer(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// yamlProfile and yamlField are the profile's YAML form, in key order.
type yamlProfile struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description,omitempty"`
	MaxGap      int         `yaml:"max_gap,omitempty"`
	Fields      []yamlField `yaml:"fields"`
}

type yamlField struct {
	Name        string  `yaml:"name"`
	Metric      string  `yaml:"metric"`
	Table       string  `yaml:"table"`
	Address     uint16  `yaml:"address"`
	Type        string  `yaml:"type"`
	Order       string  `yaml:"order,omitempty"`
	Bit         *int    `yaml:"bit,omitempty"`
	Scale       float64 `yaml:"scale"`
	Offset      float64 `yaml:"offset,omitempty"`
	Unit        string  `yaml:"unit,omitempty"`
	FaultValues []int64 `yaml:"fault_values,omitempty,flow"`
	Diagnostic  bool    `yaml:"diagnostic,omitempty"`
}

// MarshalYAML implements yaml.Marshaler: the profile in the form
// ParseProfile reads, with every default spelt out.
func (p Profile) MarshalYAML() (any, error) {
	y := yamlProfile{Name: p.Name, Description: p.Description, MaxGap: p.MaxGap}
	for _, f := range p.Fields {
		yf := yamlField{
			Name: f.Name, Metric: string(f.Metric), Table: string(f.Table), Address: f.Address,
			Type: string(f.Type), Order: string(f.Order), Scale: f.Scale, Offset: f.Offset,
			Unit: string(f.Unit), FaultValues: f.FaultValues, Diagnostic: f.Diagnostic,
		}
		if f.Type == TypeBit && !f.Table.IsBit() {
			bit := f.Bit
			yf.Bit = &bit
		}
		y.Fields = append(y.Fields, yf)
	}
	return y, nil
}

// YAML is the profile as a YAML document that ParseProfile reads back to
// an equal profile.
func (p Profile) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode profile %q: %w", p.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode profile %q: %w", p.Name, err)
	}
	return buf.Bytes(), nil
}
