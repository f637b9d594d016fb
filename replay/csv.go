package replay

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Gateway is one row of G.csv: a receiver at a known place.
//
//	gateway_id,floor,x,y,z[,rssi_at_1m][,path_loss_exponent][,rx_offset][,anchor_zone]
//
// The optional columns carry a calibration (from `calibrate`, or measured)
// and the name of the zone the gateway is a room anchor for; an empty cell
// or 0 means "not calibrated" / "not an anchor".
type Gateway struct {
	ID               string
	Floor            int64   // storey number, as in the zones' "floor" property
	X, Y, Z          float64 // metres; Z is the mounting height
	RSSIAt1m         float64 // dBm; 0 = engine default
	PathLossExponent float64 // 0 = engine default
	RxOffset         float64 // dB added to every RSSI the gateway reports
	AnchorZone       string  // zone name; "" = not a room anchor
}

// Sighting is one row of S.csv: a gateway hearing a tag once.
//
//	ts,gateway_id,tag_id,rssi[,tx_power]
//
// ts is seconds since the epoch (a decimal, "1700000000.25") or RFC 3339
// ("2023-11-14T22:13:20.25Z"). tx_power is the tag's advertised RSSI at 1 m;
// empty or 0 means the tag does not say.
type Sighting struct {
	Time      time.Time
	GatewayID string
	TagID     string
	RSSI      float64
	TxPower   float64
}

// Truth is one row of T.csv: where a tag really was.
//
//	ts,tag_id,x,y[,floor]
type Truth struct {
	Time     time.Time
	TagID    string
	X, Y     float64
	Floor    int64
	HasFloor bool // the floor column was given and not empty
}

// Estimate is one row of P.csv: one position the engine output.
//
//	ts,tag_id,floor,x,y,zone,confidence,solver
//
// ts is the moment of the engine update that produced it, in seconds since
// the epoch with millisecond precision; zone is the zone's name, empty for
// none.
type Estimate struct {
	Time       time.Time
	TagID      string
	Floor      int64
	X, Y       float64
	Zone       string
	Confidence float64
	Solver     string
}

// column describes one CSV column of a format.
type column struct {
	name     string
	required bool
}

// table reads a headed CSV file column by column, reporting errors with
// the file's line numbers.
type table struct {
	r    *csv.Reader
	idx  map[string]int // column name → field index
	rec  []string
	line int
}

// maxField bounds one CSV field; a longer one is refused rather than held.
const maxField = 4096

// newTable reads the header of a CSV stream and checks it against cols:
// every required column present, no unknown or repeated column. Names are
// matched case-insensitively, surrounding spaces and a UTF-8 byte-order
// mark ignored. Blank lines are skipped.
func newTable(r io.Reader, cols []column) (*table, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalid(1, "empty file: want a header line %s", headerOf(cols))
	}
	if err != nil {
		return nil, csvError(err)
	}
	line, _ := cr.FieldPos(0)
	t := &table{r: cr, idx: make(map[string]int, len(head)), line: line}
	for i, h := range head {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		if !slices.ContainsFunc(cols, func(c column) bool { return c.name == name }) {
			return nil, invalid(line, "unknown column %q in header (want %s)", clip(h), headerOf(cols))
		}
		if _, dup := t.idx[name]; dup {
			return nil, invalid(line, "column %q appears twice in header", name)
		}
		t.idx[name] = i
	}
	for _, c := range cols {
		if _, ok := t.idx[c.name]; c.required && !ok {
			return nil, invalid(line, "header lacks column %q (want %s)", c.name, headerOf(cols))
		}
	}
	return t, nil
}

// headerOf renders cols as a header line, optional columns in brackets.
func headerOf(cols []column) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, c := range cols {
		switch {
		case c.required && i > 0:
			b.WriteByte(',')
			b.WriteString(c.name)
		case c.required:
			b.WriteString(c.name)
		default:
			b.WriteString("[," + c.name + "]")
		}
	}
	b.WriteByte('"')
	return b.String()
}

// next reads the next record; it returns false at the end of the input.
func (t *table) next() (bool, error) {
	rec, err := t.r.Read()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, csvError(err)
	}
	t.rec = rec
	t.line, _ = t.r.FieldPos(0)
	if len(rec) != len(t.idx) {
		return false, invalid(t.line, "%d fields, want %d like the header", len(rec), len(t.idx))
	}
	return true, nil
}

// get is the trimmed cell of column name, "" when the column is absent.
func (t *table) get(name string) (string, error) {
	i, ok := t.idx[name]
	if !ok {
		return "", nil
	}
	v := strings.TrimSpace(t.rec[i])
	if len(v) > maxField {
		return "", invalid(t.line, "%s: value longer than %d bytes", name, maxField)
	}
	return v, nil
}

// text is a required non-empty text cell.
func (t *table) text(name string) (string, error) {
	v, err := t.get(name)
	if err == nil && v == "" {
		err = invalid(t.line, "%s is empty", name)
	}
	return v, err
}

// number is a finite float cell; an empty optional cell is 0 and ok=false.
func (t *table) number(name string, required bool) (v float64, ok bool, err error) {
	s, err := t.get(name)
	if err != nil {
		return 0, false, err
	}
	if s == "" {
		if required {
			return 0, false, invalid(t.line, "%s is empty", name)
		}
		return 0, false, nil
	}
	f, perr := strconv.ParseFloat(s, 64)
	if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, invalid(t.line, "%s %q: want a finite number", name, clip(s))
	}
	return f, true, nil
}

// integer is an int64 cell; an empty optional cell is 0 and ok=false.
func (t *table) integer(name string, required bool) (v int64, ok bool, err error) {
	s, err := t.get(name)
	if err != nil {
		return 0, false, err
	}
	if s == "" {
		if required {
			return 0, false, invalid(t.line, "%s is empty", name)
		}
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, false, invalid(t.line, "%s %q: want an integer", name, clip(s))
	}
	return n, true, nil
}

// timestamp is a required ts cell.
func (t *table) timestamp(name string) (time.Time, error) {
	s, err := t.text(name)
	if err != nil {
		return time.Time{}, err
	}
	ts, ok := ParseTime(s)
	if !ok {
		return time.Time{}, invalid(t.line, "%s %q: want seconds since the epoch (1700000000.25) or RFC 3339 (2023-11-14T22:13:20.25Z)", name, clip(s))
	}
	return ts, nil
}

// maxEpochSeconds keeps times representable as unix nanoseconds (year 2262).
const maxEpochSeconds = math.MaxInt64/int64(time.Second) - 1

// ParseTime parses a timestamp as S.csv and T.csv write it: seconds since
// the epoch as a decimal (exact to the nanosecond; an exponent is accepted
// too) or RFC 3339. Times before 1970 or after 2262 are refused. The result
// is in UTC.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "Tt:") {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, false
		}
		if u := ts.Unix(); u < 0 || u > maxEpochSeconds {
			return time.Time{}, false
		}
		return ts.UTC(), true
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= 0 && f <= float64(maxEpochSeconds)) {
			return time.Time{}, false
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
	}
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimPrefix(intPart, "+")
	if intPart == "" && frac == "" {
		return time.Time{}, false
	}
	var sec int64
	if intPart != "" {
		if !digits(intPart) {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || n > maxEpochSeconds {
			return time.Time{}, false
		}
		sec = n
	}
	var ns int64
	if frac != "" {
		if !digits(frac) {
			return time.Time{}, false
		}
		for i := range 9 {
			ns *= 10
			if i < len(frac) {
				ns += int64(frac[i] - '0')
			}
		}
	}
	return time.Unix(sec, ns).UTC(), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FormatTime writes t as seconds since the epoch with millisecond
// precision, the form P.csv uses.
func FormatTime(t time.Time) string {
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000)
}

// gatewayColumns is G.csv's header.
var gatewayColumns = []column{
	{"gateway_id", true}, {"floor", true}, {"x", true}, {"y", true}, {"z", true},
	{"rssi_at_1m", false}, {"path_loss_exponent", false}, {"rx_offset", false}, {"anchor_zone", false},
}

// ReadGateways reads G.csv. Gateway IDs must be unique. Errors are
// *wardwatch.Error (EINVALID) naming the line.
func ReadGateways(r io.Reader) ([]Gateway, error) {
	seen := make(map[string]int)
	return readRows(r, gatewayColumns, func(t *table) (Gateway, error) {
		var g Gateway
		var errs [9]error
		g.ID, errs[0] = t.text("gateway_id")
		g.Floor, _, errs[1] = t.integer("floor", true)
		g.X, _, errs[2] = t.number("x", true)
		g.Y, _, errs[3] = t.number("y", true)
		g.Z, _, errs[4] = t.number("z", true)
		g.RSSIAt1m, _, errs[5] = t.number("rssi_at_1m", false)
		g.PathLossExponent, _, errs[6] = t.number("path_loss_exponent", false)
		g.RxOffset, _, errs[7] = t.number("rx_offset", false)
		g.AnchorZone, errs[8] = t.get("anchor_zone")
		if err := firstError(errs[:]); err != nil {
			return g, err
		}
		if g.PathLossExponent < 0 {
			return g, invalid(t.line, "path_loss_exponent %g: must not be negative", g.PathLossExponent)
		}
		if prev, dup := seen[g.ID]; dup {
			return g, invalid(t.line, "gateway_id %q already on line %d", clip(g.ID), prev)
		}
		seen[g.ID] = t.line
		return g, nil
	})
}

// readRows reads a CSV table with the given columns, turning each row into
// a T with parse; the first error ends it.
func readRows[T any](r io.Reader, cols []column, parse func(*table) (T, error)) ([]T, error) {
	t, err := newTable(r, cols)
	if err != nil {
		return nil, err
	}
	var out []T
	for {
		ok, err := t.next()
		if err != nil || !ok {
			return out, err
		}
		v, err := parse(t)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// sightingColumns is S.csv's header.
var sightingColumns = []column{
	{"ts", true}, {"gateway_id", true}, {"tag_id", true}, {"rssi", true}, {"tx_power", false},
}

// ReadSightings reads S.csv, in file order (Run sorts by time). Errors are
// *wardwatch.Error (EINVALID) naming the line.
func ReadSightings(r io.Reader) ([]Sighting, error) {
	return readRows(r, sightingColumns, func(t *table) (Sighting, error) {
		var s Sighting
		var errs [5]error
		s.Time, errs[0] = t.timestamp("ts")
		s.GatewayID, errs[1] = t.text("gateway_id")
		s.TagID, errs[2] = t.text("tag_id")
		s.RSSI, _, errs[3] = t.number("rssi", true)
		s.TxPower, _, errs[4] = t.number("tx_power", false)
		return s, firstError(errs[:])
	})
}

// truthColumns is T.csv's header.
var truthColumns = []column{
	{"ts", true}, {"tag_id", true}, {"x", true}, {"y", true}, {"floor", false},
}

// ReadTruth reads T.csv, in file order. Errors are *wardwatch.Error
// (EINVALID) naming the line.
func ReadTruth(r io.Reader) ([]Truth, error) {
	return readRows(r, truthColumns, func(t *table) (Truth, error) {
		var p Truth
		var errs [5]error
		p.Time, errs[0] = t.timestamp("ts")
		p.TagID, errs[1] = t.text("tag_id")
		p.X, _, errs[2] = t.number("x", true)
		p.Y, _, errs[3] = t.number("y", true)
		p.Floor, p.HasFloor, errs[4] = t.integer("floor", false)
		return p, firstError(errs[:])
	})
}

// EstimateWriter writes P.csv.
type EstimateWriter struct {
	w      *csv.Writer
	header bool
}

// NewEstimateWriter returns a writer of P.csv rows to w; the header is
// written with the first row (or by Flush when there is none).
func NewEstimateWriter(w io.Writer) *EstimateWriter {
	return &EstimateWriter{w: csv.NewWriter(w)}
}

// EstimateHeader is P.csv's header line.
var EstimateHeader = []string{"ts", "tag_id", "floor", "x", "y", "zone", "confidence", "solver"}

// Write writes one row.
func (ew *EstimateWriter) Write(e Estimate) error {
	if !ew.header {
		ew.header = true
		if err := ew.w.Write(EstimateHeader); err != nil {
			return fmt.Errorf("write estimates: %w", err)
		}
	}
	err := ew.w.Write([]string{
		FormatTime(e.Time),
		e.TagID,
		strconv.FormatInt(e.Floor, 10),
		strconv.FormatFloat(e.X, 'f', 3, 64),
		strconv.FormatFloat(e.Y, 'f', 3, 64),
		e.Zone,
		strconv.FormatFloat(e.Confidence, 'f', 3, 64),
		e.Solver,
	})
	if err != nil {
		return fmt.Errorf("write estimates: %w", err)
	}
	return nil
}

// Flush writes any buffered rows (and the header, if no row was written)
// and reports the first write error.
func (ew *EstimateWriter) Flush() error {
	if !ew.header {
		ew.header = true
		if err := ew.w.Write(EstimateHeader); err != nil {
			return fmt.Errorf("write estimates: %w", err)
		}
	}
	ew.w.Flush()
	if err := ew.w.Error(); err != nil {
		return fmt.Errorf("write estimates: %w", err)
	}
	return nil
}

// invalid is an EINVALID error about a line of input.
func invalid(line int, format string, args ...any) *wardwatch.Error {
	return wardwatch.Errorf(wardwatch.EINVALID, "line %d: %s", line, fmt.Sprintf(format, args...))
}

// csvError turns a CSV syntax error into an EINVALID error with its line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalid(pe.Line, "%v", pe.Err)
	}
	return fmt.Errorf("read csv: %w", err)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WriteGateways writes G.csv, with the calibration and anchor columns only
// when some gateway has them.
func WriteGateways(w io.Writer, gws []Gateway) error {
	cal := slices.ContainsFunc(gws, func(g Gateway) bool {
		return g.RSSIAt1m != 0 || g.PathLossExponent != 0 || g.RxOffset != 0
	})
	anchors := slices.ContainsFunc(gws, func(g Gateway) bool { return g.AnchorZone != "" })
	cw := csv.NewWriter(w)
	head := []string{"gateway_id", "floor", "x", "y", "z"}
	if cal {
		head = append(head, "rssi_at_1m", "path_loss_exponent", "rx_offset")
	}
	if anchors {
		head = append(head, "anchor_zone")
	}
	_ = cw.Write(head)
	for _, g := range gws {
		rec := []string{g.ID, strconv.FormatInt(g.Floor, 10), formatFloat(g.X), formatFloat(g.Y), formatFloat(g.Z)}
		if cal {
			rec = append(rec, formatFloat(g.RSSIAt1m), formatFloat(g.PathLossExponent), formatFloat(g.RxOffset))
		}
		if anchors {
			rec = append(rec, g.AnchorZone)
		}
		_ = cw.Write(rec)
	}
	return flushCSV(cw, "gateways")
}

// WriteSightings writes S.csv with ts in seconds since the epoch (to the
// microsecond), with the tx_power column only when some sighting has one.
func WriteSightings(w io.Writer, ss []Sighting) error {
	tx := slices.ContainsFunc(ss, func(s Sighting) bool { return s.TxPower != 0 })
	cw := csv.NewWriter(w)
	head := []string{"ts", "gateway_id", "tag_id", "rssi"}
	if tx {
		head = append(head, "tx_power")
	}
	_ = cw.Write(head)
	for _, s := range ss {
		rec := []string{formatMicros(s.Time), s.GatewayID, s.TagID, formatFloat(s.RSSI)}
		if tx {
			rec = append(rec, formatFloat(s.TxPower))
		}
		_ = cw.Write(rec)
	}
	return flushCSV(cw, "sightings")
}

// WriteTruth writes T.csv, with the floor column only when some point has
// a floor.
func WriteTruth(w io.Writer, truth []Truth) error {
	floors := slices.ContainsFunc(truth, func(t Truth) bool { return t.HasFloor })
	cw := csv.NewWriter(w)
	head := []string{"ts", "tag_id", "x", "y"}
	if floors {
		head = append(head, "floor")
	}
	_ = cw.Write(head)
	for _, t := range truth {
		rec := []string{formatMicros(t.Time), t.TagID, formatFloat(t.X), formatFloat(t.Y)}
		if floors {
			f := ""
			if t.HasFloor {
				f = strconv.FormatInt(t.Floor, 10)
			}
			rec = append(rec, f)
		}
		_ = cw.Write(rec)
	}
	return flushCSV(cw, "truth")
}

func flushCSV(cw *csv.Writer, what string) error {
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// formatFloat writes v in the shortest form that reads back exactly.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// formatMicros writes t as seconds since the epoch to the microsecond.
func formatMicros(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}
