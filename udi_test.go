package wardwatch_test

import (
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// udiSeeds are real-looking UDIs of each agency. The GS1 ones follow the
// FDA GUDID examples ((01) GTIN, (17) expiry, (10) lot, (21) serial) with
// GTINs whose check digits are right; 0614141 is GS1 US's example company
// prefix. The HIBCC and ICCBBA ones follow the agencies' published
// layouts, check characters computed.
var udiSeeds = []struct {
	in     string
	issuer wardwatch.UDIIssuer
	di     string
	hrf    string // "" means in, unchanged
}{
	{"(01)00884838035454(17)250101(10)A213B1(21)1234", wardwatch.UDIIssuerGS1, "00884838035454", ""},
	{"(01)00614141123452", wardwatch.UDIIssuerGS1, "00614141123452", ""},
	{"  (01) 10614141000019 (11)240312 (17) 290300 (10)LOT-42/7 (21)SIM-0410  ", wardwatch.UDIIssuerGS1, "10614141000019",
		"(01)10614141000019(11)240312(17)290300(10)LOT-42/7(21)SIM-0410"},
	{"(01)00614141123452(7003)2701011230(8012)4.2.1", wardwatch.UDIIssuerGS1, "00614141123452", ""},
	{"(01)00614141123452(17)280229", wardwatch.UDIIssuerGS1, "00614141123452", ""},   // leap day
	{"(01)00614141123452(99)internal", wardwatch.UDIIssuerGS1, "00614141123452", ""}, // an AI read by the general rules
	{"+A123BJC5D6E71G", wardwatch.UDIIssuerHIBCC, "A123BJC5D6E71", ""},
	{"+A123BJC5D6E71/$$52001510X3C", wardwatch.UDIIssuerHIBCC, "A123BJC5D6E71", ""},
	{"+H123PARTNO1234567890120/$$420020216LOT123456789012345/SXYZ456789012345678/16D20130202H", wardwatch.UDIIssuerHIBCC,
		"H123PARTNO1234567890120", ""},
	{"=/A9999XYZ100T0944", wardwatch.UDIIssuerICCBBA, "A9999XYZ100T0944", ""},
	{"=/A9999XYZ100T0944=,000025=A99971312345600=>014032=}013032&,1000000000000XYZ123", wardwatch.UDIIssuerICCBBA,
		"A9999XYZ100T0944", ""},
}

func TestParseUDI(t *testing.T) {
	for _, tt := range udiSeeds {
		u, err := wardwatch.ParseUDI(tt.in)
		hrf := tt.hrf
		if hrf == "" {
			hrf = tt.in
		}
		if err != nil || u.Issuer != tt.issuer || u.DI != tt.di || u.HRF != hrf {
			t.Errorf("ParseUDI(%q) = %+v, %v; want %s DI %s HRF %s", tt.in, u, err, tt.issuer, tt.di, hrf)
		}
	}
}

func TestParseUDIRefuses(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		// The GTIN of the brief's GUDID-like example: its check digit is 4.
		{"(01)00884838035452(17)250101(10)A213B1(21)1234", "should be 4"},
		{"(17)250101(01)00884838035454", "must start with (01)"},
		{"(01)0061414112345", "should have 14 digits, not 13"},
		{"(01)0061414112345X", "digits only"},
		{"(01)00614141123452(17)251301", "not a date"},
		{"(01)00614141123452(17)250230", "not a date"},
		{"(01)00614141123452(17)270229", "not a date"},
		{"(01)00614141123452(7003)2701012460", "not a date and time"},
		{"(01)00614141123452(10)", "has no value"},
		{"(01)00614141123452(10)A(10)B", "given twice"},
		{"(01)00614141123452(10)ABCDEFGHIJKLMNOPQRSTU", "1 to 20 characters"},
		{"(01)00614141123452(21)A#1", "does not allow"},
		{"(01)00614141123452(21)A 1", "does not allow"},
		{"(01)00614141123452(21)A)1", "parenthesis"},
		{"(01)00614141123452(21", "no closing parenthesis"},
		{"(01)00614141123452(123456)x", "2 to 4 digits"},
		{"(01)00614141123452x(21)1", "14 digits, not 15"},
		{"(9N)110375286414(1T)12345ABCD(D)160531", "not a GS1 application identifier"},
		{"00614141123452", "bare GTIN"},
		{"UDI 123", "no issuing agency"},
		{"[)>\x1e06\x1d9N110375286414", "printable ASCII"},
		{"(01)00614141123452(10)lot\u00e9", "printable ASCII"},
		{"(01)" + strings.Repeat("0", 300), "longer than 200"},
		{"+A123BJC5D6E71", "check character"},
		{"+A123BJC5D6E71F", "check character is 'F'"}, // right for +A123BJC5D6E7, wrong here
		{"+a123bjc5d6e71g", "capital letters"},
		{"+$$52001510X3", "labeler code"},
		{"+1234ABC1X", "labeler code"},
		{"+A123BX", "6 to 23 characters"},
		{"+A123BJC5D6E7XG", "unit-of-measure"},
		{"+A", "6 to 23"},
		{"+", "labeler code"},
		{"=/A9999XYZ100", "16 characters"},
		{"=/19999XYZ100T0944", "facility's letter"},
		{"=/A9999xyz100T0944", "capital letters"},
		{"=/A9999XYZ100T0944 =,000025", "starts with = or &"},
		{"=/A9999XYZ100T0944=,0000 25", "space"},
		{"=A99971312345600", "=/ and 16 characters"},
	} {
		_, err := wardwatch.ParseUDI(tt.in)
		if wardwatch.ErrorCode(err) != wardwatch.EINVALID || !strings.Contains(wardwatch.ErrorMessage(err), tt.want) {
			t.Errorf("ParseUDI(%q) = %v; want EINVALID mentioning %q", tt.in, err, tt.want)
		}
	}
}

func TestCheckUDI(t *testing.T) {
	if got, err := wardwatch.CheckUDI("  "); got != "" || err != nil {
		t.Errorf(`CheckUDI("  ") = %q, %v; want "", nil`, got, err)
	}
	if got, err := wardwatch.CheckUDI(" (01) 00614141123452 (21)7 "); got != "(01)00614141123452(21)7" || err != nil {
		t.Errorf("CheckUDI = %q, %v", got, err)
	}
	if _, err := wardwatch.CheckUDI("(01)00614141123453"); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("CheckUDI(bad check digit) = %v; want EINVALID", err)
	}
}

func TestCheckManufacturerModel(t *testing.T) {
	for _, check := range []func(string) (string, error){wardwatch.CheckManufacturer, wardwatch.CheckModel} {
		for in, want := range map[string]string{
			"":                            "",
			"  Harbourline Medical  ":     "Harbourline Medical",
			"Dräger":                      "Dräger",
			"Volumetric LVP-200 (v2)":     "Volumetric LVP-200 (v2)",
			strings.Repeat("é", 100):      strings.Repeat("é", 100),
			"Syringe SP-50 · 50 mL/60 mL": "Syringe SP-50 · 50 mL/60 mL",
		} {
			if got, err := check(in); got != want || err != nil {
				t.Errorf("check(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
		for _, bad := range []string{strings.Repeat("x", 101), "Line\nbreak", "Tab\there", "\x00", "bad \xff utf-8", "zero\u200bwidth"} {
			if _, err := check(bad); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("check(%q) = %v; want EINVALID", bad, err)
			}
		}
	}
}

// FuzzParseUDI checks ParseUDI never panics and that what it accepts is
// consistent: a known issuer, a DI of its agency's shape, a canonical HRF
// that parses to the same UDI.
func FuzzParseUDI(f *testing.F) {
	for _, s := range udiSeeds {
		f.Add(s.in)
	}
	for _, s := range []string{"", "(", "()", "(01)", "(01)(", "+", "+A", "=/", "=", "(01)00614141123452(17)000000",
		"(01)00614141123452(7003)9912319999", "+A123BJC5D6E71/", "=/A9999XYZ100T0944&", "(0)1", "(01)00614141123452 ( 21 ) 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := wardwatch.ParseUDI(s)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("ParseUDI(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		if u.DI == "" || u.HRF == "" || len(u.HRF) > wardwatch.MaxUDILen {
			t.Fatalf("ParseUDI(%q) = %+v", s, u)
		}
		switch u.Issuer {
		case wardwatch.UDIIssuerGS1:
			if len(u.DI) != 14 || !strings.HasPrefix(u.HRF, "(01)"+u.DI) {
				t.Fatalf("ParseUDI(%q) = %+v: GS1 DI not a GTIN-14 at the start", s, u)
			}
		case wardwatch.UDIIssuerHIBCC:
			if !strings.HasPrefix(u.HRF, "+"+u.DI) {
				t.Fatalf("ParseUDI(%q) = %+v: HIBCC DI is not the primary data", s, u)
			}
		case wardwatch.UDIIssuerICCBBA:
			if len(u.DI) != 16 || !strings.HasPrefix(u.HRF, "=/"+u.DI) {
				t.Fatalf("ParseUDI(%q) = %+v: ICCBBA DI is not the product code", s, u)
			}
		default:
			t.Fatalf("ParseUDI(%q) = %+v: unknown issuer", s, u)
		}
		again, err := wardwatch.ParseUDI(u.HRF)
		if err != nil || again != u {
			t.Fatalf("ParseUDI(HRF %q) = %+v, %v; want %+v", u.HRF, again, err, u)
		}
	})
}

// BenchmarkParseUDI measures reading a full GS1 UDI, which the FHIR
// Device mapping does for every asset with a UDI on every request.
func BenchmarkParseUDI(b *testing.B) {
	for b.Loop() {
		if _, err := wardwatch.ParseUDI("(01)10614141000019(11)240312(17)290300(10)LOT-42/7(21)SIM-0410"); err != nil {
			b.Fatal(err)
		}
	}
}
