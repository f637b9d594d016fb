package replay

import (
	"encoding/csv"
	"fmt"
	"io"
)

// SightingWriter streams S.csv rows, for recording live sightings in the
// replay format. It always writes the tx_power column (empty when the tag
// does not say). It is not safe for concurrent use.
type SightingWriter struct {
	cw     *csv.Writer
	header bool
}

// NewSightingWriter returns a writer of S.csv to w.
func NewSightingWriter(w io.Writer) *SightingWriter {
	return &SightingWriter{cw: csv.NewWriter(w)}
}

// Write writes one sighting (and the header before the first).
func (sw *SightingWriter) Write(s Sighting) error {
	if !sw.header {
		sw.header = true
		if err := sw.cw.Write([]string{"ts", "gateway_id", "tag_id", "rssi", "tx_power"}); err != nil {
			return fmt.Errorf("write sightings: %w", err)
		}
	}
	tx := ""
	if s.TxPower != 0 {
		tx = formatFloat(s.TxPower)
	}
	if err := sw.cw.Write([]string{formatMicros(s.Time), s.GatewayID, s.TagID, formatFloat(s.RSSI), tx}); err != nil {
		return fmt.Errorf("write sightings: %w", err)
	}
	return nil
}

// Flush writes buffered rows to the underlying writer.
func (sw *SightingWriter) Flush() error {
	return flushCSV(sw.cw, "sightings")
}
