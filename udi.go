package wardwatch

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UDIIssuer is the issuing agency whose rules a Unique Device Identifier
// follows. The FDA accredits three: GS1, HIBCC and ICCBBA.
type UDIIssuer string

// UDI issuing agencies WardWatch reads.
const (
	UDIIssuerGS1    UDIIssuer = "GS1"
	UDIIssuerHIBCC  UDIIssuer = "HIBCC"
	UDIIssuerICCBBA UDIIssuer = "ICCBBA"
)

// MaxUDILen is the longest UDI (human-readable form) WardWatch accepts, in
// bytes; a full GS1 UDI with lot, serial and dates is about 80.
const MaxUDILen = 200

// MaxDeviceTextLen is the longest manufacturer or model name WardWatch
// accepts, in characters.
const MaxDeviceTextLen = 100

// UDI is a Unique Device Identifier read from its human-readable form
// (HRF), the text printed under the label's bar code.
type UDI struct {
	Issuer UDIIssuer
	// DI is the device identifier, the fixed part naming the labeler and
	// the model (and package level): GS1's GTIN-14 (AI 01); HIBCC's
	// labeler code, product number and unit of measure (the primary data
	// without its "+"); ICCBBA's 16-character processor product
	// identification code (data structure 034, after "=/").
	DI string
	// HRF is the whole UDI in its canonical human-readable form: for GS1
	// each application identifier in parentheses followed by its value, no
	// spaces; for HIBCC and ICCBBA the text as printed, trimmed.
	HRF string
}

// ParseUDI reads a UDI in its human-readable form: GS1 ("(01)" and a
// GTIN-14 whose check digit is right, then optional application
// identifiers such as (17) expiry, (10) lot, (21) serial), HIBCC ("+",
// labeler code, product number, unit of measure, optional "/" secondary
// data, and the modulo-43 check character) or ICCBBA ISBT 128 ("=/" and
// the 16-character product code, then optional data structures). Other
// agencies and malformed UDIs are refused with EINVALID saying why.
func ParseUDI(s string) (UDI, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return UDI{}, Errorf(EINVALID, "UDI is empty")
	case len(s) > MaxUDILen:
		return UDI{}, Errorf(EINVALID, "UDI is longer than %d characters", MaxUDILen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return UDI{}, Errorf(EINVALID, "UDI may hold only printable ASCII characters, as on the label")
		}
	}
	switch {
	case s[0] == '(':
		return parseGS1UDI(s)
	case s[0] == '+':
		return parseHIBCCUDI(s)
	case strings.HasPrefix(s, "=/"):
		return parseICCBBAUDI(s)
	case s[0] == '=':
		return UDI{}, Errorf(EINVALID, "ICCBBA UDI must start with its product code, =/ and 16 characters")
	case len(s) == 14 && allDigits(s):
		return UDI{}, Errorf(EINVALID, "UDI %s looks like a bare GTIN: write it as (01)%s", s, s)
	}
	return UDI{}, Errorf(EINVALID,
		"UDI %.24q… is from no issuing agency WardWatch reads: GS1 UDIs start with (01), HIBCC ones with +, ICCBBA ones with =/", s)
}

// CheckUDI trims a UDI and checks it with ParseUDI, returning its
// canonical human-readable form. "" (not known) is valid.
func CheckUDI(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	u, err := ParseUDI(s)
	if err != nil {
		return "", err
	}
	return u.HRF, nil
}

// CheckManufacturer trims an asset's manufacturer name and checks it: at
// most MaxDeviceTextLen printable characters. "" is valid.
func CheckManufacturer(s string) (string, error) { return checkDeviceText("manufacturer", s) }

// CheckModel trims an asset's model name and checks it like
// CheckManufacturer.
func CheckModel(s string) (string, error) { return checkDeviceText("model", s) }

func checkDeviceText(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s is not valid UTF-8 text", what)
	}
	if n := utf8.RuneCountInString(s); n > MaxDeviceTextLen {
		return "", Errorf(EINVALID, "%s is longer than %d characters", what, MaxDeviceTextLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", Errorf(EINVALID, "%s %.24q holds a character that is not printable", what, s)
		}
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// gs1AI is what WardWatch knows of one GS1 application identifier.
type gs1AI struct {
	name     string
	min, max int  // value length
	format   byte // 'n' digits, 'a' GS1 character set 82, 'd' date YYMMDD, 't' date and time YYMMDDhhmm
}

// gs1AIs are the application identifiers of GS1 UDIs (the DI and the
// production identifiers of FDA 21 CFR 801.40 and EU MDR annex VI); other
// AIs are read with the general rules.
var gs1AIs = map[string]gs1AI{
	"01":   {"GTIN", 14, 14, 'n'},
	"10":   {"lot", 1, 20, 'a'},
	"11":   {"production date", 6, 6, 'd'},
	"17":   {"expiry date", 6, 6, 'd'},
	"21":   {"serial number", 1, 20, 'a'},
	"7003": {"expiry date and time", 10, 10, 't'},
	"8012": {"software version", 1, 20, 'a'},
}

// isGS1Char reports whether c is in the GS1 AI encodable character set 82
// (GS1 General Specifications figure 7.11-1), less the parentheses, which
// the human-readable form keeps for the identifiers.
func isGS1Char(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	}
	return strings.IndexByte(`!"%&'*+,-./:;<=>?_`, c) >= 0
}

// parseGS1UDI reads "(01)<GTIN-14>(AI)value…"; spaces around the
// identifiers are dropped.
func parseGS1UDI(s string) (UDI, error) {
	var (
		u    = UDI{Issuer: UDIIssuerGS1}
		hrf  strings.Builder
		buf  [8]string
		seen = buf[:0] // a UDI has a handful of AIs
		rest = s
	)
	for first := true; ; first = false {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		if rest[0] != '(' {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: %.12q… should start with an application identifier in parentheses", rest)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: an application identifier has no closing parenthesis")
		}
		ai := rest[1:end]
		if !allDigits(ai) {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: (%.8s) is not a GS1 application identifier (2 to 4 digits); other agencies' data identifiers are not read", ai)
		}
		if len(ai) < 2 || len(ai) > 4 {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: application identifier (%s) should have 2 to 4 digits", ai)
		}
		if first && ai != "01" {
			return UDI{}, Errorf(EINVALID, "GS1 UDI must start with (01), the GTIN, not (%s)", ai)
		}
		if slices.Contains(seen, ai) {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: application identifier (%s) is given twice", ai)
		}
		seen = append(seen, ai)
		rest = rest[end+1:]
		next := strings.IndexAny(rest, "()")
		if next < 0 {
			next = len(rest)
		} else if rest[next] == ')' {
			return UDI{}, Errorf(EINVALID, "GS1 UDI: the value of (%s) holds a parenthesis", ai)
		}
		val := strings.Trim(rest[:next], " ")
		rest = rest[next:]
		if err := checkGS1Value(ai, val); err != nil {
			return UDI{}, err
		}
		if ai == "01" {
			u.DI = val
		}
		hrf.WriteString("(" + ai + ")" + val)
	}
	u.HRF = hrf.String()
	return u, nil
}

// checkGS1Value checks the value of application identifier ai.
func checkGS1Value(ai, val string) error {
	spec, known := gs1AIs[ai]
	if !known {
		spec = gs1AI{name: "value", min: 1, max: 90, format: 'a'}
	}
	if val == "" {
		return Errorf(EINVALID, "GS1 UDI: (%s) has no value", ai)
	}
	if len(val) < spec.min || len(val) > spec.max {
		if spec.min == spec.max {
			return Errorf(EINVALID, "GS1 UDI: the %s (%s) should have %d digits, not %d", spec.name, ai, spec.min, len(val))
		}
		return Errorf(EINVALID, "GS1 UDI: the %s (%s) should have %d to %d characters", spec.name, ai, spec.min, spec.max)
	}
	for i := 0; i < len(val); i++ {
		if spec.format == 'a' {
			if !isGS1Char(val[i]) {
				return Errorf(EINVALID, "GS1 UDI: the %s (%s) holds %q, which GS1 does not allow", spec.name, ai, val[i])
			}
		} else if val[i] < '0' || val[i] > '9' {
			return Errorf(EINVALID, "GS1 UDI: the %s (%s) should be digits only", spec.name, ai)
		}
	}
	switch spec.format {
	case 'n':
		if ai == "01" {
			if want := gtinCheckDigit(val[:13]); val[13] != want {
				return Errorf(EINVALID, "GS1 UDI: the GTIN %s fails its check digit (the last digit should be %c); check it against the label", val, want)
			}
		}
	case 'd', 't':
		if !validYYMMDD(val[:6]) {
			return Errorf(EINVALID, "GS1 UDI: the %s (%s) %s is not a date (YYMMDD)", spec.name, ai, val)
		}
		if spec.format == 't' && (val[6:8] > "23" || val[8:10] > "59") {
			return Errorf(EINVALID, "GS1 UDI: the %s (%s) %s is not a date and time (YYMMDDhhmm)", spec.name, ai, val)
		}
	}
	return nil
}

// gtinCheckDigit is the GS1 check digit of the 13 digits d: weights 3 and
// 1 alternating from the rightmost, then the difference to the next
// multiple of ten.
func gtinCheckDigit(d string) byte {
	sum := 0
	for i := 0; i < len(d); i++ {
		w := 1
		if (len(d)-i)%2 == 1 {
			w = 3
		}
		sum += int(d[i]-'0') * w
	}
	return byte('0' + (10-sum%10)%10)
}

// validYYMMDD reports whether six digits are a GS1 date: a month 01–12
// and a day that month has, or 00 (the last day of the month).
func validYYMMDD(d string) bool {
	yy := int(d[0]-'0')*10 + int(d[1]-'0')
	mm := int(d[2]-'0')*10 + int(d[3]-'0')
	dd := int(d[4]-'0')*10 + int(d[5]-'0')
	if mm < 1 || mm > 12 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[mm]
	if mm == 2 && yy%4 == 0 {
		days = 29
	}
	return dd <= days
}

// hibccChars is the HIBC character set in the order of its modulo-43
// check values (Code 39's).
const hibccChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"

func isUpperAlnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }

// parseHIBCCUDI reads "+<LIC><PCN><U/M>[/<secondary>]<check>": a labeler
// identification code of 4 (a letter first), a product or catalogue number
// of 1 to 18 and a unit-of-measure digit, then the check character over
// everything before it.
func parseHIBCCUDI(s string) (UDI, error) {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(hibccChars, s[i]) < 0 {
			return UDI{}, Errorf(EINVALID, "HIBCC UDI holds %q: only capital letters, digits and - . $ / + %% and spaces are allowed", s[i])
		}
	}
	if len(s) < 2 || !(s[1] >= 'A' && s[1] <= 'Z') {
		return UDI{}, Errorf(EINVALID, "HIBCC UDI must start with + and the labeler code (a letter, then 3 letters or digits); a secondary bar code alone is not a UDI")
	}
	body, check := s[:len(s)-1], s[len(s)-1]
	primary := body[1:]
	if i := strings.IndexByte(primary, '/'); i >= 0 {
		primary = primary[:i]
	}
	if len(primary) < 6 || len(primary) > 23 {
		return UDI{}, Errorf(EINVALID, "HIBCC UDI: the primary data (labeler code, product number, unit of measure) should have 6 to 23 characters, not %d; is the check character missing?", len(primary))
	}
	for i := 0; i < len(primary); i++ {
		if !isUpperAlnum(primary[i]) {
			return UDI{}, Errorf(EINVALID, "HIBCC UDI: the labeler code and product number hold capital letters and digits only")
		}
	}
	if um := primary[len(primary)-1]; um < '0' || um > '9' {
		return UDI{}, Errorf(EINVALID, "HIBCC UDI: the primary data should end in its unit-of-measure digit")
	}
	sum := 0
	for i := 0; i < len(body); i++ {
		sum += strings.IndexByte(hibccChars, body[i])
	}
	if want := hibccChars[sum%43]; check != want {
		return UDI{}, Errorf(EINVALID, "HIBCC UDI: the check character is %q, but the data gives %q; check it against the label", check, want)
	}
	return UDI{Issuer: UDIIssuerHIBCC, DI: primary, HRF: s}, nil
}

// parseICCBBAUDI reads "=/<16-character PPIC>" and any data structures
// after it (each starting with "=" or "&").
func parseICCBBAUDI(s string) (UDI, error) {
	rest := s[2:]
	if len(rest) < 16 {
		return UDI{}, Errorf(EINVALID, "ICCBBA UDI: the product code after =/ should have 16 characters")
	}
	di := rest[:16]
	if !(di[0] >= 'A' && di[0] <= 'Z') {
		return UDI{}, Errorf(EINVALID, "ICCBBA UDI: the product code should start with the facility's letter")
	}
	for i := 0; i < len(di); i++ {
		if !isUpperAlnum(di[i]) {
			return UDI{}, Errorf(EINVALID, "ICCBBA UDI: the product code holds capital letters and digits only")
		}
	}
	rest = rest[16:]
	if rest != "" && rest[0] != '=' && rest[0] != '&' {
		return UDI{}, Errorf(EINVALID, "ICCBBA UDI: after the product code each data structure starts with = or &")
	}
	if strings.IndexByte(rest, ' ') >= 0 {
		return UDI{}, Errorf(EINVALID, "ICCBBA UDI holds a space")
	}
	return UDI{Issuer: UDIIssuerICCBBA, DI: di, HRF: s}, nil
}
