package alerts

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// BenchmarkObserve measures the Evaluator on a hospital's worth of cold
// chain: 500 units (vaccine fridges) with one probe each reporting every
// minute, values wandering across the high limit so rules raise and clear.
// The figure that matters is readings per second.
func BenchmarkObserve(b *testing.B) {
	const units = 500
	cfg := Config{}
	for i := 1; i <= units; i++ {
		cfg.Units = append(cfg.Units, Unit{ID: int64(i), Name: fmt.Sprintf("Fridge %d", i), Profile: wardwatch.ProfileVaccineFridge})
		cfg.Sensors = append(cfg.Sensors, Sensor{ID: fmt.Sprintf("s%d", i), UnitID: int64(i), Interval: time.Minute})
	}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, units)
	for i := range ids {
		ids[i] = cfg.Sensors[i].ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		minute := n / units
		r := wardwatch.Reading{Time: at(time.Duration(minute) * time.Minute), SensorID: ids[n%units],
			Metric: wardwatch.MetricTemperature, Value: 5 + 4*math.Sin(float64(minute)/40)}
		if _, err := e.Observe(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkTick measures one Tick over 500 units' sensors.
func BenchmarkTick(b *testing.B) {
	cfg := Config{}
	for i := 1; i <= 500; i++ {
		cfg.Units = append(cfg.Units, Unit{ID: int64(i), Profile: wardwatch.ProfileVaccineFridge})
		cfg.Sensors = append(cfg.Sensors, Sensor{ID: fmt.Sprintf("s%d", i), UnitID: int64(i), Interval: time.Minute,
			CalibrationDue: at(365 * 24 * time.Hour)})
	}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		e.Tick(at(time.Duration(n%20) * time.Second))
	}
}

// BenchmarkBookApply measures applying raise and clear changes to a Book
// holding 1000 open alerts.
func BenchmarkBookApply(b *testing.B) {
	book := openBook(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		c := change(ChangeRaise, doorRule, time.Duration(n)*time.Second, 1)
		c.Key.Subject.ID = fmt.Sprintf("d%d", n%100)
		if n%2 == 1 {
			c.Type = ChangeClear
		}
		if _, _, err := book.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDue measures one escalation pass over 1000 open, escalating
// alerts when nothing is due (the cost of every tick).
func BenchmarkDue(b *testing.B) {
	book := openBook(b, 1000)
	book.Due(t0) // first tier of everything
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		book.Due(at(time.Minute))
	}
}

func openBook(b *testing.B, n int) *Book {
	book, err := NewBook(BookConfig{}, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c := change(ChangeRaise, tempRule, 0, 9)
		c.Key.Subject.ID = fmt.Sprintf("s%d", i)
		if _, _, err := book.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	return book
}

// BenchmarkMKTYear measures the annual MKT of a year of one-minute
// readings (525 600).
func BenchmarkMKTYear(b *testing.B) {
	rs := make([]wardwatch.Reading, 0, 525600)
	for i := 0; i < 525600; i++ {
		rs = append(rs, wardwatch.Reading{Time: at(time.Duration(i) * time.Minute), SensorID: "crt",
			Metric: wardwatch.MetricTemperature, Value: 22 + 3*math.Sin(float64(i)/1440)})
	}
	end := at(525600 * time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := MKTOver(rs, end.AddDate(-1, 0, 0), end, 5*time.Minute, 0); err != nil {
			b.Fatal(err)
		}
	}
}
