package influx

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The spool is a directory of segment files holding points accepted by the
// Write methods and not yet accepted by InfluxDB:
//
//	<dir>/lock                    held (flock) while a Store has the spool open
//	<dir>/<20-digit id>.seg       segments, oldest first
//	<dir>/ack                     "<segment id> <offset>": where sending resumes
//
// A segment starts with segmentMagic and holds records (see lineproto.go).
// Appends go to the last segment and are fsynced before the Write method
// returns. The sender reads records from the ack position, and moves it
// (rewriting the ack file) only after InfluxDB accepted them; segments wholly
// before it are deleted. A stale ack file only makes the sender send some
// points again, which InfluxDB stores once (same series and timestamp).

// segmentMagic opens every segment file.
const segmentMagic = "WWSPOOL1"

const segmentHeaderLen = int64(len(segmentMagic))

// cursor is a place in the spool: a segment and a byte offset in it.
type cursor struct {
	seg uint64
	off int64
}

func (c cursor) before(d cursor) bool {
	return c.seg < d.seg || (c.seg == d.seg && c.off < d.off)
}

// segment is one segment file: its id and its committed size (bytes known
// to be written and fsynced, header included).
type segment struct {
	id   uint64
	size int64
}

// errSpoolFull is returned by append when the spool has no room.
var errSpoolFull = errors.New("spool full")

// spool is the durable queue between the Write methods and the sender. One
// goroutine (the sender) reads; any number append.
type spool struct {
	dir      string
	maxBytes int64
	segMax   int64
	logger   *slog.Logger
	m        *metrics
	lock     io.Closer // the directory lock

	wmu      sync.Mutex // serialises appends
	w        *os.File   // the last segment, for appending; guarded by wmu
	rollNext bool       // start a new segment before the next append; guarded by wmu

	mu         sync.Mutex // guards the fields below
	segs       []segment  // oldest first; the last is w's
	diskBytes  int64      // sum of segs' sizes
	pending    int64      // points after ack
	ack        cursor     // where sending resumes
	ackDirty   bool       // the ack file lags ack (see commit)
	ackWritten time.Time  // when the ack file was last written
	acked      chan struct{}
	closed     bool

	notify chan struct{} // signalled (without blocking) after each append

	// The reader's state, used by the sender goroutine only.
	rf    *os.File
	rfSeg uint64

	corruptAtOpen atomic.Int64 // bytes dropped while opening, for tests
}

// segmentMax is the size at which a spool of maxBytes starts a new segment:
// a sixteenth of the spool, between 64 KiB and 64 MiB.
func segmentMax(maxBytes int64) int64 {
	return min(max(maxBytes/16, 64<<10), 64<<20)
}

func segmentName(id uint64) string { return fmt.Sprintf("%020d.seg", id) }

// openSpool opens (creating it if needed) the spool in dir, locks it,
// checks every record, truncates a torn or corrupt tail (counting and
// logging the bytes dropped) and starts a new segment for appends.
func openSpool(dir string, maxBytes int64, logger *slog.Logger, m *metrics) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	sp := &spool{
		dir: dir, maxBytes: maxBytes, segMax: segmentMax(maxBytes), logger: logger, m: m, lock: lock,
		acked: make(chan struct{}), notify: make(chan struct{}, 1),
	}
	if err := sp.recover(); err != nil {
		sp.closeFiles()
		return nil, err
	}
	sp.mu.Lock()
	sp.gcLocked()
	sp.publishLocked()
	sp.mu.Unlock()
	return sp, nil
}

// recover scans the spool directory and starts a new segment.
func (sp *spool) recover() error {
	entries, err := os.ReadDir(sp.dir)
	if err != nil {
		return fmt.Errorf("read spool directory: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || e.IsDir() {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil || id == 0 {
			sp.logger.Warn("influx spool: ignoring a file that is not a segment", "file", e.Name())
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ack, haveAck := sp.readAck()
	for _, id := range ids {
		seg, points, ackOK, err := sp.scanSegment(id, ack)
		if err != nil {
			return err
		}
		if seg.size == 0 { // not a segment: moved aside
			continue
		}
		sp.segs = append(sp.segs, seg)
		sp.diskBytes += seg.size
		switch {
		case !haveAck || id > ack.seg:
			sp.pending += points.total
		case id == ack.seg:
			if !ackOK {
				sp.logger.Warn("influx spool: the ack position is not at a record; sending that segment again", "segment", id)
				ack.off = segmentHeaderLen
				points.afterAck = points.total
			}
			sp.pending += points.afterAck
		}
	}
	// The ack position: where the ack file says; the oldest segment when
	// there is none or it names an older segment; the next segment when it
	// names one that is gone (pending counted the segments after it).
	switch {
	case haveAck && sp.hasSegment(ack.seg):
		sp.ack = ack
	default:
		i := slices.IndexFunc(sp.segs, func(s segment) bool { return !haveAck || s.id > ack.seg })
		if i >= 0 {
			sp.ack = cursor{seg: sp.segs[i].id, off: segmentHeaderLen}
		}
	}
	next := uint64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	if err := sp.startSegment(next); err != nil {
		return err
	}
	if sp.ack.seg == 0 {
		sp.ack = cursor{seg: next, off: segmentHeaderLen}
	}
	return nil
}

func (sp *spool) hasSegment(id uint64) bool {
	return slices.ContainsFunc(sp.segs, func(s segment) bool { return s.id == id })
}

// segmentPoints counts a segment's points: all, and those at or after the
// ack offset.
type segmentPoints struct{ total, afterAck int64 }

// scanSegment checks segment id's records, truncating the file at the
// first one that is torn or corrupt. It returns the segment (size 0 when the
// file is not a segment and was moved aside), its points, and whether ack
// (if it names this segment) is at a record boundary.
func (sp *spool) scanSegment(id uint64, ack cursor) (segment, segmentPoints, bool, error) {
	path := filepath.Join(sp.dir, segmentName(id))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return segment{}, segmentPoints{}, false, fmt.Errorf("open spool segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return segment{}, segmentPoints{}, false, fmt.Errorf("stat spool segment: %w", err)
	}
	size := fi.Size()
	magic := make([]byte, segmentHeaderLen)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != segmentMagic {
		if size <= segmentHeaderLen {
			// Created but not written when the process stopped.
			f.Close()
			if err := os.Remove(path); err != nil {
				return segment{}, segmentPoints{}, false, fmt.Errorf("remove empty spool segment: %w", err)
			}
			return segment{}, segmentPoints{}, false, nil
		}
		sp.logger.Error("influx spool: a segment file has no spool header; moved aside", "file", path, "bytes", size)
		sp.m.corrupt.Add(float64(size))
		sp.corruptAtOpen.Add(size)
		f.Close()
		if err := os.Rename(path, path+".corrupt"); err != nil {
			return segment{}, segmentPoints{}, false, fmt.Errorf("move corrupt spool segment aside: %w", err)
		}
		return segment{}, segmentPoints{}, false, nil
	}
	var (
		pts   segmentPoints
		off   = segmentHeaderLen
		ackOK = ack.seg != id || ack.off == segmentHeaderLen
		r     = bufio.NewReaderSize(f, 1<<16)
		head  [recordHeaderLen]byte
		buf   []byte
		why   string
	)
	for off < size {
		if ack.seg == id && ack.off == off {
			ackOK = true
		}
		n, payload, err := readRecord(r, head[:], &buf)
		if err != nil {
			why = err.Error()
			break
		}
		if ack.seg == id && off >= ack.off {
			pts.afterAck += int64(n)
		}
		pts.total += int64(n)
		off += recordHeaderLen + int64(len(payload))
	}
	if ack.seg == id && ack.off == off {
		ackOK = true
	}
	if off < size {
		dropped := size - off
		sp.logger.Warn("influx spool: dropping a torn or corrupt tail", "segment", id, "offset", off, "bytes", dropped, "reason", why)
		sp.m.corrupt.Add(float64(dropped))
		sp.corruptAtOpen.Add(dropped)
		if err := f.Truncate(off); err != nil {
			return segment{}, segmentPoints{}, false, fmt.Errorf("truncate spool segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			return segment{}, segmentPoints{}, false, fmt.Errorf("sync spool segment: %w", err)
		}
	}
	return segment{id: id, size: off}, pts, ackOK, nil
}

// readRecord reads one record from r into *buf and returns its line count
// and payload, or an error saying why the bytes at r are not a whole,
// intact record.
func readRecord(r io.Reader, head []byte, buf *[]byte) (int, []byte, error) {
	if _, err := io.ReadFull(r, head[:recordHeaderLen]); err != nil {
		return 0, nil, fmt.Errorf("torn record header: %w", err)
	}
	n := binary.LittleEndian.Uint32(head[0:4])
	lines := binary.LittleEndian.Uint32(head[4:8])
	if n == 0 || n > maxRecordBytes || lines == 0 || lines > n {
		return 0, nil, fmt.Errorf("bad record header (length %d, lines %d)", n, lines)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	payload := (*buf)[:n]
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("torn record: %w", err)
	}
	if recordCRC(head[0:8], payload) != binary.LittleEndian.Uint32(head[8:12]) {
		return 0, nil, errors.New("record checksum mismatch")
	}
	if payload[len(payload)-1] != '\n' || bytes.Count(payload, []byte{'\n'}) != int(lines) {
		return 0, nil, errors.New("record lines do not match its header")
	}
	return int(lines), payload, nil
}

// startSegment creates segment id, makes it the one appends go to, and
// fsyncs it and the directory. Called with wmu held, or before the spool is
// shared.
func (sp *spool) startSegment(id uint64) error {
	path := filepath.Join(sp.dir, segmentName(id))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	if _, err := f.WriteString(segmentMagic); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(sp.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create spool segment: %w", err)
	}
	if sp.w != nil {
		sp.w.Close()
	}
	sp.w = f
	sp.mu.Lock()
	sp.segs = append(sp.segs, segment{id: id, size: segmentHeaderLen})
	sp.diskBytes += segmentHeaderLen
	sp.gcLocked()
	sp.publishLocked()
	sp.mu.Unlock()
	return nil
}

// append writes data, whole records holding points lines, to the spool and
// fsyncs it. It fails with errSpoolFull when the spool has no room for
// data, and with another error when the disk fails; either way none of
// data will be sent.
func (sp *spool) append(data []byte, points int) error {
	sp.wmu.Lock()
	defer sp.wmu.Unlock()
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return errClosed
	}
	last := sp.segs[len(sp.segs)-1]
	roll := sp.rollNext || (last.size > segmentHeaderLen && last.size+int64(len(data)) > sp.segMax)
	sp.mu.Unlock()
	if roll {
		// A new segment lets the sent part of this one be deleted.
		if err := sp.startSegment(last.id + 1); err != nil {
			return err
		}
		sp.rollNext = false
		last = segment{id: last.id + 1, size: segmentHeaderLen}
	}
	sp.mu.Lock()
	full := sp.diskBytes+int64(len(data)) > sp.maxBytes
	sp.mu.Unlock()
	if full {
		return errSpoolFull
	}
	_, err := sp.w.Write(data)
	if err == nil {
		err = sp.w.Sync()
	}
	if err != nil {
		// Leave no partial record behind; if that fails too, the next
		// append starts a new segment and the reader never reads past
		// the committed size (reopening truncates the garbage).
		if terr := sp.w.Truncate(last.size); terr != nil {
			sp.rollNext = true
		} else if _, serr := sp.w.Seek(last.size, io.SeekStart); serr != nil {
			sp.rollNext = true
		}
		return fmt.Errorf("write spool: %w", err)
	}
	sp.mu.Lock()
	sp.segs[len(sp.segs)-1].size += int64(len(data))
	sp.diskBytes += int64(len(data))
	sp.pending += int64(points)
	sp.publishLocked()
	sp.mu.Unlock()
	select {
	case sp.notify <- struct{}{}:
	default:
	}
	return nil
}

// end is the cursor after the last committed record.
func (sp *spool) endLocked() cursor {
	last := sp.segs[len(sp.segs)-1]
	return cursor{seg: last.id, off: last.size}
}

// state returns the points waiting to be sent and whether any are.
func (sp *spool) state() (pending int64, waiting bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.pending, sp.ack.before(sp.endLocked())
}

// stats returns the spool's bytes on disk and points waiting.
func (sp *spool) stats() (diskBytes, pending int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.diskBytes, sp.pending
}

// position returns the ack position.
func (sp *spool) position() cursor {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.ack
}

// flushTarget returns the cursor Flush waits for the ack to reach.
func (sp *spool) flushTarget() (cursor, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return cursor{}, errClosed
	}
	return sp.endLocked(), nil
}

// reached reports whether the ack has reached c, and returns a channel
// closed at the next ack.
func (sp *spool) reached(c cursor) (bool, <-chan struct{}, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.ack.before(c) {
		return true, nil, nil
	}
	if sp.closed {
		return false, nil, errClosed
	}
	return false, sp.acked, nil
}

// batch is a run of records read from the spool.
type batch struct {
	data    []byte // the records' payloads: complete lines
	points  int
	end     cursor // the ack position once the batch is sent
	scratch []byte // a record being read
}

// next reads records from the ack position into b (reusing its buffer),
// up to maxPoints lines and maxBytes bytes (at least one record). A record
// that fails its checksum (the disk corrupted it after the spool was
// opened) is logged, counted and skipped with the rest of its segment.
func (sp *spool) next(b *batch, maxPoints int, maxBytes int) error {
	sp.mu.Lock()
	cur := sp.ack
	segs := slices.Clone(sp.segs)
	sp.mu.Unlock()
	if cur.seg < segs[0].id { // the ack's segment was sent and deleted
		cur = cursor{seg: segs[0].id, off: segmentHeaderLen}
	}
	b.data, b.points, b.end = b.data[:0], 0, cur
	var head [recordHeaderLen]byte
	for i, s := range segs {
		if s.id < cur.seg {
			continue
		}
		off := segmentHeaderLen
		if s.id == cur.seg {
			off = cur.off
		}
		for off < s.size {
			f, err := sp.reader(s.id)
			if err != nil {
				return err
			}
			if _, err := f.ReadAt(head[:], off); err != nil {
				return sp.skipCorrupt(b, s, off, fmt.Errorf("read record header: %w", err))
			}
			n := int64(binary.LittleEndian.Uint32(head[0:4]))
			lines := int(binary.LittleEndian.Uint32(head[4:8]))
			if b.points > 0 && (b.points+lines > maxPoints || len(b.data)+int(n) > maxBytes) {
				return nil
			}
			if off+recordHeaderLen+n > s.size {
				return sp.skipCorrupt(b, s, off, fmt.Errorf("record of %d bytes runs past the segment's end", n))
			}
			rec := io.NewSectionReader(f, off, recordHeaderLen+n)
			got, payload, err := readRecord(rec, head[:], &b.scratch)
			if err != nil {
				return sp.skipCorrupt(b, s, off, err)
			}
			b.data = append(b.data, payload...)
			b.points += got
			off += recordHeaderLen + n
			b.end = cursor{seg: s.id, off: off}
		}
		if i == len(segs)-1 {
			break
		}
		// The segment is sealed and read to its end: carry on in the next.
		b.end = cursor{seg: segs[i+1].id, off: segmentHeaderLen}
	}
	return nil
}

// skipCorrupt ends the batch before the corrupt record at off in s and
// moves it past the rest of s.
func (sp *spool) skipCorrupt(b *batch, s segment, off int64, why error) error {
	sp.logger.Error("influx spool: skipping a corrupt record and the rest of its segment", "segment", s.id, "offset", off, "bytes", s.size-off, "err", why)
	sp.m.corrupt.Add(float64(s.size - off))
	b.end = cursor{seg: s.id, off: s.size}
	return nil
}

// reader returns the sender's file handle on segment id.
func (sp *spool) reader(id uint64) (*os.File, error) {
	if sp.rf != nil && sp.rfSeg == id {
		return sp.rf, nil
	}
	if sp.rf != nil {
		sp.rf.Close()
		sp.rf = nil
	}
	f, err := os.Open(filepath.Join(sp.dir, segmentName(id)))
	if err != nil {
		return nil, fmt.Errorf("open spool segment: %w", err)
	}
	sp.rf, sp.rfSeg = f, id
	return f, nil
}

// commit moves the ack position to b.end after InfluxDB accepted (or
// refused for good) b's points, deletes the segments wholly sent and
// rewrites the ack file.
func (sp *spool) commit(b *batch) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.ack.before(b.end) { // never backwards (a roll may have moved it on)
		sp.ack = b.end
	}
	sp.pending -= int64(b.points)
	if sp.pending < 0 || !sp.ack.before(sp.endLocked()) {
		sp.pending = 0
	}
	sp.gcLocked()
	close(sp.acked)
	sp.acked = make(chan struct{})
	sp.publishLocked()
	// The ack file is rewritten at most every ackFileEvery while a backlog
	// drains (each rewrite costs a file create and a rename between two
	// requests), and at once when the spool is caught up or closed: after
	// a crash a stale one only resends points InfluxDB already has.
	if sp.pending > 0 && time.Since(sp.ackWritten) < ackFileEvery {
		sp.ackDirty = true
		return nil
	}
	return sp.writeAckLocked()
}

// ackFileEvery is the longest the ack file lags the sender while a backlog
// drains.
const ackFileEvery = 250 * time.Millisecond

// gcLocked deletes the segments before the ack position, except the last.
func (sp *spool) gcLocked() {
	for len(sp.segs) > 1 {
		s := sp.segs[0]
		if s.id > sp.ack.seg || (s.id == sp.ack.seg && s.size > sp.ack.off) {
			return
		}
		if sp.ack.seg == s.id {
			sp.ack = cursor{seg: sp.segs[1].id, off: segmentHeaderLen}
		}
		// The sender may still hold the file open: it is unlinked now and
		// closed when the sender moves on.
		if err := os.Remove(filepath.Join(sp.dir, segmentName(s.id))); err != nil && !errors.Is(err, os.ErrNotExist) {
			sp.logger.Warn("influx spool: cannot delete a sent segment", "segment", s.id, "err", err)
			return
		}
		sp.segs = sp.segs[1:]
		sp.diskBytes -= s.size
	}
}

// publishLocked updates the spool gauges.
func (sp *spool) publishLocked() {
	sp.m.spoolBytes.Set(float64(sp.diskBytes))
	sp.m.spoolPoints.Set(float64(sp.pending))
	sp.m.spoolFill.Set(float64(sp.diskBytes) / float64(sp.maxBytes))
}

// readAck reads the ack file.
func (sp *spool) readAck() (cursor, bool) {
	b, err := os.ReadFile(filepath.Join(sp.dir, "ack"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			sp.logger.Warn("influx spool: cannot read the ack file; sending everything spooled", "err", err)
		}
		return cursor{}, false
	}
	var c cursor
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &c.seg, &c.off); err != nil || c.off < segmentHeaderLen {
		sp.logger.Warn("influx spool: the ack file is malformed; sending everything spooled", "content", strconv.Quote(string(b)))
		return cursor{}, false
	}
	return c, true
}

// writeAckLocked replaces the ack file. It is not fsynced: after a crash a
// stale one only resends points InfluxDB already has.
func (sp *spool) writeAckLocked() error {
	tmp := filepath.Join(sp.dir, "ack.tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", sp.ack.seg, sp.ack.off), 0o640); err != nil {
		return fmt.Errorf("write spool ack: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(sp.dir, "ack")); err != nil {
		return fmt.Errorf("write spool ack: %w", err)
	}
	sp.ackWritten, sp.ackDirty = time.Now(), false
	return nil
}

// close closes the spool's files and releases its lock. What is spooled
// stays on disk for the next open.
func (sp *spool) close() error {
	sp.wmu.Lock()
	defer sp.wmu.Unlock()
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return nil
	}
	sp.closed = true
	close(sp.acked)
	var ackErr error
	if sp.ackDirty {
		ackErr = sp.writeAckLocked()
	}
	sp.mu.Unlock()
	return errors.Join(ackErr, sp.closeFiles())
}

func (sp *spool) closeFiles() error {
	var errs []error
	if sp.w != nil {
		errs = append(errs, sp.w.Close())
		sp.w = nil
	}
	if sp.rf != nil {
		sp.rf.Close()
		sp.rf = nil
	}
	errs = append(errs, sp.lock.Close())
	return errors.Join(errs...)
}

// syncDir fsyncs directory dir, so that files created in it survive a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
