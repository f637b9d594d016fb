package live

import (
	"math"
	"strconv"

	"github.com/wardwatch/wardwatch"
)

// noFraction is a magnitude beyond which a float64 cannot hold hundredths,
// so rounding would only add error.
const noFraction = 1e15

// entrySizeHint is a typical encoded entry's length, for preallocation.
const entrySizeHint = 48

// appendEntry appends p as [assetId,x,y,zoneId,tsMs,conf]: metres and
// confidence rounded to 2 decimals, the time in Unix milliseconds.
func appendEntry(b []byte, p wardwatch.Position) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, p.AssetID, 10)
	b = append(b, ',')
	b = appendRounded(b, p.At.X)
	b = append(b, ',')
	b = appendRounded(b, p.At.Y)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.ZoneID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.Time.UnixMilli(), 10)
	b = append(b, ',')
	b = appendRounded(b, p.Confidence)
	return append(b, ']')
}

// appendRounded appends v rounded to 2 decimals in its shortest form. It
// always produces a JSON number: NaN and infinities (which Publish filters
// out) become 0, a negative zero becomes 0, and magnitudes too large to
// carry hundredths are written as they are.
func appendRounded(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	r := v
	if math.Abs(v) < noFraction {
		r = math.Round(v*100) / 100
	}
	if r == 0 {
		r = 0 // drop the sign of -0
	}
	return strconv.AppendFloat(b, r, 'f', -1, 64)
}

// appendSnap appends a snapshot message for floor at nowMs.
func appendSnap(b []byte, floor, nowMs int64, ps []wardwatch.Position) []byte {
	b = append(b, `{"t":"snap","floor":`...)
	b = strconv.AppendInt(b, floor, 10)
	b = append(b, `,"now":`...)
	b = strconv.AppendInt(b, nowMs, 10)
	b = append(b, `,"a":[`...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEntry(b, p)
	}
	return append(b, "]}"...)
}

// appendPos appends an update message carrying pre-encoded entries.
func appendPos(b []byte, nowMs int64, entries [][]byte) []byte {
	b = append(b, `{"t":"pos","now":`...)
	b = strconv.AppendInt(b, nowMs, 10)
	b = append(b, `,"a":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// appendGone appends a message listing assets that left the floor.
func appendGone(b []byte, assets []int64) []byte {
	b = append(b, `{"t":"gone","a":[`...)
	for i, id := range assets {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, "]}"...)
}
