package main

import (
	"fmt"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/tracker/fingerprint"
)

// radioSurvey is the radio-map survey of fingerprint mode
// (tracker.survey_sightings and tracker.survey_truth): read once at start,
// turned into a map in the engine's IDs whenever the site is loaded, since
// admins may add floors and gateways meanwhile.
type radioSurvey struct {
	points []replay.SurveyPoint
}

// loadRadioSurvey reads the survey's sightings and path in the replay
// formats (the files `wardwatch replay --survey-sightings --survey-truth`
// reads), one second per survey point as replay does.
func loadRadioSurvey(sightingsPath, truthPath string) (*radioSurvey, error) {
	ss, err := readInput(sightingsPath, replay.ReadSightings)
	if err != nil {
		return nil, fmt.Errorf("radio-map survey: %w", err)
	}
	truth, err := readInput(truthPath, replay.ReadTruth)
	if err != nil {
		return nil, fmt.Errorf("radio-map survey: %w", err)
	}
	points := replay.SurveyFromSightings(ss, truth, time.Second)
	if len(points) == 0 {
		return nil, fmt.Errorf("radio-map survey: the sightings in %s and the path in %s do not overlap in time", sightingsPath, truthPath)
	}
	return &radioSurvey{points: points}, nil
}

// mapFor builds the radio map in site's IDs: survey floors are floor levels
// and gateways are gateway keys, as ingest.record_dir records them. Each
// reading gets its gateway's RxOffset, as the engine's do before it asks the
// map. Points on floors the site does not have, and gateways it does not
// know, are left out; a map with nothing left is an error.
func (s *radioSurvey) mapFor(site tracker.Site) (*fingerprint.Map, error) {
	floorByLevel := make(map[int64]int64, len(site.Floors))
	for _, f := range site.Floors {
		floorByLevel[int64(f.Level)] = f.ID
	}
	gateways := make(map[string]wardwatch.Gateway, len(site.Gateways))
	for _, g := range site.Gateways {
		gateways[g.Key] = g
	}
	samples := make([]fingerprint.Sample, 0, len(s.points))
	for _, p := range s.points {
		fid, ok := floorByLevel[p.Floor]
		if !ok {
			continue
		}
		sample := fingerprint.Sample{Floor: fid, At: wardwatch.Point{X: p.X, Y: p.Y}, RSSI: make(map[int64]float64, len(p.RSSI))}
		for key, rssi := range p.RSSI {
			if g, ok := gateways[key]; ok && g.FloorID != 0 {
				sample.RSSI[g.ID] = rssi + g.RxOffset
			}
		}
		if len(sample.RSSI) > 0 {
			samples = append(samples, sample)
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("radio-map survey: none of its %d points is on a floor of this site heard by its gateways (floors are levels, gateways keys)", len(s.points))
	}
	m, err := fingerprint.Build(samples, fingerprint.Options{})
	if err != nil {
		return nil, fmt.Errorf("radio-map survey: %w", err)
	}
	return m, nil
}
