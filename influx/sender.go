package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// maxBatchBytes bounds one write request's body (before compression); a
// single record larger than this still goes alone.
const maxBatchBytes = 4 << 20

// Run sends the spool to InfluxDB until ctx is done or the store is
// closed, then returns nil. Only one Run may be active at a time.
func (s *Store) Run(ctx context.Context) error {
	s.runMu.Lock()
	select {
	case <-s.closing:
		s.runMu.Unlock()
		return errClosed
	default:
	}
	if s.running {
		s.runMu.Unlock()
		return errors.New("influx: Run called twice")
	}
	s.running = true
	s.runDone.Add(1)
	s.runMu.Unlock()
	defer func() {
		s.runMu.Lock()
		s.running = false
		s.runMu.Unlock()
		s.runDone.Done()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close cancels ctx; the goroutine ends with Run (cancel is deferred)
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	snd := &sender{s: s, backoff: s.cfg.MinRetryInterval}
	return snd.loop(ctx)
}

// sender is Run's state.
type sender struct {
	s       *Store
	batch   batch
	gz      *gzip.Writer
	gzBuf   bytes.Buffer
	backoff time.Duration
}

func (snd *sender) loop(ctx context.Context) error {
	s := snd.s
	health := time.NewTicker(s.cfg.HealthInterval)
	defer health.Stop()
	snd.ping(ctx)
	var since time.Time // when a partial batch started waiting
	for {
		if ctx.Err() != nil {
			return nil
		}
		pending, waiting := s.spool.state()
		if !waiting {
			since = time.Time{}
			select {
			case <-ctx.Done():
				return nil
			case <-s.spool.notify:
			case <-s.flushReq:
			case <-health.C:
				snd.ping(ctx)
			}
			continue
		}
		if pending < int64(s.cfg.BatchSize) && s.flushWaiters.Load() == 0 {
			if since.IsZero() {
				since = time.Now()
			}
			if wait := time.Until(since.Add(s.cfg.FlushInterval)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-s.spool.notify:
				case <-s.flushReq:
				case <-t.C:
				}
				t.Stop()
				continue
			}
		}
		since = time.Time{}
		if err := s.spool.next(&snd.batch, s.cfg.BatchSize, maxBatchBytes); err != nil {
			s.logger.Error("influx: cannot read the spool", "err", err)
			s.failed(fmt.Errorf("read spool: %w", err), false)
			if !snd.sleep(ctx, 0) {
				return nil
			}
			continue
		}
		if snd.batch.points == 0 && snd.batch.end == s.spool.position() {
			// Nothing readable and no corrupt bytes skipped: cannot
			// happen while the spool says points are waiting; do not spin.
			s.logger.Error("influx: the spool says points are waiting but none can be read")
			if !snd.sleep(ctx, 0) {
				return nil
			}
			continue
		}
		if snd.batch.points > 0 && !snd.send(ctx, snd.batch.data, snd.batch.points) {
			return nil
		}
		if err := s.spool.commit(&snd.batch); err != nil {
			// The position is kept in memory; a stale ack file only
			// resends points on the next start.
			s.logger.Warn("influx: cannot record the spool position", "err", err)
		}
		// Release a huge batch's buffers rather than keep them for ever.
		if cap(snd.batch.data) > 2*maxBatchBytes || cap(snd.batch.scratch) > 2*maxBatchBytes {
			snd.batch.data, snd.batch.scratch = nil, nil
		}
	}
}

// span is a run of lines in a batch.
type span struct {
	start, end int // byte offsets
	points     int
}

// send writes data (points complete lines) to InfluxDB, retrying until it
// is accepted. A refused request is split in halves until the refused
// points are alone; those are dropped, counted and logged. It returns false
// when ctx ended first.
func (snd *sender) send(ctx context.Context, data []byte, points int) bool {
	s := snd.s
	queue := []span{{0, len(data), points}}
	for len(queue) > 0 {
		sp := queue[0]
		res := snd.post(ctx, data[sp.start:sp.end])
		if ctx.Err() != nil {
			return false
		}
		switch res.class {
		case classOK:
			s.m.batches.WithLabelValues(batchOK).Inc()
			s.m.written.Add(float64(sp.points))
			s.reached(true)
			snd.backoff = s.cfg.MinRetryInterval
			queue = queue[1:]
		case classRefused:
			s.failed(res.err, true)
			if sp.points == 1 {
				s.m.batches.WithLabelValues(batchRefused).Inc()
				s.m.rejected.WithLabelValues(rejectRefused).Inc()
				s.logger.Error("influx: InfluxDB refused a point; dropped",
					"series", seriesOf(data[sp.start:sp.end]), "status", res.status, "err", res.err)
				queue = queue[1:]
				continue
			}
			s.m.batches.WithLabelValues(batchSplit).Inc()
			a, b := splitSpan(data, sp)
			queue = append([]span{a, b}, queue[1:]...)
		default:
			s.m.batches.WithLabelValues(batchRetry).Inc()
			s.m.retries.Inc()
			s.failed(res.err, res.status != 0)
			s.logger.Warn("influx: write failed; retrying", "points", sp.points, "status", res.status, "err", res.err, "retry_in", snd.backoff)
			if !snd.sleep(ctx, res.retryAfter) {
				return false
			}
		}
	}
	return true
}

// splitSpan cuts sp in two at the line boundary nearest its middle line.
func splitSpan(data []byte, sp span) (span, span) {
	half := sp.points / 2
	off := sp.start
	for range half {
		off += bytes.IndexByte(data[off:sp.end], '\n') + 1
	}
	return span{sp.start, off, half}, span{off, sp.end, sp.points - half}
}

// seriesOf is a refused line's measurement and tags, for the log (no field
// values).
func seriesOf(line []byte) string {
	line = bytes.TrimRight(line, "\n")
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == ' ' {
			line = line[:i]
			break
		}
	}
	if len(line) > 300 {
		line = line[:300]
	}
	return string(line)
}

// sleep waits for the back-off (or retryAfter, when InfluxDB asked for a
// longer wait, up to MaxRetryInterval) with ±20 % jitter, then doubles the
// back-off. It returns false when ctx ended first.
func (snd *sender) sleep(ctx context.Context, retryAfter time.Duration) bool {
	cfg := snd.s.cfg
	d := max(snd.backoff, min(retryAfter, cfg.MaxRetryInterval))
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	snd.backoff = min(2*snd.backoff, cfg.MaxRetryInterval)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Result classes of a write request.
const (
	classOK      = iota // 2xx
	classRetry          // network error, 5xx, 429, auth, missing bucket…: try again later
	classRefused        // InfluxDB refused the data (400, 413, 422): split or drop
)

type postResult struct {
	class      int
	status     int // 0 when InfluxDB did not answer
	err        error
	retryAfter time.Duration
}

// post sends one write request.
func (snd *sender) post(ctx context.Context, body []byte) postResult {
	s := snd.s
	if s.cfg.Gzip {
		snd.gzBuf.Reset()
		if snd.gz == nil {
			snd.gz, _ = gzip.NewWriterLevel(&snd.gzBuf, gzip.BestSpeed) // a valid level: no error
		} else {
			snd.gz.Reset(&snd.gzBuf)
		}
		snd.gz.Write(body) // writes to a bytes.Buffer do not fail
		snd.gz.Close()
		body = snd.gzBuf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.writeURL(), bytes.NewReader(body))
	if err != nil {
		return postResult{class: classRetry, err: err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "wardwatch")
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+s.cfg.Token)
	}
	if s.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return postResult{class: classRetry, err: fmt.Errorf("write to InfluxDB: %w", err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return postResult{class: classOK, status: resp.StatusCode}
	}
	res := postResult{class: classRetry, status: resp.StatusCode,
		err: fmt.Errorf("InfluxDB answered %s: %s", resp.Status, errorMessage(msg))}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		// Only InfluxDB's own refusal drops data: a proxy's or load
		// balancer's 400 is a configuration problem, retried.
		if fromInflux(resp, msg) {
			res.class = classRefused
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
			res.retryAfter = time.Duration(secs) * time.Second
		}
	}
	return res
}

// fromInflux reports whether an error response came from InfluxDB: it
// says so in a header (1.x, 2.x OSS) or its body is InfluxDB's JSON error
// (2.x, Cloud).
func fromInflux(resp *http.Response, body []byte) bool {
	if resp.Header.Get("X-Influxdb-Version") != "" || resp.Header.Get("X-Influxdb-Build") != "" {
		return true
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && (e.Code != "" && e.Message != "" || e.Error != "")
}

// errorMessage extracts the message of an InfluxDB error body.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error != "" {
			return e.Error
		}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// ping checks that InfluxDB answers its health endpoint, for Health.
func (snd *sender) ping(ctx context.Context) {
	s := snd.s
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL+"/health", nil)
	if err != nil {
		return
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.failed(fmt.Errorf("InfluxDB health check: %w", err), false)
		}
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.failed(fmt.Errorf("InfluxDB health check: %s", resp.Status), false)
		return
	}
	s.reached(false)
}

// unavailable wraps a query error from InfluxDB for users.
func unavailable(what string, err error) error {
	return &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "InfluxDB cannot answer " + what + " now", Err: err}
}
