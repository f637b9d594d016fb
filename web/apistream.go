package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// apiPrefix is the REST API's path prefix.
const apiPrefix = "/api/v1/"

//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the hand-written OpenAPI document of /api/v1. It
// needs no token: it describes the API, not the hospital.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(openAPIDocument)
	})
}

var errAPINoRoute = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such API route (check the method and the path; see /api/v1/openapi.json).")

// handleAPINotFound answers every /api/v1 request no route matches, as a
// JSON error.
func handleAPINotFound(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, r, logger, errAPINoRoute)
	})
}

// Stream settings.
const (
	streamHeartbeat     = 15 * time.Second
	streamReadingsEvery = time.Second
	streamWriteTimeout  = 10 * time.Second
	streamBuffer        = 64 // batches or events queued per client before it is dropped
)

// Stream topics.
const (
	topicPositions = "positions"
	topicReadings  = "readings"
	topicAlerts    = "alerts"
)

// parseTopics reads the topics parameter ("" means all available).
func parseTopics(raw string, available map[string]bool) (map[string]bool, error) {
	out := map[string]bool{}
	if raw == "" {
		for t, ok := range available {
			if ok {
				out[t] = true
			}
		}
		return out, nil
	}
	for t := range strings.SplitSeq(raw, ",") {
		t = strings.TrimSpace(t)
		ok, known := available[t]
		switch {
		case !known:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unknown topic %q; the topics are positions, readings and alerts.", shortField(t))
		case !ok:
			return nil, wardwatch.Errorf(wardwatch.EUNAVAILABLE, "The %s topic is not available on this server.", t)
		}
		out[t] = true
	}
	return out, nil
}

type apiStreamReading struct {
	SensorID string   `json:"sensor_id"`
	Metric   string   `json:"metric"`
	Value    *float64 `json:"value"`
	Unit     string   `json:"unit"`
	Time     *string  `json:"time"`
}

type apiStreamAlert struct {
	Seq   uint64       `json:"seq"`
	Alert apiAlertJSON `json:"alert"`
}

// handleStream serves GET /api/v1/stream?topics=positions,readings,alerts
// as Server-Sent Events: "position", "reading" and "alert" events with
// JSON data, a comment heartbeat every 15 s. It ends when the client goes,
// the server shuts down, or the client falls so far behind that events
// would be lost: then a final "dropped" event asks it to reconnect.
func (s *apiServer) handleStream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, err := parseListQuery(r.URL.RawQuery, "topics")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		topics, err := parseTopics(q.Filters["topics"], map[string]bool{
			topicPositions: s.cfg.Positions != nil,
			topicReadings:  s.cfg.LatestReadings != nil,
			topicAlerts:    s.cfg.Alerts != nil,
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if topics[topicAlerts] && !viewerFrom(ctx).can(permAlerts) {
			s.fail(w, r, errForbidden)
			return
		}

		var positions <-chan []wardwatch.Position
		if topics[topicPositions] {
			ch, cancel := s.cfg.Positions(streamBuffer)
			defer cancel()
			positions = ch
		}
		var alertEvents <-chan AlertEvent
		if topics[topicAlerts] {
			ch, cancel := s.cfg.Alerts.Subscribe()
			defer cancel()
			alertEvents = ch
		}
		var readingTick <-chan time.Time
		seen := map[[2]string]time.Time{}
		if topics[topicReadings] {
			t := time.NewTicker(streamReadingsEvery)
			defer t.Stop()
			readingTick = t.C
		}
		heartbeat := time.NewTicker(streamHeartbeat)
		defer heartbeat.Stop()

		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)

		var buf bytes.Buffer
		send := func() bool {
			if buf.Len() == 0 {
				return true
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			_, err := w.Write(buf.Bytes())
			buf.Reset()
			if err == nil {
				err = rc.Flush()
			}
			return err == nil
		}
		event := func(name string, v any) {
			b, err := json.Marshal(v)
			if err != nil {
				s.logger.LogAttrs(ctx, slog.LevelError, "encode stream event", slog.String("event", name), slog.String("error", err.Error()))
				return
			}
			fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", name, b)
		}
		readings := func() {
			for _, rd := range s.cfg.LatestReadings() {
				k := [2]string{rd.SensorID, string(rd.Metric)}
				if last, ok := seen[k]; ok && !rd.Time.After(last) {
					continue
				}
				seen[k] = rd.Time
				event("reading", apiStreamReading{SensorID: rd.SensorID, Metric: string(rd.Metric), Value: apiFloat(rd.Value),
					Unit: rd.Metric.Unit(), Time: apiTime(rd.Time)})
			}
		}
		drop := func(why string) {
			s.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "API stream client dropped", slog.String("reason", why))
			s.metrics.streamDropped.Inc()
			event("dropped", map[string]string{"reason": why})
			send()
		}

		buf.WriteString(": WardWatch event stream\nretry: 5000\n\n")
		if topics[topicReadings] {
			readings()
		}
		if !send() {
			return
		}
		var lastSeq uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-heartbeat.C:
				buf.WriteString(": heartbeat\n\n")
			case <-readingTick:
				readings()
			case batch, ok := <-positions:
				if !ok {
					drop("too slow for the position stream")
					return
				}
				for _, p := range batch {
					event("position", positionOut(p))
				}
			case e, ok := <-alertEvents:
				if !ok {
					drop("alert stream closed")
					return
				}
				if lastSeq != 0 && e.Seq > lastSeq+1 {
					drop("too slow for the alert stream")
					return
				}
				lastSeq = e.Seq
				event("alert", apiStreamAlert{Seq: e.Seq, Alert: alertOut(e.Alert)})
			}
			if !send() {
				return
			}
		}
	})
}
