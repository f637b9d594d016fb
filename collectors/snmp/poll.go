package snmp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// reader is what a poll needs of an SNMP session. *gosnmp.GoSNMP
// implements it. It has no Set: WardWatch only ever reads from medical
// equipment.
type reader interface {
	Get(oids []string) (*gosnmp.SnmpPacket, error)
	GetNext(oids []string) (*gosnmp.SnmpPacket, error)
	GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error)
}

// Limits on one poll, against agents whose walks never end.
const (
	maxRequestsPerPoll = 2000
	maxCellsPerPoll    = 200000
	maxRowsPerTable    = 10000
	maxIssuesPerPoll   = 20
	maxReadsPerTest    = 400
)

// binding is one profile field bound to the OID a poll reads.
type binding struct {
	spec  fieldSpec
	field *Field
	oid   string // with the leading dot, as gosnmp names varbinds
}

// plan is a profile compiled for polling.
type plan struct {
	profile   Profile
	scalars   []binding // read with GET
	columns   []binding // pump table columns, walked
	alarmCols []binding // alarm table columns, walked
}

var alarmBitsSpec = fieldSpec{name: "alarm_bits", kind: kindBits}

// compile validates p and sorts its fields into scalars and columns.
func compile(p Profile) (*plan, error) {
	p = p.clone()
	if err := p.normalize(); err != nil {
		return nil, err
	}
	pl := &plan{profile: p}
	add := func(spec fieldSpec, f *Field) {
		b := binding{spec: spec, field: f, oid: dotted(f.OID)}
		if p.Table != "" && underOID(f.OID, p.Table) {
			pl.columns = append(pl.columns, b)
		} else {
			pl.scalars = append(pl.scalars, b)
		}
	}
	for _, spec := range pumpFields {
		if f := spec.get(&p); f != nil {
			add(spec, f)
		}
	}
	if p.AlarmBits != nil {
		add(alarmBitsSpec, &Field{OID: p.AlarmBits.OID})
	}
	if p.AlarmTable != nil {
		for _, spec := range alarmFields {
			if f := spec.get(&p); f != nil {
				pl.alarmCols = append(pl.alarmCols, binding{spec: spec, field: f, oid: dotted(f.OID)})
			}
		}
	}
	return pl, nil
}

// FieldRead is what reading one profile field returned: the raw varbind
// and what WardWatch made of it, or why it could not.
type FieldRead struct {
	Field string // profile field: "status", "alarm_table.code"…
	OID   string // the instance read
	Row   string // table row index; "" for a scalar
	Raw   string // the value as the agent sent it: `INTEGER 2`, `STRING "RUN"`, `noSuchObject`
	Value string // the value WardWatch read: "infusing", "123.4"
	Error string // why the value could not be read; "" when it could
}

// outcome is what one poll read.
type outcome struct {
	pumps    []wardwatch.PumpState
	issues   []string    // field problems that did not fail the poll
	reads    []FieldRead // with detail only
	requests int
}

// poller runs one poll over a session.
type poller struct {
	r        reader
	diagnose func(error) v3Hint // nil: no diagnosis
	answered int                // requests the agent answered
	s        *settings
	pl       *plan
	detail   bool
	budget   int
	requests int
	out      outcome
}

// poll reads every pump the profile describes from r; the pumps are
// stamped with now() taken once everything is read.
func poll(r reader, diagnose func(error) v3Hint, s *settings, pl *plan, now func() time.Time, detail bool) (outcome, error) {
	p := &poller{r: r, diagnose: diagnose, s: s, pl: pl, detail: detail, budget: maxRequestsPerPoll}
	err := p.run(now)
	p.out.requests = p.requests
	return p.out, err
}

func (p *poller) run(now func() time.Time) error {
	scalars := map[string]gosnmp.SnmpPDU{}
	if len(p.pl.scalars) > 0 {
		oids := make([]string, len(p.pl.scalars))
		for i, b := range p.pl.scalars {
			oids[i] = b.oid
		}
		var err error
		if scalars, err = p.getScalars(oids); err != nil {
			return err
		}
	}
	var cells map[string][]cell
	if cols := len(p.pl.columns) + len(p.pl.alarmCols); cols > 0 {
		oids := make([]string, 0, cols)
		for _, b := range p.pl.columns {
			oids = append(oids, b.oid)
		}
		for _, b := range p.pl.alarmCols {
			oids = append(oids, b.oid)
		}
		var err error
		if cells, err = p.walkColumns(oids); err != nil {
			return err
		}
	}
	return p.assemble(now().UTC(), scalars, cells)
}

// newState is a pump state with nothing read yet.
func newState(now time.Time, targetID int64) wardwatch.PumpState {
	nan := math.NaN()
	return wardwatch.PumpState{
		Time: now, TargetID: targetID, Status: wardwatch.PumpUnknown,
		Battery: nan, Rate: nan, VTBI: nan, Infused: nan,
	}
}

// assemble turns the values read into pump states.
func (p *poller) assemble(now time.Time, scalars map[string]gosnmp.SnmpPDU, cells map[string][]cell) error {
	prof := &p.pl.profile
	if !prof.IsTable() {
		st := newState(now, p.s.ID)
		for _, b := range p.pl.scalars {
			pdu, ok := scalars[b.oid]
			if !ok {
				pdu = gosnmp.SnmpPDU{Name: b.oid, Type: gosnmp.NoSuchObject}
			}
			if err := p.apply(&st, b, pdu, b.oid, ""); err != nil {
				return err
			}
		}
		st.Alarms = append(st.Alarms, p.alarmRows(cells)[""]...)
		if st.Serial == "" {
			return p.noSerial(scalars[dotted(prof.Serial.OID)])
		}
		p.out.pumps = []wardwatch.PumpState{st}
		return nil
	}

	// One pump per row index found in any pump column.
	var rows []string
	seen := map[string]bool{}
	for _, b := range p.pl.columns {
		for _, c := range cells[b.oid] {
			if !seen[c.index] {
				seen[c.index] = true
				rows = append(rows, c.index)
			}
		}
	}
	slices.SortFunc(rows, compareOID)
	if len(rows) > maxRowsPerTable {
		return agentError(p.s, "the table %s has more than %d rows", prof.Table, maxRowsPerTable)
	}
	byRow := make(map[string]*wardwatch.PumpState, len(rows))
	states := make([]wardwatch.PumpState, len(rows))
	for i, row := range rows {
		states[i] = newState(now, p.s.ID)
		byRow[row] = &states[i]
	}
	for _, b := range p.pl.columns {
		col := cells[b.oid]
		if len(col) == 0 && len(rows) > 0 {
			p.issue("profile %s: column %s (%s) not supported by the agent: it has no values", prof.Name, b.field.OID, b.spec.name)
			if p.detail {
				p.read(FieldRead{Field: b.spec.name, OID: b.field.OID, Error: "no values in any row: not supported by the agent"})
			}
		}
		for _, c := range col {
			if err := p.apply(byRow[c.index], b, c.pdu, c.pdu.Name, c.index); err != nil {
				return err
			}
		}
	}
	for _, b := range p.pl.scalars {
		pdu, ok := scalars[b.oid]
		if !ok {
			pdu = gosnmp.SnmpPDU{Name: b.oid, Type: gosnmp.NoSuchObject}
		}
		for i := range states {
			detail := p.detail
			p.detail = detail && i == 0 // show a shared scalar once
			err := p.apply(&states[i], b, pdu, b.oid, "")
			p.detail = detail
			if err != nil {
				return err
			}
		}
	}
	alarms := p.alarmRows(cells)
	for key, list := range alarms {
		if st, ok := byRow[key]; ok {
			st.Alarms = append(st.Alarms, list...)
		} else {
			p.issue("profile %s: %d alarm(s) in the alarm table for pump row %q, which the pump table does not have", prof.Name, len(list), key)
		}
	}
	serials := map[string]string{}
	p.out.pumps = make([]wardwatch.PumpState, 0, len(states))
	for i, st := range states {
		switch prev, dup := serials[st.Serial]; {
		case st.Serial == "":
			p.issue("profile %s: pump row %s has no serial number; skipped", prof.Name, rows[i])
		case dup:
			p.issue("profile %s: pump rows %s and %s have the same serial number %q; row %s skipped", prof.Name, prev, rows[i], st.Serial, rows[i])
		default:
			serials[st.Serial] = rows[i]
			p.out.pumps = append(p.out.pumps, st)
		}
	}
	return nil
}

// noSerial is the error for a single pump whose serial number could not
// be read (pdu is what the agent answered): without it the pump cannot be
// identified.
func (p *poller) noSerial(pdu gosnmp.SnmpPDU) error {
	prof := &p.pl.profile
	if pdu.Name == "" || exception(pdu) {
		return &wardwatch.Error{
			Code:    wardwatch.EINVALID,
			Message: fmt.Sprintf("Profile %s: OID %s (serial) not supported by the agent at %s: check that the profile matches the device.", prof.Name, prof.Serial.OID, p.s.endpoint),
			Err:     ErrUnsupported,
		}
	}
	return &wardwatch.Error{
		Code:    wardwatch.EINVALID,
		Message: fmt.Sprintf("Profile %s: OID %s (serial) at %s holds no serial number (%s).", prof.Name, prof.Serial.OID, p.s.endpoint, formatRaw(pdu)),
		Err:     ErrAgent,
	}
}

// alarmRows reads the alarm table's rows and groups them by pump: the key
// is the pump's row index (the alarm index without its last arc), "" for
// a single pump.
func (p *poller) alarmRows(cells map[string][]cell) map[string][]wardwatch.PumpAlarm {
	if len(p.pl.alarmCols) == 0 {
		return nil
	}
	type alarmRow struct {
		index string
		alarm wardwatch.PumpAlarm
	}
	var order []string
	rows := map[string]*alarmRow{}
	for _, b := range p.pl.alarmCols {
		for _, c := range cells[b.oid] {
			r, ok := rows[c.index]
			if !ok {
				r = &alarmRow{index: c.index, alarm: wardwatch.PumpAlarm{Priority: wardwatch.PriorityHigh}}
				rows[c.index] = r
				order = append(order, c.index)
			}
			value, err := p.readAlarmField(&r.alarm, b, c.pdu)
			p.record(b, c.pdu, c.pdu.Name, c.index, value, err)
		}
	}
	slices.SortFunc(order, compareOID)
	out := map[string][]wardwatch.PumpAlarm{}
	for _, idx := range order {
		r := rows[idx]
		if r.alarm.Code == "" {
			r.alarm.Code = "unknown"
		}
		key := ""
		if p.pl.profile.IsTable() {
			key = parentIndex(idx)
		}
		out[key] = append(out[key], r.alarm)
	}
	return out
}

// readAlarmField reads one alarm table column into a.
func (p *poller) readAlarmField(a *wardwatch.PumpAlarm, b binding, pdu gosnmp.SnmpPDU) (string, error) {
	switch b.spec.kind {
	case kindPriority:
		pr, err := readPriority(pdu, b.field)
		a.Priority = pr
		return string(pr), err
	default:
		s, err := readString(pdu)
		if err != nil {
			return "", err
		}
		if b.spec.name == "alarm_table.code" {
			a.Code = s
		} else {
			a.Text = s
		}
		return s, nil
	}
}

// apply reads one field's value into st. Problems with optional fields
// become issues; only an unsupported serial fails the poll.
func (p *poller) apply(st *wardwatch.PumpState, b binding, pdu gosnmp.SnmpPDU, oid, row string) error {
	value, err := p.read1(st, b, pdu)
	p.record(b, pdu, oid, row, value, err)
	if err != nil && b.spec.name == "serial" && row == "" && errors.Is(err, errNotSupported) {
		return p.noSerial(pdu)
	}
	return nil
}

// read1 converts one varbind into st's field and returns the value read.
func (p *poller) read1(st *wardwatch.PumpState, b binding, pdu gosnmp.SnmpPDU) (string, error) {
	switch b.spec.kind {
	case kindNumber:
		v, err := readNumber(pdu, b.field.Scale)
		switch b.spec.name {
		case "battery":
			st.Battery = v
		case "rate":
			st.Rate = v
		case "vtbi":
			st.VTBI = v
		case "infused":
			st.Infused = v
		}
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case kindStatus:
		v, err := readStatus(pdu, b.field)
		st.Status = v
		return string(v), err
	case kindBool:
		v, err := readBool(pdu, b.field)
		st.OnAC = v
		if err != nil {
			return "", err
		}
		return strconv.FormatBool(v), nil
	case kindBits:
		alarms, err := readAlarmBits(pdu, p.pl.profile.AlarmBits)
		if err != nil {
			return "", err
		}
		st.Alarms = append(st.Alarms, alarms...)
		codes := make([]string, len(alarms))
		for i, a := range alarms {
			codes[i] = a.Code
		}
		return fmt.Sprintf("%v", codes), nil
	default:
		v, err := readString(pdu)
		if err != nil {
			return "", err
		}
		switch b.spec.name {
		case "serial":
			st.Serial = v
		case "model":
			st.Model = v
		case "firmware":
			st.Firmware = v
		case "drug_library":
			st.DrugLibrary = v
		case "drug_library_version":
			st.DrugLibraryVersion = v
		}
		return v, nil
	}
}

// record notes a field read: as a FieldRead with detail, and as an issue
// when it failed.
func (p *poller) record(b binding, pdu gosnmp.SnmpPDU, oid, row, value string, err error) {
	if err != nil {
		prof := p.pl.profile.Name
		where := "OID " + b.field.OID
		if row != "" {
			where += " row " + row
		}
		if errors.Is(err, errNotSupported) {
			if row == "" { // a missing cell in a table is normal
				p.issue("profile %s: %s (%s) not supported by the agent", prof, where, b.spec.name)
			}
		} else {
			p.issue("profile %s: %s at %s: %v", prof, b.spec.name, where, err)
		}
	}
	if !p.detail {
		return
	}
	r := FieldRead{Field: b.spec.name, OID: trimDot(oid), Row: row, Raw: formatRaw(pdu), Value: value}
	if err != nil {
		r.Error = err.Error()
	}
	p.read(r)
}

func (p *poller) read(r FieldRead) {
	if len(p.out.reads) < maxReadsPerTest {
		p.out.reads = append(p.out.reads, r)
	}
}

func (p *poller) issue(format string, args ...any) {
	if len(p.out.issues) < maxIssuesPerPoll {
		p.out.issues = append(p.out.issues, fmt.Sprintf(format, args...))
	}
}

func trimDot(oid string) string {
	if len(oid) > 0 && oid[0] == '.' {
		return oid[1:]
	}
	return oid
}

// explain explains a failed request; when it was the poll's first, it may
// diagnose an SNMPv3 refusal further.
func (p *poller) explain(err error) error {
	hint := hintNone
	if p.diagnose != nil && p.answered == 0 {
		hint = p.diagnose(err)
	}
	return explain(p.s, err, hint)
}

// spend counts one request against the poll's budget.
func (p *poller) spend() error {
	if p.requests >= p.budget {
		return agentError(p.s, "a poll needed more than %d requests; the agent may be looping", p.budget)
	}
	p.requests++
	return nil
}

// getScalars GETs oids in batches of at most MaxOIDsPerRequest. A batch
// the agent finds too big (tooBig) is split in two and retried; a v1
// agent's noSuchName drops that OID and retries the rest. OIDs the agent
// does not serve come back as noSuchObject varbinds.
func (p *poller) getScalars(oids []string) (map[string]gosnmp.SnmpPDU, error) {
	out := make(map[string]gosnmp.SnmpPDU, len(oids))
	var queue [][]string
	for rest := oids; len(rest) > 0; {
		n := min(len(rest), p.s.MaxOIDsPerRequest)
		queue = append(queue, rest[:n:n])
		rest = rest[n:]
	}
	for len(queue) > 0 {
		batch := queue[0]
		queue = queue[1:]
		if err := p.spend(); err != nil {
			return nil, err
		}
		resp, err := p.r.Get(batch)
		if err != nil {
			return nil, p.explain(err)
		}
		p.answered++
		switch resp.Error {
		case gosnmp.NoError:
			if len(resp.Variables) != len(batch) {
				return nil, agentError(p.s, "asked for %d values, got %d", len(batch), len(resp.Variables))
			}
			for i, v := range resp.Variables {
				if compareOID(v.Name, batch[i]) != 0 {
					return nil, agentError(p.s, "asked for %s, got %s", trimDot(batch[i]), trimDot(v.Name))
				}
				out[batch[i]] = v
			}
		case gosnmp.TooBig:
			if len(batch) == 1 {
				return nil, agentError(p.s, "the value of %s does not fit in an SNMP message (tooBig)", trimDot(batch[0]))
			}
			half := len(batch) / 2
			queue = append([][]string{batch[:half:half], batch[half:]}, queue...)
		case gosnmp.NoSuchName:
			i := int(resp.ErrorIndex) - 1
			if i < 0 || i >= len(batch) {
				return nil, agentError(p.s, "answered noSuchName without saying for which OID")
			}
			out[batch[i]] = gosnmp.SnmpPDU{Name: batch[i], Type: gosnmp.NoSuchObject}
			if rest := slices.Delete(slices.Clone(batch), i, i+1); len(rest) > 0 {
				queue = append([][]string{rest}, queue...)
			}
		default:
			return nil, agentError(p.s, "answered %v to a GET of %s", resp.Error, trimDot(batch[0]))
		}
	}
	return out, nil
}

// cell is one value of a table column.
type cell struct {
	index string // the row index: the OID's arcs after the column's
	pdu   gosnmp.SnmpPDU
}

// column is one column's walk in progress.
type column struct {
	oid  string // with the leading dot
	cur  string // the last OID returned for it
	done bool
}

// walkColumns walks the columns (OIDs with a leading dot) side by side:
// each GETBULK (GETNEXT for v1) carries the current position of up to
// MaxOIDsPerRequest columns, the way snmptable reads a table. A column ends
// when the agent answers an OID outside it or endOfMibView. A tooBig
// answer halves max-repetitions, then the columns per request.
func (p *poller) walkColumns(oids []string) (map[string][]cell, error) {
	cols := make([]*column, len(oids))
	for i, oid := range oids {
		cols[i] = &column{oid: oid, cur: oid}
	}
	out := make(map[string][]cell, len(oids))
	per := p.s.MaxOIDsPerRequest
	reps := p.s.MaxRepetitions
	v1 := p.s.version == gosnmp.Version1
	total := 0
	var batch []*column
	names := make([]string, 0, per)
	for {
		batch = batch[:0]
		for _, c := range cols {
			if !c.done && len(batch) < per {
				batch = append(batch, c)
			}
		}
		if len(batch) == 0 {
			return out, nil
		}
		names = names[:0]
		for _, c := range batch {
			names = append(names, c.cur)
		}
		if err := p.spend(); err != nil {
			return nil, err
		}
		var resp *gosnmp.SnmpPacket
		var err error
		if v1 {
			resp, err = p.r.GetNext(names)
		} else {
			resp, err = p.r.GetBulk(names, 0, reps)
		}
		if err != nil {
			return nil, p.explain(err)
		}
		p.answered++
		switch resp.Error {
		case gosnmp.NoError:
		case gosnmp.TooBig:
			switch {
			case reps > 1 && !v1:
				reps /= 2
			case len(batch) > 1:
				per = len(batch) / 2
			default:
				return nil, agentError(p.s, "the next value of %s does not fit in an SNMP message (tooBig)", trimDot(batch[0].cur))
			}
			continue
		case gosnmp.NoSuchName: // v1: past the end of the MIB
			i := int(resp.ErrorIndex) - 1
			if i < 0 || i >= len(batch) {
				return nil, agentError(p.s, "answered noSuchName without saying for which OID")
			}
			batch[i].done = true
			continue
		default:
			return nil, agentError(p.s, "answered %v while walking %s", resp.Error, trimDot(batch[0].oid))
		}
		if len(resp.Variables) == 0 {
			for _, c := range batch { // nothing more to read; do not ask again
				c.done = true
			}
			continue
		}
		n := len(batch)
		ended := make([]bool, n)
		for i, v := range resp.Variables {
			k := i % n
			c := batch[k]
			if ended[k] || c.done {
				continue
			}
			if v.Type == gosnmp.EndOfMibView || v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance || !underOID(v.Name, c.oid) {
				c.done, ended[k] = true, true
				continue
			}
			if compareOID(v.Name, c.cur) <= 0 {
				return nil, agentError(p.s, "returned %s after %s: OIDs must increase", trimDot(v.Name), trimDot(c.cur))
			}
			if total++; total > maxCellsPerPoll {
				return nil, agentError(p.s, "the tables hold more than %d values", maxCellsPerPoll)
			}
			out[c.oid] = append(out[c.oid], cell{index: v.Name[len(c.oid)+1:], pdu: v})
			c.cur = v.Name
		}
	}
}
