package replay

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch/tracker"
)

// The simulated hospital benchmark of docs/ACCURACY.md. Its targets come
// from the location-engine issue: median ≤ 1.0 m, p90 ≤ 2.0 m, room
// correct ≥ 97 %, a stationary tag changes room at most once per hour.
//
//	go test -run TestCorridorAccuracy -v ./replay/
func TestCorridorAccuracy(t *testing.T) {
	all, _, worst := corridorFigures(t, Corridor{Seed: 1})
	if all.Median > 1.0 {
		t.Errorf("median error %.2f m, want ≤ 1.0 m", all.Median)
	}
	if all.P90 > 2.0 {
		t.Errorf("p90 error %.2f m, want ≤ 2.0 m", all.P90)
	}
	if all.RoomCorrect < 0.97 {
		t.Errorf("room correct %.1f %%, want ≥ 97 %%", 100*all.RoomCorrect)
	}
	// "A stationary tag changes room at most once per hour": every one of
	// them, over the hour.
	if worst.ZoneChanges > 1 {
		t.Errorf("stationary tag %s changed room %d times in the hour, want ≤ 1", worst.TagID, worst.ZoneChanges)
	}
}

// TestCorridorTargetsSeeds2to8 asserts the same targets on seven more
// seeds of the ward (every tag's trajectory, every advertisement's noise
// drawn anew), so that TestCorridorAccuracy's seed is not a lucky one. Each
// seed is an hour of a simulated ward: about 5 s of CPU.
func TestCorridorTargetsSeeds2to8(t *testing.T) {
	if testing.Short() {
		t.Skip("hours of a simulated ward; run without -short")
	}
	for seed := uint64(2); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			_, sum := replayWard(t, Corridor{Seed: seed})
			a, worst := sum.Overall, worstStationary(sum)
			t.Logf("median %.2f m, p90 %.2f m, room %.2f %%, worst stationary tag %s: %d room changes", a.Median, a.P90, 100*a.RoomCorrect, worst.TagID, worst.ZoneChanges)
			if !meetsWardTargets(a, worst) {
				t.Errorf("misses a target: want median ≤ 1.0 m, p90 ≤ 2.0 m, room ≥ 97 %%, every stationary tag ≤ 1 room change in the hour")
			}
		})
	}
}

// TestCorridorHarder reports (and does not assert) the same ward with a
// harsher channel than the issue's: a static shadowing field of σ 3 dB per
// gateway, which no averaging removes, and 3 dB lost per room wall, which
// the engine's model does not know about.
//
//	go test -run TestCorridorHarder -v ./replay/
func TestCorridorHarder(t *testing.T) {
	radio := HospitalRadio()
	radio.FieldSigma, radio.WallLoss = 3, 3
	_, _, _ = corridorFigures(t, Corridor{Seed: 1, Radio: radio})
}

// corridorFigures replays the ward c through the engine and the baselines,
// logs the figures and returns the engine's over all tags and over the
// stationary ones, and the stationary tag that changed room most often.
func corridorFigures(t *testing.T, c Corridor) (all, still Accuracy, worst TagSummary) {
	t.Helper()
	if testing.Short() {
		t.Skip("an hour of a simulated ward; run without -short")
	}
	ds, sum := replayWard(t, c)
	all, still, worst = sum.Overall, sum.Subset(static), worstStationary(sum)

	calibrated := rangeModel{rssiAt1m: -59, pathLoss: 2.5, calibrated: true}
	plain, err := baselinePerSample(ds, calibrated)
	if err != nil {
		t.Fatal(err)
	}
	def := tracker.DefaultConfig()
	windowed, err := baselineWindowed(ds, calibrated, DefaultStep, def.Window)
	if err != nil {
		t.Fatal(err)
	}

	c = c.withDefaults()
	t.Logf("scenario: hospital corridor, %d rooms a side (%.0f×%.0f m), corridor %.1f m, %d gateways at z %.1f m, tags at z %.1f m, %s, %d moving (%.1f m/s, dwell %s–%s) + %d stationary tags, seed %d",
		c.RoomsPerSide, c.RoomWidth, c.RoomDepth, c.CorridorWidth, len(ds.Gateways), c.GatewayZ, c.TagHeight, c.Duration,
		c.Moving, c.Speed, c.MinDwell, c.MaxDwell, c.Stationary, c.Seed)
	t.Logf("radio: %+v; %d sightings; engine: tracker.DefaultConfig(), step %s", c.Radio, len(ds.Sightings), DefaultStep)
	logAccuracy(t, "engine, all tags", all, true)
	logAccuracy(t, "engine, stationary tags", still, true)
	logAccuracy(t, "engine, moving tags", sum.Subset(walker), true)
	hist := map[int]int{}
	for _, ts := range sum.Tags {
		if static(ts.TagID) {
			hist[ts.ZoneChanges]++
		}
	}
	var parts []string
	for n := 0; len(parts) < len(hist); n++ {
		if k := hist[n]; k > 0 {
			parts = append(parts, fmt.Sprintf("%d with %d", k, n))
		}
	}
	t.Logf("engine, stationary tags by room changes in the hour: %s", strings.Join(parts, ", "))
	logAccuracy(t, "1/d² centroid per advertisement, all", plain.Overall, true)
	logAccuracy(t, "1/d² centroid per advertisement, stationary", plain.Subset(static), true)
	logAccuracy(t, "1/d² centroid, 4 s median window, all", windowed.Overall, true)
	logAccuracy(t, "1/d² centroid, 4 s median window, stationary", windowed.Subset(static), true)
	return all, still, worst
}

// logAccuracy prints one line of figures.
func logAccuracy(t *testing.T, name string, a Accuracy, rooms bool) {
	t.Helper()
	line := "%-48s n %6d  mean %.2f  median %.2f  p90 %.2f  p95 %.2f  max %.2f m"
	args := []any{name, a.N, a.Mean, a.Median, a.P90, a.P95, a.Max}
	if rooms {
		line += "  room %.1f %%  zone changes %.2f/h (true %.2f/h)"
		args = append(args, 100*a.RoomCorrect, a.ZoneChangesPerHour, a.TruthZoneChangesPerHour)
	}
	t.Logf(line, args...)
}

// TestCorridorSeeds reports the ward benchmark over several seeds, to show
// how much TestCorridorAccuracy's single seed depends on luck. An hour per
// seed is too slow for every run, so it runs only when asked:
//
//	WARDWATCH_ACCURACY_SEEDS=8 go test -run TestCorridorSeeds -v -timeout 40m ./replay/
//	WARDWATCH_ACCURACY_SEED=4 go test -run TestCorridorSeeds -v ./replay/     # one seed (or a list: 3,4,6)
//
// It reports and does not assert (TestCorridorAccuracy and
// TestCorridorTargetsSeeds2to8 assert seeds 1–8): of seeds 1–32, 27 meet
// every target and 5 have one stationary tag that changes room two or
// three times in the hour (docs/ACCURACY.md).
func TestCorridorSeeds(t *testing.T) {
	seeds, err := accuracySeeds(os.Getenv("WARDWATCH_ACCURACY_SEEDS"), os.Getenv("WARDWATCH_ACCURACY_SEED"))
	if err != nil {
		t.Fatal(err)
	}
	if len(seeds) == 0 {
		t.Skip("set WARDWATCH_ACCURACY_SEEDS=N to replay seeds 1..N, or WARDWATCH_ACCURACY_SEED=4 (or 3,4,6) for chosen seeds")
	}
	for _, seed := range seeds {
		_, sum := replayWard(t, Corridor{Seed: seed})
		worst := worstStationary(sum)
		verdict := "meets every target"
		if !meetsWardTargets(sum.Overall, worst) {
			verdict = "MISSES a target"
		}
		t.Logf("seed %d: median %.2f m  p90 %.2f m  room %.2f %% (stationary %.2f %%, moving %.2f %%)  worst stationary tag %d room changes/h (%s): %s",
			seed, sum.Overall.Median, sum.Overall.P90, 100*sum.Overall.RoomCorrect,
			100*sum.Subset(static).RoomCorrect, 100*sum.Subset(walker).RoomCorrect, worst.ZoneChanges, worst.TagID, verdict)
	}
}

// Tags of the simulated ward, by what they do.
func static(tag string) bool { return strings.HasPrefix(tag, "static-") }
func walker(tag string) bool { return strings.HasPrefix(tag, "walker-") }

// replayWard simulates the ward c and replays it through the engine with
// its default configuration.
func replayWard(t *testing.T, c Corridor) (Dataset, Summary) {
	t.Helper()
	ds := HospitalCorridor(c)
	sum, err := Run(Options{Gateways: ds.Gateways, Sightings: ds.Sightings, Zones: ds.Zones, Truth: ds.Truth})
	if err != nil {
		t.Fatal(err)
	}
	return ds, sum
}

// worstStationary is the first stationary tag that changed room most often.
func worstStationary(sum Summary) TagSummary {
	var worst TagSummary
	for _, ts := range sum.Tags {
		if static(ts.TagID) && (ts.ZoneChanges > worst.ZoneChanges || worst.TagID == "") {
			worst = ts
		}
	}
	return worst
}

// meetsWardTargets reports whether a replay of the ward meets the
// location-engine issue's four targets: median ≤ 1.0 m, p90 ≤ 2.0 m, room
// correct ≥ 97 %, no stationary tag changing room more than once in the
// hour.
func meetsWardTargets(a Accuracy, worst TagSummary) bool {
	return a.Median <= 1.0 && a.P90 <= 2.0 && a.RoomCorrect >= 0.97 && worst.ZoneChanges <= 1
}

// accuracySeeds is the seeds TestCorridorSeeds replays: 1..N for
// WARDWATCH_ACCURACY_SEEDS=N, or the comma-separated list of
// WARDWATCH_ACCURACY_SEED (which wins when both are set).
func accuracySeeds(upTo, list string) ([]uint64, error) {
	if list = strings.TrimSpace(list); list != "" {
		var seeds []uint64
		for _, f := range strings.Split(list, ",") {
			s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil || s == 0 {
				return nil, fmt.Errorf("WARDWATCH_ACCURACY_SEED: %q is not a seed (a positive integer)", f)
			}
			seeds = append(seeds, s)
		}
		return seeds, nil
	}
	if upTo = strings.TrimSpace(upTo); upTo == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(upTo)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("WARDWATCH_ACCURACY_SEEDS: %q is not a count of seeds", upTo)
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds, nil
}
