package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pushLogEvery bounds how often Pusher logs failures.
const pushLogEvery = 30 * time.Second

// Pusher plays the hospital's gateways: every Interval it steps the
// simulation to the current time and POSTs each gateway's batch to
// WardWatch in the WardWatch batch format (JSON):
//
//	POST {BaseURL}/ingest/v1/gateways/{key}/sightings
//	Authorization: Bearer {Tokens[key]}
//	{"sightings":[{"ts":…,"tag":"ibeacon:…","rssi":-67,"tx_power":-59},…]}
//
// Like a real fleet of mixed firmware, half the gateways (chosen by key)
// send "ts" as an RFC 3339 string and the others as epoch seconds.
type Pusher struct {
	BaseURL  string            // "http://127.0.0.1:8080"
	Tokens   map[string]string // gateway key -> bearer token
	Client   *http.Client      // default: a client with a 10 s timeout
	Interval time.Duration     // default 1s
	Logger   *slog.Logger      // default: discard
}

// Run pushes until ctx is done, then returns nil. Failed pushes are logged
// (at most one line per 30 s, with a count of those not logged) and the
// batch is dropped: the simulation moves on like a gateway with no buffer.
// It returns an error only for an unusable configuration.
func (p *Pusher) Run(ctx context.Context, s *Simulation) error {
	if s == nil {
		return errors.New("sim pusher: no simulation")
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("sim pusher: base URL %q must be an absolute http(s) URL", p.BaseURL)
	}
	interval := p.Interval
	if interval <= 0 {
		interval = time.Second
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pl := &pushLog{logger: logger}
	baseURL := strings.TrimSuffix(p.BaseURL, "/")

	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		for _, b := range s.Step(time.Now().UTC()) {
			if ctx.Err() != nil {
				return nil
			}
			if err := p.push(ctx, client, baseURL, b); err != nil && ctx.Err() == nil {
				pl.failed(b.GatewayKey, err)
			}
		}
	}
}

func (p *Pusher) push(ctx context.Context, client *http.Client, baseURL string, b Batch) error {
	token, ok := p.Tokens[b.GatewayKey]
	if !ok {
		return errors.New("no token for this gateway")
	}
	body, err := EncodeBatch(b, numericTS(b.GatewayKey))
	if err != nil {
		return err
	}
	u := baseURL + "/ingest/v1/gateways/" + url.PathEscape(b.GatewayKey) + "/sightings"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("server answered %s: %s", resp.Status, bytes.TrimSpace(answer))
	}
	return nil
}

// numericTS says whether gateway key sends epoch-second timestamps.
func numericTS(key string) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()%2 == 1
}

// wireSighting is one item of the batch format. TS is a string or a
// json.Number.
type wireSighting struct {
	TS      any     `json:"ts"`
	Tag     string  `json:"tag"`
	RSSI    float64 `json:"rssi"`
	TxPower float64 `json:"tx_power"`
}

// EncodeBatch renders b in the WardWatch JSON batch format, with "ts" as
// epoch seconds (millisecond precision) when numericTS is set and as an
// RFC 3339 UTC string otherwise.
func EncodeBatch(b Batch, numericTS bool) ([]byte, error) {
	items := make([]wireSighting, len(b.Sightings))
	for i, r := range b.Sightings {
		items[i] = wireSighting{Tag: r.TagID, RSSI: r.RSSI, TxPower: r.TxPower}
		if numericTS {
			ms := r.Time.UnixMilli()
			sec, frac := ms/1000, ms%1000
			if frac < 0 {
				sec, frac = sec-1, frac+1000
			}
			items[i].TS = json.Number(strconv.FormatInt(sec, 10) + "." + fmt.Sprintf("%03d", frac))
		} else {
			items[i].TS = r.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	out, err := json.Marshal(struct {
		Sightings []wireSighting `json:"sightings"`
	}{items})
	if err != nil {
		return nil, fmt.Errorf("encode batch of %s: %w", b.GatewayKey, err)
	}
	return out, nil
}

// pushLog rate-limits failure logs.
type pushLog struct {
	logger     *slog.Logger
	last       time.Time
	suppressed int
}

func (l *pushLog) failed(key string, err error) {
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < pushLogEvery {
		l.suppressed++
		return
	}
	l.logger.Warn("sim: push failed", "gateway", key, "err", err, "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}
