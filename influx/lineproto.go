package influx

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"strconv"

	"github.com/wardwatch/wardwatch"
)

// Measurements, tags and fields WardWatch writes (docs/TELEMETRY.md).
const (
	measReading  = "reading"
	measPosition = "position"
	measPump     = "pump"
)

// appendTagValue appends tag value (or measurement name) s with the line
// protocol's escapes: comma, equals sign and space. Validation has ruled
// out backslashes and control characters, which it cannot carry.
func appendTagValue(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] != ',' && s[i] != '=' && s[i] != ' '
	}
	if plain {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '=', ' ':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendStringField appends string field value s, quoted, with its double
// quotes and backslashes escaped.
func appendStringField(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendFloat appends float field value v: the shortest representation
// that parses back to v (validation has ruled out NaN and infinities).
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendInt appends integer field value v.
func appendInt(b []byte, v int64) []byte {
	return append(strconv.AppendInt(b, v, 10), 'i')
}

// appendTimestamp appends the point's time in milliseconds (the write
// request says precision=ms) and ends the line.
func appendTimestamp(b []byte, ms int64) []byte {
	b = append(b, ' ')
	b = strconv.AppendInt(b, ms, 10)
	return append(b, '\n')
}

// appendReading appends r as one line:
//
//	reading,metric=<metric>,sensor=<sensor id> value=<float> <ms>
func appendReading(b []byte, r wardwatch.Reading) []byte {
	b = append(b, measReading+",metric="...)
	b = appendTagValue(b, string(r.Metric))
	b = append(b, ",sensor="...)
	b = appendTagValue(b, r.SensorID)
	b = append(b, " value="...)
	b = appendFloat(b, r.Value)
	return appendTimestamp(b, r.Time.UnixMilli())
}

// appendPosition appends p as one line:
//
//	position,asset=<asset id>,tag=<tag id> confidence=<float>,floor=<int>i,solver="…",state="…",x=<m>,y=<m>,zone=<int>i <ms>
func appendPosition(b []byte, p wardwatch.Position) []byte {
	b = append(b, measPosition+",asset="...)
	b = strconv.AppendInt(b, p.AssetID, 10)
	b = append(b, ",tag="...)
	b = appendTagValue(b, p.TagID)
	b = append(b, " confidence="...)
	b = appendFloat(b, p.Confidence)
	b = append(b, ",floor="...)
	b = appendInt(b, p.FloorID)
	b = append(b, ",solver="...)
	b = appendStringField(b, p.Solver)
	b = append(b, ",state="...)
	b = appendStringField(b, string(p.State))
	b = append(b, ",x="...)
	b = appendFloat(b, p.At.X)
	b = append(b, ",y="...)
	b = appendFloat(b, p.At.Y)
	b = append(b, ",zone="...)
	b = appendInt(b, p.ZoneID)
	return appendTimestamp(b, p.Time.UnixMilli())
}

// pumpAlarmJSON is how a pump alarm is kept in the alarms field: the JSON
// the embedded store keeps too.
type pumpAlarmJSON struct {
	Code     string `json:"code"`
	Text     string `json:"text,omitempty"`
	Priority string `json:"priority,omitempty"`
}

// encodePumpAlarms is the alarms field of as: a JSON array, or "" for none.
func encodePumpAlarms(as []wardwatch.PumpAlarm) string {
	if len(as) == 0 {
		return ""
	}
	js := make([]pumpAlarmJSON, len(as))
	for i, a := range as {
		js[i] = pumpAlarmJSON{Code: a.Code, Text: a.Text, Priority: string(a.Priority)}
	}
	b, _ := json.Marshal(js) // strings only: it cannot fail
	return string(b)
}

// decodePumpAlarms reverses encodePumpAlarms.
func decodePumpAlarms(s string) ([]wardwatch.PumpAlarm, error) {
	if s == "" {
		return nil, nil
	}
	var js []pumpAlarmJSON
	if err := json.Unmarshal([]byte(s), &js); err != nil {
		return nil, err
	}
	if len(js) == 0 {
		return nil, nil
	}
	as := make([]wardwatch.PumpAlarm, len(js))
	for i, j := range js {
		as[i] = wardwatch.PumpAlarm{Code: j.Code, Text: j.Text, Priority: wardwatch.Priority(j.Priority)}
	}
	return as, nil
}

// appendPumpState appends s as one line:
//
//	pump,serial=<serial>,target=<target id> alarms="<json>",drug_library="…",drug_library_version="…",firmware="…",model="…",on_ac=<bool>,status="…"[,battery=<%>][,infused=<ml>][,rate=<ml/h>][,vtbi=<ml>] <ms>
//
// A number the pump did not report (NaN) is left out.
func appendPumpState(b []byte, s wardwatch.PumpState) []byte {
	b = append(b, measPump+",serial="...)
	b = appendTagValue(b, s.Serial)
	b = append(b, ",target="...)
	b = strconv.AppendInt(b, s.TargetID, 10)
	b = append(b, " alarms="...)
	b = appendStringField(b, encodePumpAlarms(s.Alarms))
	b = append(b, ",drug_library="...)
	b = appendStringField(b, s.DrugLibrary)
	b = append(b, ",drug_library_version="...)
	b = appendStringField(b, s.DrugLibraryVersion)
	b = append(b, ",firmware="...)
	b = appendStringField(b, s.Firmware)
	b = append(b, ",model="...)
	b = appendStringField(b, s.Model)
	b = append(b, ",on_ac="...)
	b = strconv.AppendBool(b, s.OnAC)
	b = append(b, ",status="...)
	b = appendStringField(b, string(s.Status))
	for _, f := range []struct {
		name string
		v    float64
	}{{"battery", s.Battery}, {"infused", s.Infused}, {"rate", s.Rate}, {"vtbi", s.VTBI}} {
		if f.v == f.v { // not NaN
			b = append(b, ',')
			b = append(b, f.name...)
			b = append(b, '=')
			b = appendFloat(b, f.v)
		}
	}
	return appendTimestamp(b, s.Time.UnixMilli())
}

// Spool records. A record is a header followed by a payload of complete
// line-protocol lines:
//
//	[0:4]  payload length, little endian
//	[4:8]  number of lines (points)
//	[8:12] CRC-32C of bytes [0:8] and the payload
const (
	recordHeaderLen = 12
	// recordCutBytes ends a record once its payload reaches it.
	recordCutBytes = 1 << 20
	// maxRecordBytes bounds a record's payload: a longer length in a
	// header is corruption.
	maxRecordBytes = 4 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// recordEncoder builds spool records in one buffer, with room left for
// each record's header, cutting a record after maxLines lines or
// recordCutBytes bytes.
type recordEncoder struct {
	buf      []byte
	maxLines int
	start    int // offset of the open record's header, -1 when none is open
	lines    int // lines in the open record
	points   int // lines in all records
}

func newRecordEncoder(maxLines int) *recordEncoder {
	return &recordEncoder{maxLines: maxLines, start: -1}
}

// reset empties e for reuse, keeping its buffer, with room for about n
// more lines.
func (e *recordEncoder) reset(maxLines, n int) {
	e.buf, e.maxLines, e.start, e.lines, e.points = e.buf[:0], maxLines, -1, 0, 0
	if want := n * 96; cap(e.buf) < want {
		e.buf = make([]byte, 0, want)
	}
}

// begin opens a record if none is open; call it before appending a line.
func (e *recordEncoder) begin() {
	if e.start < 0 {
		e.start = len(e.buf)
		e.buf = append(e.buf, make([]byte, recordHeaderLen)...)
		e.lines = 0
	}
}

// endLine counts the line just appended to e.buf and closes the record when
// it is full.
func (e *recordEncoder) endLine() {
	e.lines++
	e.points++
	if e.lines >= e.maxLines || len(e.buf)-e.start-recordHeaderLen >= recordCutBytes {
		e.close()
	}
}

// close closes the open record, if any, writing its header.
func (e *recordEncoder) close() {
	if e.start < 0 {
		return
	}
	putRecordHeader(e.buf[e.start:], e.lines)
	e.start = -1
}

// bytes closes the open record and returns every record.
func (e *recordEncoder) bytes() []byte {
	e.close()
	return e.buf
}

// putRecordHeader fills the header at rec[0:12] for the payload after it.
func putRecordHeader(rec []byte, lines int) {
	payload := rec[recordHeaderLen:]
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:8], uint32(lines))
	binary.LittleEndian.PutUint32(rec[8:12], recordCRC(rec[0:8], payload))
}

// recordCRC is the checksum of a record's first 8 header bytes and payload.
func recordCRC(head, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(head, crcTable), crcTable, payload)
}
