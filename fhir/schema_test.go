package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// schemaChecker validates JSON documents against the HL7 FHIR R4 JSON
// schema subset in testdata (see testdata/README.md). It implements the
// draft-06 keywords that schema uses: $ref (to #/definitions/…), type,
// properties, additionalProperties (false), required, items, enum, const,
// pattern and oneOf. pattern is also applied to the literal text of
// numbers and booleans, which is stricter than JSON Schema and catches an
// integer written as 1.0.
type schemaChecker struct {
	defs     map[string]map[string]any
	root     map[string]any
	patterns sync.Map // string → *regexp.Regexp
}

func loadSchema(t testing.TB) *schemaChecker {
	t.Helper()
	b, err := os.ReadFile("testdata/fhir-r4-subset.schema.json")
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	c := &schemaChecker{root: root, defs: map[string]map[string]any{}}
	for name, d := range root["definitions"].(map[string]any) {
		c.defs[name] = d.(map[string]any)
	}
	return c
}

// check validates doc (JSON) against the schema root: one of the resources.
func (c *schemaChecker) check(doc []byte) []string {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	// Dispatch on resourceType like the schema's discriminator, for
	// readable errors rather than "matches none of oneOf".
	if obj, ok := v.(map[string]any); ok {
		if rt, ok := obj["resourceType"].(string); ok {
			if _, ok := c.defs[rt]; ok {
				return c.validate("#/definitions/"+rt, map[string]any{"$ref": "#/definitions/" + rt}, v, "$")
			}
			return []string{fmt.Sprintf("$: resourceType %q is not in the schema subset", rt)}
		}
	}
	return c.validate("#", c.root, v, "$")
}

func (c *schemaChecker) regexp(p string) (*regexp.Regexp, error) {
	if re, ok := c.patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	c.patterns.Store(p, re)
	return re, nil
}

// validate checks v against schema s at JSON path path.
func (c *schemaChecker) validate(name string, s map[string]any, v any, path string) []string {
	var errs []string
	if ref, ok := s["$ref"].(string); ok {
		def, found := strings.CutPrefix(ref, "#/definitions/")
		d, ok := c.defs[def]
		if !found || !ok {
			return []string{fmt.Sprintf("%s: schema $ref %q not in the subset", path, ref)}
		}
		errs = append(errs, c.validate(def, d, v, path)...)
	}
	if typ, ok := s["type"].(string); ok {
		if !hasType(typ, v) {
			return append(errs, fmt.Sprintf("%s: want %s (%s), got %T", path, typ, name, v))
		}
	}
	if cv, ok := s["const"]; ok && fmt.Sprint(cv) != fmt.Sprint(v) {
		errs = append(errs, fmt.Sprintf("%s: want %v, got %v", path, cv, v))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	if p, ok := s["pattern"].(string); ok {
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case json.Number:
			text = v.String()
		case bool:
			text = fmt.Sprint(v)
		}
		re, err := c.regexp(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: schema pattern %q does not compile: %v", path, p, err))
		} else if !re.MatchString(text) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s pattern %s", path, text, name, p))
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		if arr, ok := v.([]any); ok {
			if len(arr) == 0 {
				errs = append(errs, fmt.Sprintf("%s: empty array (FHIR forbids empty arrays)", path))
			}
			for i, e := range arr {
				errs = append(errs, c.validate(name, items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		if props != nil {
			if len(obj) == 0 {
				errs = append(errs, fmt.Sprintf("%s: empty object (FHIR forbids empty objects)", path))
			}
			for k, e := range obj {
				ps, ok := props[k].(map[string]any)
				if !ok {
					if ap, ok := s["additionalProperties"].(bool); ok && !ap {
						errs = append(errs, fmt.Sprintf("%s: property %q is not allowed in %s", path, k, name))
					}
					continue
				}
				errs = append(errs, c.validate(name+"."+k, ps, e, path+"."+k)...)
			}
		}
		if s["properties"] != nil {
			for _, r := range specRequired[name] {
				if _, ok := obj[r]; !ok {
					errs = append(errs, fmt.Sprintf("%s: element %s.%s (1..1 in R4) is missing", path, name, r))
				}
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					errs = append(errs, fmt.Sprintf("%s: required property %q of %s is missing", path, r, name))
				}
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		matched := 0
		var all []string
		for _, alt := range one {
			e := c.validate(name, alt.(map[string]any), v, path)
			if len(e) == 0 {
				matched++
			}
			all = append(all, e...)
		}
		if matched != 1 {
			errs = append(errs, fmt.Sprintf("%s: matches %d of oneOf %s, want 1", path, matched, name))
		}
	}
	return errs
}

func hasType(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	}
	return false
}

// specRequired lists the elements of cardinality 1..1 (or 1..*) in the R4
// specification that the JSON schema cannot mark required, because a
// primitive may be given by its "_name" extension element instead
// (https://hl7.org/fhir/R4/json.html#primitive). WardWatch never uses the
// extension form, so the element itself must be present.
var specRequired = map[string][]string{
	"Observation":                        {"status"},
	"DeviceMetric":                       {"category"},
	"DeviceMetric_Calibration":           {},
	"Flag":                               {"status"},
	"Bundle":                             {"type"},
	"Bundle_Link":                        {"relation", "url"},
	"CapabilityStatement":                {"status", "date", "kind", "fhirVersion", "format"},
	"CapabilityStatement_Software":       {"name"},
	"CapabilityStatement_Implementation": {"description"},
	"CapabilityStatement_Rest":           {"mode"},
	"CapabilityStatement_Resource":       {"type"},
	"CapabilityStatement_Interaction":    {"code"},
	"CapabilityStatement_SearchParam":    {"name", "type"},
	"OperationOutcome_Issue":             {"severity", "code"},
	"Device_DeviceName":                  {"name", "type"},
	"Device_Version":                     {"value"},
	"Annotation":                         {"text"},
	"Extension":                          {"url"},
}

// checkFHIR fails t when doc is not valid R4 JSON for its resourceType.
func checkFHIR(t testing.TB, c *schemaChecker, doc []byte) {
	t.Helper()
	if errs := c.check(doc); len(errs) > 0 {
		t.Errorf("invalid FHIR R4 JSON:\n  %s\ndocument: %s", strings.Join(errs, "\n  "), clipDoc(doc))
	}
}

func clipDoc(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// TestSchemaCheckerRejects makes sure the checker catches what it must:
// a checker that accepts everything would make every other test pass.
func TestSchemaCheckerRejects(t *testing.T) {
	c := loadSchema(t)
	tests := []struct {
		name, doc, want string
	}{
		{"valid flag", `{"resourceType":"Flag","id":"excursion-1","status":"active","code":{"text":"x"},"subject":{"reference":"Device/unit-1"}}`, ""},
		{"missing required", `{"resourceType":"Flag","id":"f","status":"active","code":{"text":"x"}}`, `required property "subject"`},
		{"bad enum", `{"resourceType":"Flag","id":"f","status":"on","code":{"text":"x"},"subject":{"reference":"Device/u"}}`, "is not one of"},
		{"unknown element", `{"resourceType":"Flag","id":"f","status":"active","colour":"red","code":{"text":"x"},"subject":{"reference":"Device/u"}}`, `property "colour" is not allowed`},
		{"bad id", `{"resourceType":"Device","id":"asset_1"}`, "does not match"},
		{"bad dateTime", `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"t"},"effectiveDateTime":"2026-01-02 10:00"}`, "does not match"},
		{"string for number", `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"t"},"valueQuantity":{"value":"1.5"}}`, "want number"},
		{"empty array", `{"resourceType":"Device","id":"d","identifier":[]}`, "empty array"},
		{"string total", `{"resourceType":"Bundle","type":"searchset","total":"3"}`, "want number"},
		{"bundle without type", `{"resourceType":"Bundle","total":3}`, "Bundle.type (1..1 in R4) is missing"},
		{"observation without status", `{"resourceType":"Observation","id":"o","code":{"text":"t"}}`, "Observation.status"},
		{"bundle entry of unknown type", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`, "oneOf"},
		{"devicemetric missing category", `{"resourceType":"DeviceMetric","id":"m","type":{"text":"t"}}`, "DeviceMetric.category (1..1 in R4) is missing"},
		{"location bad mode", `{"resourceType":"Location","id":"l","mode":"room"}`, "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := strings.Join(c.check([]byte(tt.doc)), "\n")
			if tt.want == "" && errs != "" {
				t.Fatalf("valid document rejected: %s", errs)
			}
			if tt.want != "" && !strings.Contains(errs, tt.want) {
				t.Fatalf("errors %q do not mention %q", errs, tt.want)
			}
		})
	}
}

// TestSchemaPatternsCompile checks every pattern of the subset compiles
// with Go's regexp (RE2), so no check is silently skipped.
func TestSchemaPatternsCompile(t *testing.T) {
	c := loadSchema(t)
	for name, d := range c.defs {
		if p, ok := d["pattern"].(string); ok {
			if _, err := c.regexp(p); err != nil {
				t.Errorf("definition %s: pattern %q: %v", name, p, err)
			}
		}
	}
}

// TestSpecRequiredNamesExist guards specRequired against typos: a name
// that is not in the schema would check nothing.
func TestSpecRequiredNamesExist(t *testing.T) {
	c := loadSchema(t)
	for def, props := range specRequired {
		d, ok := c.defs[def]
		if !ok {
			t.Errorf("%s is not a definition of the schema subset", def)
			continue
		}
		for _, p := range props {
			if _, ok := d["properties"].(map[string]any)[p]; !ok {
				t.Errorf("%s has no property %s", def, p)
			}
		}
	}
}

// TestSensorResourcesValidate checks the Observations and DeviceMetrics of
// tags and pumps against the R4 schema, searched and read: latest and
// historical readings, each with a valueQuantity in UCUM, a device that is
// a Device and the category and metric coding of the Modbus ones.
func TestSensorResourcesValidate(t *testing.T) {
	c := loadSchema(t)
	srv := newTestServer(t, fixture(), Options{})
	base := srv.URL + "/fhir/r4"
	for _, q := range []string{
		"/Observation?device=asset-12,asset-13,pump-SN-2F9999-20x",
		"/Observation?device=asset-12,asset-14&date=ge2026-03-10&_count=500",
		"/Observation?location=zone-40&code=temperature&date=2026-03-10",
		"/DeviceMetric?source=asset-12,asset-13,pump-SN-2F9999-20x",
	} {
		res := get(t, base+q)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", q, res.status, res.body)
		}
		checkFHIR(t, c, res.body)
		ids, _, _ := bundleIDs(t, res.body)
		if len(ids) == 0 {
			t.Fatalf("%s: no entries", q)
		}
		typ := strings.TrimPrefix(q[:strings.IndexByte(q, '?')], "/")
		for _, id := range ids {
			r := get(t, base+"/"+typ+"/"+id)
			if r.status != 200 {
				t.Fatalf("read %s/%s: %d %s", typ, id, r.status, r.body)
			}
			checkFHIR(t, c, r.body)
			var res struct {
				Category      json.RawMessage
				Code, Type    CodeableConcept
				ValueQuantity *Quantity
				Device        *Reference
				Source        *Reference
				Unit          *CodeableConcept
				Calibration   []MetricCalibration
			}
			if err := json.Unmarshal(r.body, &res); err != nil {
				t.Fatal(err)
			}
			if typ == "Observation" {
				var category []CodeableConcept
				json.Unmarshal(res.Category, &category)
				if len(category) != 1 || category[0].Coding[0].System != SystemObservationCategory ||
					len(res.Code.Coding) != 1 || res.Code.Coding[0].System != SystemMetric ||
					res.ValueQuantity == nil || res.ValueQuantity.System != SystemUCUM || res.ValueQuantity.Code == "" ||
					res.Device == nil || !strings.HasPrefix(res.Device.Reference, "Device/") {
					t.Errorf("Observation/%s: %s", id, r.body)
				}
				continue
			}
			if string(res.Category) != `"measurement"` || len(res.Type.Coding) != 1 || res.Type.Coding[0].System != SystemMetric || res.Unit == nil ||
				res.Unit.Coding[0].System != SystemUCUM || res.Source == nil || !strings.HasPrefix(res.Source.Reference, "Device/") ||
				len(res.Calibration) != 1 || res.Calibration[0].State != "unspecified" {
				t.Errorf("DeviceMetric/%s: %s", id, r.body)
			}
			// The source Device exists.
			if d := get(t, base+"/"+res.Source.Reference); d.status != 200 {
				t.Errorf("DeviceMetric/%s: source %s: %d", id, res.Source.Reference, d.status)
			}
		}
	}
}
