package influx

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

func testSpool(t *testing.T, dir string, maxBytes int64) *spool {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := openSpool(dir, maxBytes, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatalf("openSpool: %v", err)
	}
	t.Cleanup(func() { sp.close() })
	return sp
}

// lines returns n line-protocol lines numbered from first.
func lines(first, n int) []string {
	ls := make([]string, n)
	for i := range ls {
		ls[i] = fmt.Sprintf("reading,metric=temperature,sensor=s%d value=%d %d\n", first+i, first+i, 1_700_000_000_000+first+i)
	}
	return ls
}

// records encodes ls in records of at most perRecord lines.
func records(ls []string, perRecord int) ([]byte, int) {
	e := newRecordEncoder(perRecord)
	for _, l := range ls {
		e.begin()
		e.buf = append(e.buf, l...)
		e.endLine()
	}
	return e.bytes(), e.points
}

func appendLines(t *testing.T, sp *spool, ls []string) {
	t.Helper()
	data, n := records(ls, 7)
	if err := sp.append(data, n); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// drain reads and commits everything in sp, a batch of at most maxPoints
// at a time, and returns the lines read.
func drain(t *testing.T, sp *spool, maxPoints int) []string {
	t.Helper()
	var (
		got []string
		b   batch
	)
	for {
		if _, waiting := sp.state(); !waiting {
			return got
		}
		if err := sp.next(&b, maxPoints, maxBatchBytes); err != nil {
			t.Fatalf("next: %v", err)
		}
		if b.points > max(maxPoints, 7) { // a batch holds at least one record (of up to 7 here)
			t.Fatalf("batch of %d points, more than %d", b.points, maxPoints)
		}
		if n := strings.Count(string(b.data), "\n"); n != b.points {
			t.Fatalf("batch says %d points and holds %d lines", b.points, n)
		}
		got = append(got, strings.SplitAfter(string(b.data), "\n")[:b.points]...)
		if err := sp.commit(&b); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
}

func TestSpoolAppendDrain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		writes    []int // lines per append
		maxPoints int
	}{
		{"one line", []int{1}, 10},
		{"one record", []int{5}, 10},
		{"records across batches", []int{30, 1, 40}, 10},
		{"batch smaller than a record", []int{20}, 3},
		{"many small appends", slices.Repeat([]int{2}, 50), 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := testSpool(t, t.TempDir(), 1<<20)
			var want []string
			for _, n := range tc.writes {
				ls := lines(len(want), n)
				appendLines(t, sp, ls)
				want = append(want, ls...)
			}
			if pending, waiting := sp.state(); pending != int64(len(want)) || !waiting {
				t.Fatalf("state = %d, %v; want %d, true", pending, waiting, len(want))
			}
			if got := drain(t, sp, tc.maxPoints); !slices.Equal(got, want) {
				t.Fatalf("drained %q\nwant %q", got, want)
			}
			if pending, waiting := sp.state(); pending != 0 || waiting {
				t.Fatalf("after draining: state = %d, %v", pending, waiting)
			}
		})
	}
}

// TestSpoolReopen checks that a reopened spool resumes after what was
// committed, and that reopening with nothing pending sends nothing.
func TestSpoolReopen(t *testing.T) {
	dir := t.TempDir()
	sp := testSpool(t, dir, 1<<20)
	appendLines(t, sp, lines(0, 10))
	appendLines(t, sp, lines(10, 10))
	var b batch
	if err := sp.next(&b, 7, maxBatchBytes); err != nil || b.points != 7 {
		t.Fatalf("next = %d points, %v; want one record of 7", b.points, err)
	}
	if err := sp.commit(&b); err != nil {
		t.Fatal(err)
	}
	sp.close()

	sp = testSpool(t, dir, 1<<20)
	if pending, _ := sp.state(); pending != 13 {
		t.Fatalf("reopened spool has %d points pending, want 13", pending)
	}
	appendLines(t, sp, lines(20, 3))
	if got, want := drain(t, sp, 100), lines(7, 16); !slices.Equal(got, want) {
		t.Fatalf("after reopening drained %q\nwant %q", got, want)
	}
	sp.close()

	sp = testSpool(t, dir, 1<<20)
	if pending, waiting := sp.state(); pending != 0 || waiting {
		t.Fatalf("drained spool reopened: state = %d, %v", pending, waiting)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("drained spool keeps %d segments, want 1 (the new one)", len(segs))
	}
}

// TestSpoolSegments checks that segments roll over and sent ones are
// deleted, keeping the spool's disk use bounded.
func TestSpoolSegments(t *testing.T) {
	dir := t.TempDir()
	sp := testSpool(t, dir, 1<<20) // segments of 64 KiB
	var want []string
	for i := 0; i < 3000; i += 100 {
		ls := lines(i, 100)
		appendLines(t, sp, ls)
		want = append(want, ls...)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments for %d bytes, want several", len(segs), sp.diskBytes)
	}
	if got := drain(t, sp, 250); !slices.Equal(got, want) {
		t.Fatalf("drained %d lines, want %d in order", len(got), len(want))
	}
	appendLines(t, sp, lines(3000, 1)) // rolls: the last full segment goes
	drain(t, sp, 10)
	segs, _ = filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 2 {
		t.Fatalf("%d segments left after sending everything, want at most 2", len(segs))
	}
	if d, _ := sp.stats(); d > sp.segMax+segmentHeaderLen {
		t.Fatalf("%d bytes on disk after sending everything", d)
	}
}

// TestSpoolFull checks that a full spool refuses appends whole, without
// dropping what it holds, and accepts them again once sent.
func TestSpoolFull(t *testing.T) {
	sp := testSpool(t, t.TempDir(), MinSpoolMaxBytes)
	var want []string
	for {
		ls := lines(len(want), 100)
		data, n := records(ls, 50)
		err := sp.append(data, n)
		if err == errSpoolFull {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ls...)
	}
	if d, _ := sp.stats(); d > MinSpoolMaxBytes {
		t.Fatalf("spool holds %d bytes, over its %d", d, MinSpoolMaxBytes)
	}
	if got := drain(t, sp, 1000); !slices.Equal(got, want) {
		t.Fatalf("full spool drained %d lines, want %d", len(got), len(want))
	}
	appendLines(t, sp, lines(0, 100))
}

// TestSpoolTornTail damages the spool's tail in the ways a crash or a bad
// disk leaves it: the damage is dropped and counted at open, what came
// before is kept, and appends go on.
func TestSpoolTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(rec []byte) []byte // what ends up after the good records
	}{
		{"half a header", func(rec []byte) []byte { return rec[:5] }},
		{"header only", func(rec []byte) []byte { return rec[:recordHeaderLen] }},
		{"half a payload", func(rec []byte) []byte { return rec[:len(rec)-10] }},
		{"flipped payload byte", func(rec []byte) []byte { rec[recordHeaderLen+3] ^= 0x40; return rec }},
		{"flipped line count", func(rec []byte) []byte { rec[4]++; return rec }},
		{"zeroes", func(rec []byte) []byte { return make([]byte, 4096) }},
		{"huge length", func(rec []byte) []byte { rec[3] = 0x7f; return rec }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sp := testSpool(t, dir, 1<<20)
			good := lines(0, 10)
			appendLines(t, sp, good)
			seg := filepath.Join(dir, segmentName(sp.segs[len(sp.segs)-1].id))
			sp.close()
			rec, _ := records(lines(10, 3), 10)
			tail := tc.damage(rec)
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail)
			f.Close()

			sp = testSpool(t, dir, 1<<20)
			if got := sp.corruptAtOpen.Load(); got != int64(len(tail)) {
				t.Errorf("dropped %d bytes, want %d", got, len(tail))
			}
			if got := testutil.ToFloat64(sp.m.corrupt); got != float64(len(tail)) {
				t.Errorf("corrupt bytes counted %v, want %d", got, len(tail))
			}
			appendLines(t, sp, lines(20, 2))
			if got, want := drain(t, sp, 100), append(good, lines(20, 2)...); !slices.Equal(got, want) {
				t.Fatalf("drained %q\nwant %q", got, want)
			}
		})
	}
}

// TestSpoolCorruptAfterOpen corrupts a committed record under a running
// spool: the reader skips the rest of that segment, counting it, and goes
// on with the next.
func TestSpoolCorruptAfterOpen(t *testing.T) {
	dir := t.TempDir()
	sp := testSpool(t, dir, 1<<20)
	appendLines(t, sp, lines(0, 14)) // two records of 7
	first := sp.segs[len(sp.segs)-1]
	// Seal the segment and start another, as a restart would.
	sp.wmu.Lock()
	if err := sp.startSegment(first.id + 1); err != nil {
		t.Fatal(err)
	}
	sp.wmu.Unlock()
	appendLines(t, sp, lines(14, 3))
	f, err := os.OpenFile(filepath.Join(dir, segmentName(first.id)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The second record's payload.
	off := segmentHeaderLen + recordHeaderLen + int64(len(strings.Join(lines(0, 7), ""))) + recordHeaderLen + 2
	if _, err := f.WriteAt([]byte{'#'}, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := drain(t, sp, 100)
	if want := append(lines(0, 7), lines(14, 3)...); !slices.Equal(got, want) {
		t.Fatalf("drained %q\nwant %q", got, want)
	}
	if testutil.ToFloat64(sp.m.corrupt) == 0 {
		t.Fatal("the corrupt record was not counted")
	}
}

func TestSpoolAckFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		ack  func(seg uint64) string
		want []string
	}{
		{"missing", nil, lines(0, 14)},
		{"malformed", func(uint64) string { return "garbage" }, lines(0, 14)},
		{"not at a record", func(seg uint64) string { return fmt.Sprintf("%d %d\n", seg, segmentHeaderLen+5) }, lines(0, 14)},
		{"after the first record", func(seg uint64) string {
			return fmt.Sprintf("%d %d\n", seg, segmentHeaderLen+recordHeaderLen+int64(len(strings.Join(lines(0, 7), ""))))
		}, lines(7, 7)},
		{"older segment", func(seg uint64) string { return fmt.Sprintf("%d %d\n", seg-1, segmentHeaderLen+100) }, lines(0, 14)},
		{"newer segment", func(seg uint64) string { return fmt.Sprintf("%d %d\n", seg+5, segmentHeaderLen) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sp := testSpool(t, dir, 1<<20)
			appendLines(t, sp, lines(0, 14))
			seg := sp.segs[len(sp.segs)-1].id
			sp.close()
			os.Remove(filepath.Join(dir, "ack"))
			if tc.ack != nil {
				if err := os.WriteFile(filepath.Join(dir, "ack"), []byte(tc.ack(seg)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sp = testSpool(t, dir, 1<<20)
			if pending, _ := sp.state(); pending != int64(len(tc.want)) {
				t.Errorf("pending = %d, want %d", pending, len(tc.want))
			}
			if got := drain(t, sp, 100); !slices.Equal(got, tc.want) {
				t.Fatalf("drained %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	testSpool(t, dir, 1<<20)
	m, _ := newMetrics(nil)
	_, err := openSpool(dir, 1<<20, slog.New(slog.DiscardHandler), m)
	if wardwatch.ErrorCode(err) != wardwatch.ECONFLICT {
		t.Fatalf("second open of a spool: %v, want ECONFLICT", err)
	}
}

// TestSpoolForeignFiles checks that files that are not segments are left
// alone or moved aside, never sent.
func TestSpoolForeignFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600)
	os.WriteFile(filepath.Join(dir, segmentName(3)), []byte("WW"), 0o600)                        // created, never written
	os.WriteFile(filepath.Join(dir, segmentName(4)), []byte("something else entirely\n"), 0o600) // not ours
	sp := testSpool(t, dir, 1<<20)
	if pending, waiting := sp.state(); pending != 0 || waiting {
		t.Fatalf("state = %d, %v; want nothing to send", pending, waiting)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(4)+".corrupt")); err != nil {
		t.Fatalf("the foreign segment was not moved aside: %v", err)
	}
	appendLines(t, sp, lines(0, 1))
	if got := drain(t, sp, 10); !slices.Equal(got, lines(0, 1)) {
		t.Fatalf("drained %q", got)
	}
}

// FuzzSpoolOpen opens a spool whose segment holds arbitrary bytes after
// the header: it must not panic, must keep only whole, intact records, and
// must accept appends afterwards.
func FuzzSpoolOpen(f *testing.F) {
	good, _ := records(lines(0, 3), 2)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:recordHeaderLen+1])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(append(slices.Clone(good), 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, '\n'))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), append([]byte(segmentMagic), tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		sp := testSpool(t, dir, 1<<20)
		got := drain(t, sp, 1000)
		for _, l := range got {
			if !strings.HasSuffix(l, "\n") || strings.Count(l, "\n") != 1 {
				t.Fatalf("drained a line that is not one line: %q", l)
			}
		}
		appendLines(t, sp, lines(0, 2))
		if after := drain(t, sp, 1000); !slices.Equal(after, lines(0, 2)) {
			t.Fatalf("after a fuzzed open, drained %q", after)
		}
	})
}

// TestSegmentMax checks segment sizes for a few spool sizes.
func TestSegmentMax(t *testing.T) {
	for _, tc := range []struct{ max, want int64 }{
		{1 << 20, 64 << 10}, {1 << 30, 64 << 20}, {64 << 20, 4 << 20}, {1 << 40, 64 << 20},
	} {
		if got := segmentMax(tc.max); got != tc.want {
			t.Errorf("segmentMax(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

// TestSpoolAckFileLags: while a backlog drains the ack file is rewritten at
// most every ackFileEvery; it is written at once when the spool is caught
// up, and on close; a reopened spool resumes from it.
func TestSpoolAckFileLags(t *testing.T) {
	dir := t.TempDir()
	sp := testSpool(t, dir, 1<<20)
	appendLines(t, sp, lines(0, 21)) // three records of 7
	readAck := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "ack"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ackText := func() string { return fmt.Sprintf("%d %d\n", sp.ack.seg, sp.ack.off) }
	var b batch
	step := func() {
		t.Helper()
		if err := sp.next(&b, 7, maxBatchBytes); err != nil {
			t.Fatal(err)
		}
		if err := sp.commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	step() // the first commit writes (the file was never written)
	first := readAck()
	if first != ackText() {
		t.Fatalf("ack file %q after the first batch, want %q", first, ackText())
	}
	step() // within ackFileEvery, with a backlog: the file lags
	if got := readAck(); got != first || !sp.ackDirty {
		t.Fatalf("ack file %q (dirty %v) after a second batch at once, want it still %q", got, sp.ackDirty, first)
	}
	step() // caught up: written
	if got := readAck(); got != ackText() || sp.ackDirty {
		t.Fatalf("ack file %q once caught up, want %q", got, ackText())
	}

	appendLines(t, sp, lines(21, 21))
	step()
	step() // two of three records sent at once: the file lags…
	want := ackText()
	if got := readAck(); got == want || !sp.ackDirty {
		t.Fatalf("ack file %q (dirty %v) with a backlog, want it lagging %q", got, sp.ackDirty, want)
	}
	sp.close() // …until the spool closes
	if got := readAck(); got != want {
		t.Fatalf("ack file %q after close, want %q", got, want)
	}
	sp = testSpool(t, dir, 1<<20)
	if pending, _ := sp.state(); pending != 7 {
		t.Fatalf("reopened spool has %d points pending, want the last record's 7", pending)
	}
}
