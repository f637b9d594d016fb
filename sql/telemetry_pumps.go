package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// DefaultPumpStateLimit is how many states Telemetry.PumpStates returns at
// most when the query sets no limit.
const DefaultPumpStateLimit = 10000

// pumpAlarmJSON is how a pump alarm is stored: the JSON the InfluxDB store
// writes too.
type pumpAlarmJSON struct {
	Code     string `json:"code"`
	Text     string `json:"text,omitempty"`
	Priority string `json:"priority,omitempty"`
}

// encodePumpAlarms is the stored form of as: a JSON array, or "" for none.
func encodePumpAlarms(as []wardwatch.PumpAlarm) (string, error) {
	if len(as) == 0 {
		return "", nil
	}
	js := make([]pumpAlarmJSON, len(as))
	for i, a := range as {
		js[i] = pumpAlarmJSON{Code: a.Code, Text: a.Text, Priority: string(a.Priority)}
	}
	b, err := json.Marshal(js)
	return string(b), err
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

// nullFloat is v for a nullable REAL column: NULL when v is NaN (not
// reported).
func nullFloat(v float64) dbsql.NullFloat64 {
	return dbsql.NullFloat64{Float64: v, Valid: !math.IsNaN(v)}
}

// floatOrNaN reverses nullFloat.
func floatOrNaN(v dbsql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

// WritePumpStates stores ps, keeping times to the millisecond. A state whose
// serial, target and millisecond are stored already is updated field by
// field, as InfluxDB merges a point's fields: a number the new state lacks
// (NaN) keeps its stored value. States that are invalid (no serial, an
// unknown status, an infinite number, a string too long…) are left out and
// reported in an EINVALID error; the others are stored in one transaction.
func (t *Telemetry) WritePumpStates(ctx context.Context, ps []wardwatch.PumpState) error {
	var bad rejections
	good := make([]wardwatch.PumpState, 0, len(ps))
	for i, p := range ps {
		if reason, detail := checkPumpState(p); !bad.add("pump state", i, reason, detail) {
			good = append(good, p)
		}
	}
	t.countRejected("pump_state", bad)
	if len(good) > 0 {
		if err := t.writePumpStates(ctx, good); err != nil {
			return err
		}
	}
	return bad.err(len(ps))
}

func (t *Telemetry) writePumpStates(ctx context.Context, ps []wardwatch.PumpState) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write pump states: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO pump_states (serial, ts, target_id, model, status, on_ac, battery, rate, vtbi, infused,
			alarms, firmware, drug_library, drug_library_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (serial, ts, target_id) DO UPDATE SET
			model = excluded.model, status = excluded.status, on_ac = excluded.on_ac,
			battery = COALESCE(excluded.battery, battery), rate = COALESCE(excluded.rate, rate),
			vtbi = COALESCE(excluded.vtbi, vtbi), infused = COALESCE(excluded.infused, infused),
			alarms = excluded.alarms, firmware = excluded.firmware,
			drug_library = excluded.drug_library, drug_library_version = excluded.drug_library_version`)
	if err != nil {
		return fmt.Errorf("write pump states: %w", err)
	}
	defer stmt.Close()
	for _, p := range ps {
		alarms, err := encodePumpAlarms(p.Alarms)
		if err != nil {
			return fmt.Errorf("write pump states: alarms of %q: %w", p.Serial, err)
		}
		if _, err := stmt.ExecContext(ctx, p.Serial, millis(p.Time), p.TargetID, p.Model, string(p.Status), p.OnAC,
			nullFloat(p.Battery), nullFloat(p.Rate), nullFloat(p.VTBI), nullFloat(p.Infused),
			alarms, p.Firmware, p.DrugLibrary, p.DrugLibraryVersion,
		); err != nil {
			return fmt.Errorf("write pump states: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write pump states: %w", err)
	}
	return nil
}

// PumpStates returns the states of pump q.Serial that q selects, oldest
// first (ties in target order). A zero q.From or q.To leaves that end of the
// range open; a zero q.Limit means DefaultPumpStateLimit. Numbers the pump
// did not report are NaN.
func (t *Telemetry) PumpStates(ctx context.Context, q wardwatch.PumpQuery) ([]wardwatch.PumpState, error) {
	if q.Serial == "" {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "no pump serial given")
	}
	if q.Limit < 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "limit must not be negative, got %d", q.Limit)
	}
	if err := checkRange(q.From, q.To); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultPumpStateLimit
	}
	where, args := []string{"serial = ?"}, []any{q.Serial}
	if !q.From.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, ceilMillis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "ts < ?"), append(args, ceilMillis(q.To))
	}
	rows, err := t.db.QueryContext(ctx,
		`SELECT ts, target_id, model, status, on_ac, battery, rate, vtbi, infused, alarms, firmware, drug_library, drug_library_version
		FROM pump_states WHERE `+strings.Join(where, " AND ")+` ORDER BY ts, target_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("query pump states: %w", err)
	}
	defer rows.Close()
	var ps []wardwatch.PumpState
	for rows.Next() {
		var (
			p                            wardwatch.PumpState
			ts                           int64
			status, alarms               string
			battery, rate, vtbi, infused dbsql.NullFloat64
		)
		if err := rows.Scan(&ts, &p.TargetID, &p.Model, &status, &p.OnAC, &battery, &rate, &vtbi, &infused,
			&alarms, &p.Firmware, &p.DrugLibrary, &p.DrugLibraryVersion); err != nil {
			return nil, fmt.Errorf("query pump states: %w", err)
		}
		p.Serial, p.Time, p.Status = q.Serial, fromMillis(ts), wardwatch.PumpStatus(status)
		p.Battery, p.Rate, p.VTBI, p.Infused = floatOrNaN(battery), floatOrNaN(rate), floatOrNaN(vtbi), floatOrNaN(infused)
		if p.Alarms, err = decodePumpAlarms(alarms); err != nil {
			return nil, fmt.Errorf("query pump states: alarms of %q at %s: %w", q.Serial, p.Time, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query pump states: %w", err)
	}
	return ps, nil
}
