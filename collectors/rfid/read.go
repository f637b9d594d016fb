package rfid

import (
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Limits of what the parsers accept.
const (
	// MaxItems is the most items (reads, vendor events) one body may hold.
	MaxItems = 10000

	// MaxBodyBytes is the largest body the parsers look at; larger ones
	// are rejected whole with code ETOOLARGE. The push handler's own limit
	// (PushOptions.MaxBodyBytes, DefaultMaxBodyBytes) is usually lower.
	MaxBodyBytes = 16 << 20

	// MaxFuture and MaxPast bound a read's time around the time of
	// receipt; reads outside the window are rejected.
	MaxFuture = 5 * time.Minute
	MaxPast   = time.Hour

	// MinEPCBits and MaxEPCBits bound an EPC's length: 96 bits (the
	// common SGTIN-96 and friends) to 496 bits (the largest EPC a Gen2
	// tag can hold).
	MinEPCBits = 96
	MaxEPCBits = 496

	// MaxAntenna is the largest antenna number (an LLRP antenna ID is a
	// 16-bit number; 0 is not an antenna).
	MaxAntenna = 65535

	// maxReaderKeyLen bounds a reader key named in a body.
	maxReaderKeyLen = 128

	minRSSI, maxRSSI = -130.0, 0.0
)

// Read is one fixed UHF reader's antenna reading one tag's EPC.
type Read struct {
	// Reader is the reader's key (Reader.Key).
	Reader string
	// Antenna is the reader's antenna port, 1..MaxAntenna.
	Antenna int
	// EPC is the tag's EPC in canonical form: uppercase hex, an even
	// number of digits, MinEPCBits..MaxEPCBits bits (see NormalizeEPC).
	EPC string
	// RSSI is the reader's peak RSSI for the tag in dBm, in [-130, 0);
	// 0 when the reader did not say.
	RSSI float64
	// Time is when the reader read the tag, in UTC.
	Time time.Time
}

// TagID is the read tag's identity as WardWatch stores it.
func (r Read) TagID() string { return TagID(r.EPC) }

// TagID returns the tag identity of an EPC: "epc:" and the EPC in
// lowercase hex, the same canonical form the BLE collector's batch format
// produces for "epc:" identities (collectors/ble NormalizeTagID), so that
// a tag heard through either path is one tag.
func TagID(epc string) string { return "epc:" + strings.ToLower(epc) }

// NormalizeEPC checks an EPC and returns its canonical form: uppercase
// hex. It accepts hex digits in either case, an optional "epc:" scheme
// prefix (any case) and surrounding spaces; the EPC must have an even
// number of digits and MinEPCBits to MaxEPCBits bits (24 to 124 digits).
// Anything else yields a *wardwatch.Error with code EINVALID.
func NormalizeEPC(s string) (string, error) {
	if len(s) > 2*maxEPCHex {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC is too long (%d bytes)", len(s))
	}
	s = strings.TrimSpace(s)
	if len(s) >= 4 && strings.EqualFold(s[:4], "epc:") {
		s = s[4:]
	}
	return normalizeEPCHex([]byte(s))
}

// Digits of an EPC.
const (
	minEPCHex = MinEPCBits / 4
	maxEPCHex = MaxEPCBits / 4
)

// normalizeEPCHex checks bare hex digits and returns them uppercased.
func normalizeEPCHex(b []byte) (string, error) {
	switch {
	case len(b) == 0:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC is empty")
	case len(b) < minEPCHex || len(b) > maxEPCHex:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC must be %d to %d hex digits (%d to %d bits), not %d", minEPCHex, maxEPCHex, MinEPCBits, MaxEPCBits, len(b))
	case len(b)%2 != 0:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC must have an even number of hex digits, not %d", len(b))
	}
	var buf [maxEPCHex]byte
	for i, c := range b {
		switch {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'F':
			buf[i] = c
		case 'a' <= c && c <= 'f':
			buf[i] = c - ('a' - 'A')
		default:
			return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC must be hex digits only")
		}
	}
	return string(buf[:len(b)]), nil
}

// epcFromBytes is the canonical EPC of raw EPC bytes.
func epcFromBytes(b []byte) (string, error) {
	if n := len(b) * 8; n < MinEPCBits || n > MaxEPCBits {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "EPC must be %d to %d bits, not %d", MinEPCBits, MaxEPCBits, n)
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i] = digits[c>>4]
		out[2*i+1] = digits[c&0x0f]
	}
	return string(out), nil
}

// ItemError says why one item of a body was rejected. Index is the item's
// 0-based position in the body (see Parse for how items are counted).
type ItemError struct {
	Index  int    `json:"index"`
	Reason string `json:"error"`
}

// Format is a wire format a reader speaks.
type Format string

// Formats known to WardWatch.
const (
	// FormatWardWatch is the WardWatch RFID format (FORMAT.md).
	FormatWardWatch Format = "wardwatch"
	// FormatZebra is Zebra FX-series IoT Connector tag data events.
	FormatZebra Format = "zebra"
	// FormatImpinj is Impinj IoT device interface (R700, Speedway
	// Connect-style) events.
	FormatImpinj Format = "impinj"
)

// Formats lists the known formats.
func Formats() []Format { return []Format{FormatWardWatch, FormatZebra, FormatImpinj} }

// Valid reports whether f is a known format.
func (f Format) Valid() bool {
	switch f {
	case FormatWardWatch, FormatZebra, FormatImpinj:
		return true
	}
	return false
}

// label is f as a metric label: a known format, or "unknown".
func (f Format) label() string {
	if f.Valid() {
		return string(f)
	}
	return "unknown"
}

// ParseFormat maps a format name (case-insensitive, surrounding spaces
// ignored) to a Format. "" yields "" (detect); an unknown name an
// EINVALID error.
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if f := Format(s); f.Valid() {
		return f, nil
	}
	return "", wardwatch.Errorf(wardwatch.EINVALID, "unknown RFID format %s (want wardwatch, zebra or impinj)", quoteShort(s))
}

// Parsed is what a parser makes of one body.
type Parsed struct {
	Format Format
	// Reads are the good reads, in body order.
	Reads []Read
	// Errors are the rejected (malformed) items, in body order.
	Errors []ItemError
	// Ignored counts well-formed items that are not tag reads (an Impinj
	// inventoryStatus or antennaConnected event, a Zebra event of another
	// type).
	Ignored int
}

// Items is the number of items examined.
func (p Parsed) Items() int { return len(p.Reads) + len(p.Errors) + p.Ignored }

// Parse parses a body in format f; f "" detects the format (DetectFormat).
// reader is the reader's key: every read is stamped with it. When reader
// is "" the body must name its reader (WardWatch "reader", Impinj
// "hostname", Zebra "data.MAC" as 12 lowercase hex digits); reads that
// name none are rejected. now is the time of receipt: it stamps reads
// without a time and anchors the accepted window (MaxPast, MaxFuture).
//
// A body is a sequence of JSON values: one object, an array of objects,
// NDJSON (one value per line) or values simply concatenated (as Zebra's
// IoT Connector sends them over a websocket). Items are counted in body
// order, 0-based: each element of a top-level array and each read of a
// WardWatch {"reads":[…]} envelope is one item; a stretch that is not
// JSON counts as one item up to the end of its line.
//
// Items are validated one by one: good reads are returned, bad items as
// ItemErrors, items that are not tag reads are counted in Ignored. The
// error (a *wardwatch.Error) is for a body unusable as a whole: ETOOLARGE
// over MaxBodyBytes; EINVALID for an unknown or undetectable format, more
// than MaxItems items, or a body in which no item is JSON at all.
func Parse(f Format, reader string, body []byte, now time.Time) (Parsed, error) {
	if len(body) > MaxBodyBytes {
		return Parsed{Format: f}, wardwatch.Errorf(wardwatch.ETOOLARGE, "body is too large (%d bytes, at most %d)", len(body), MaxBodyBytes)
	}
	if f == "" {
		if skipSpace(body, 0) == len(body) {
			return Parsed{}, nil // nothing to parse, nothing to detect
		}
		var ok bool
		if f, ok = DetectFormat(body); !ok {
			return Parsed{}, wardwatch.Errorf(wardwatch.EINVALID, "cannot tell the body's format; name it (format=wardwatch, zebra or impinj)")
		}
	}
	var parseItem func(b *builder, raw []byte)
	switch f {
	case FormatWardWatch:
		parseItem = parseWardWatchItem
	case FormatZebra:
		parseItem = parseZebraItem
	case FormatImpinj:
		parseItem = parseImpinjItem
	default:
		return Parsed{Format: f}, wardwatch.Errorf(wardwatch.EINVALID, "unknown RFID format %s (want wardwatch, zebra or impinj)", quoteShort(string(f)))
	}
	b := &builder{p: Parsed{Format: f}, reader: reader, now: now.UTC()}
	if err := b.run(body, parseItem); err != nil {
		return Parsed{Format: f}, err
	}
	return b.p, nil
}
