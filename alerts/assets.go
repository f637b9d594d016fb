package alerts

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// AssetStatus is a tracked asset's lifecycle status (domain-requirements §4
// defaults, "Asset lifecycle states").
type AssetStatus string

// Asset statuses.
const (
	StatusAvailable    AssetStatus = "available" // clean, ready for use
	StatusInUse        AssetStatus = "in_use"
	StatusSoiled       AssetStatus = "soiled"
	StatusInCleaning   AssetStatus = "in_cleaning"
	StatusInRepair     AssetStatus = "in_repair"
	StatusOutOfService AssetStatus = "out_of_service" // recall or hold
	StatusMissing      AssetStatus = "missing"
	StatusRetired      AssetStatus = "retired"
)

// Valid reports whether s is a known status ("" is not).
func (s AssetStatus) Valid() bool {
	switch s {
	case StatusAvailable, StatusInUse, StatusSoiled, StatusInCleaning, StatusInRepair, StatusOutOfService, StatusMissing, StatusRetired:
		return true
	}
	return false
}

// sticky statuses are set by people only; automation never changes them.
func (s AssetStatus) sticky() bool {
	return s == StatusInRepair || s == StatusOutOfService || s == StatusRetired
}

// StatusChange is a status WardWatch set on an asset by automation.
type StatusChange struct {
	AssetID int64
	From    AssetStatus
	To      AssetStatus
	Time    time.Time
	ZoneID  int64
	Reason  string
}

// TrackedAsset is an asset the AssetEvaluator watches.
type TrackedAsset struct {
	ID     int64
	Name   string
	Kind   wardwatch.AssetKind
	Status AssetStatus // "" means unknown
	// Where and when it was last seen, from the store after a restart;
	// zero LastSeen starts its missing clock at configuration.
	ZoneID   int64
	FloorID  int64
	LastSeen time.Time
	// NextPMDue is when its preventive maintenance falls due; zero: none.
	NextPMDue time.Time
	Team      Team // "": biomed
}

// AssetZone is a zone as the asset rules see it.
type AssetZone struct {
	ID      int64
	Name    string
	Kind    wardwatch.ZoneKind
	FloorID int64
}

// Trigger is when a geofence rule fires.
type Trigger string

// Triggers.
const (
	// TriggerEnter raises when an asset enters a zone of the kind; the
	// alert stays active while it is inside.
	TriggerEnter Trigger = "enter"
	// TriggerExit raises when an asset leaves a zone of the kind; the
	// alert returns to normal at once and waits for acknowledgement.
	TriggerExit Trigger = "exit"
)

// ZoneRule is a geofence rule: an asset entering or leaving a zone of a
// kind. Its rule ID is "zone_<trigger>:<kind>".
type ZoneRule struct {
	Kind     wardwatch.ZoneKind
	Trigger  Trigger
	Name     string
	Priority Priority
	Team     Team
}

func (z ZoneRule) rule() Rule {
	return Rule{ID: "zone_" + string(z.Trigger) + ":" + string(z.Kind), Name: z.Name, Category: CategoryAsset,
		Priority: z.Priority, Team: z.Team}
}

// DefaultZoneRules are the geofences of domain-requirements §4 defaults:
// entering trash or linen holding is high priority to EVS (the usual loss
// paths, §4.1); crossing a building exit or reaching the loading dock is
// medium to biomed.
func DefaultZoneRules() []ZoneRule {
	return []ZoneRule{
		{Kind: wardwatch.ZoneTrashHolding, Trigger: TriggerEnter, Name: "Equipment in trash holding", Priority: PriorityHigh, Team: TeamEVS},
		{Kind: wardwatch.ZoneLinenHolding, Trigger: TriggerEnter, Name: "Equipment in soiled linen holding", Priority: PriorityHigh, Team: TeamEVS},
		{Kind: wardwatch.ZoneExit, Trigger: TriggerEnter, Name: "Equipment crossed a building exit", Priority: PriorityMedium, Team: TeamBiomed},
		{Kind: wardwatch.ZoneLoadingDock, Trigger: TriggerEnter, Name: "Equipment at the loading dock", Priority: PriorityMedium, Team: TeamBiomed},
	}
}

// PARLevel is a stock level for one asset kind in one unit's equipment
// rooms (domain-requirements §4 defaults, "PAR"): clean stock (available
// assets in CleanZones) must not fall below CleanMin, and soiled stock
// (assets in SoiledZones) must not exceed SoiledMax when it is set.
type PARLevel struct {
	ID          string // lower-case letters, digits and "_.:-"
	Name        string // "4B infusion pumps"
	Kind        wardwatch.AssetKind
	CleanZones  []int64
	SoiledZones []int64
	CleanMin    int
	SoiledMax   *int // nil: no maximum
}

// AssetConfig is everything the AssetEvaluator watches.
type AssetConfig struct {
	Assets    []TrackedAsset
	Zones     []AssetZone
	ZoneRules []ZoneRule // nil: DefaultZoneRules()
	PAR       []PARLevel
	// MissingAfter is how long an asset may go unseen (default 7 days);
	// PMWarn is how far ahead PM due warns (default 30 days).
	MissingAfter time.Duration
	PMWarn       time.Duration
	Builtins     []Rule
}

// Defaults of the AssetEvaluator (domain-requirements §4 defaults).
const (
	DefaultMissingAfter = 7 * 24 * time.Hour
	DefaultPMWarn       = 30 * 24 * time.Hour
)

// AssetEvaluator watches tracked assets: geofences, missing assets, PM
// dates, PAR levels, and status automation by zone kind (entering a soiled
// utility room makes an asset soiled; entering a clean equipment room makes
// it available; leaving one for a patient room puts it in use). It is safe
// for concurrent use.
type AssetEvaluator struct {
	mu       sync.Mutex
	assets   map[int64]*assetState
	order    []*assetState
	zones    map[int64]AssetZone
	enter    map[wardwatch.ZoneKind][]ZoneRule
	exit     map[wardwatch.ZoneKind][]ZoneRule
	par      []*parState
	missing  time.Duration
	pmWarn   time.Duration
	builtins builtins
	stats    Stats
}

type assetState struct {
	TrackedAsset
	baseline      time.Time
	zoneSince     time.Time
	beforeMiss    AssetStatus
	zoneActive    map[string]bool // active enter-geofence rule IDs
	missingAlert  bool
	pmDue, pmOver bool
}

type parState struct {
	PARLevel
	clean, soiled      map[int64]bool
	cleanLow, soilHigh bool
}

// NewAssetEvaluator returns an AssetEvaluator watching cfg from now on.
func NewAssetEvaluator(cfg AssetConfig, now time.Time) (*AssetEvaluator, error) {
	e := &AssetEvaluator{assets: make(map[int64]*assetState)}
	if _, err := e.Configure(cfg, now); err != nil {
		return nil, err
	}
	return e, nil
}

// Stats returns the refusal counters (Readings counts positions and zone
// changes judged).
func (e *AssetEvaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Configure replaces the configuration at now, keeping what is known of
// assets still listed. Alerts of removed assets, zone rules and PAR levels
// are cleared.
func (e *AssetEvaluator) Configure(cfg AssetConfig, now time.Time) (Output, error) {
	b, err := newBuiltins(cfg.Builtins)
	if err != nil {
		return Output{}, err
	}
	zrules := cfg.ZoneRules
	if zrules == nil {
		zrules = DefaultZoneRules()
	}
	enter, exit := make(map[wardwatch.ZoneKind][]ZoneRule), make(map[wardwatch.ZoneKind][]ZoneRule)
	for _, z := range zrules {
		if z.Kind == "" || (z.Trigger != TriggerEnter && z.Trigger != TriggerExit) {
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A zone rule needs a zone kind and a trigger (enter or exit).")
		}
		if err := z.rule().Validate(); err != nil {
			return Output{}, err
		}
		if z.Trigger == TriggerEnter {
			enter[z.Kind] = append(enter[z.Kind], z)
		} else {
			exit[z.Kind] = append(exit[z.Kind], z)
		}
	}
	zones := make(map[int64]AssetZone, len(cfg.Zones))
	for _, z := range cfg.Zones {
		if z.ID <= 0 {
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A zone needs a positive ID.")
		}
		zones[z.ID] = z
	}
	seen := make(map[int64]bool)
	for _, a := range cfg.Assets {
		switch {
		case a.ID <= 0:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "An asset needs a positive ID.")
		case seen[a.ID]:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Asset %d is listed twice.", a.ID)
		case a.Status != "" && !a.Status.Valid():
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Asset %d has unknown status %q.", a.ID, a.Status)
		case a.Team != "" && !a.Team.Valid():
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Asset %d has unknown team %q.", a.ID, a.Team)
		}
		seen[a.ID] = true
	}
	parIDs := make(map[string]bool)
	for _, p := range cfg.PAR {
		if err := validID(p.ID); err != nil {
			return Output{}, err
		}
		switch {
		case parIDs[p.ID]:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q is listed twice.", p.ID)
		case !p.Kind.Valid():
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q has unknown asset kind %q.", p.ID, p.Kind)
		case p.CleanMin < 0 || p.SoiledMax != nil && *p.SoiledMax < 0:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q: levels cannot be negative.", p.ID)
		case len(p.CleanZones) == 0 && p.CleanMin > 0 || len(p.SoiledZones) == 0 && p.SoiledMax != nil:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q: a level needs the zones it counts.", p.ID)
		}
		parIDs[p.ID] = true
	}
	missing, pmWarn := cfg.MissingAfter, cfg.PMWarn
	if missing <= 0 {
		missing = DefaultMissingAfter
	}
	if pmWarn <= 0 {
		pmWarn = DefaultPMWarn
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	var out Output
	e.builtins, e.zones, e.enter, e.exit, e.missing, e.pmWarn = b, zones, enter, exit, missing, pmWarn

	old := e.assets
	e.assets = make(map[int64]*assetState, len(cfg.Assets))
	e.order = e.order[:0]
	for _, a := range cfg.Assets {
		st := old[a.ID]
		if st == nil {
			st = &assetState{TrackedAsset: a, baseline: now, zoneSince: now, zoneActive: make(map[string]bool)}
			if !a.LastSeen.IsZero() {
				st.baseline, st.zoneSince = a.LastSeen, a.LastSeen
			}
		} else {
			// Keep what WardWatch learnt (zone, last seen, status) unless the
			// configuration says more.
			keep := st.TrackedAsset
			st.TrackedAsset = a
			if a.LastSeen.Before(keep.LastSeen) {
				st.LastSeen, st.ZoneID, st.FloorID = keep.LastSeen, keep.ZoneID, keep.FloorID
			}
			if a.Status == "" {
				st.Status = keep.Status
			}
		}
		delete(old, a.ID)
		// Geofences that no longer apply (rule removed, zone re-kinded).
		for _, id := range sortedKeys(st.zoneActive) {
			if !e.enterRuleIn(id, st.ZoneID) {
				e.clearAsset(st, e.geofence(id), now, "zone rule changed", &out)
				delete(st.zoneActive, id)
			}
		}
		e.assets[a.ID] = st
		e.order = append(e.order, st)
	}
	slices.SortFunc(e.order, func(x, y *assetState) int { return cmp.Compare(x.ID, y.ID) })
	var gone []*assetState
	for _, st := range old {
		gone = append(gone, st)
	}
	slices.SortFunc(gone, func(x, y *assetState) int { return cmp.Compare(x.ID, y.ID) })
	for _, st := range gone {
		for _, id := range sortedKeys(st.zoneActive) {
			e.clearAsset(st, e.geofence(id), now, "asset no longer tracked", &out)
		}
		if st.missingAlert {
			e.clearAsset(st, e.builtins[RuleAssetMissing], now, "asset no longer tracked", &out)
		}
		if st.pmDue {
			e.clearAsset(st, e.builtins[RulePMDue], now, "asset no longer tracked", &out)
		}
		if st.pmOver {
			e.clearAsset(st, e.builtins[RulePMOverdue], now, "asset no longer tracked", &out)
		}
	}

	oldPAR := make(map[string]*parState)
	for _, p := range e.par {
		oldPAR[p.ID] = p
	}
	e.par = e.par[:0]
	for _, p := range cfg.PAR {
		ps := &parState{PARLevel: p, clean: set(p.CleanZones), soiled: set(p.SoiledZones)}
		if o := oldPAR[p.ID]; o != nil {
			ps.cleanLow, ps.soilHigh = o.cleanLow, o.soilHigh
			delete(oldPAR, p.ID)
		}
		e.par = append(e.par, ps)
	}
	for _, id := range sortedKeys(oldPAR) {
		p := oldPAR[id]
		if p.cleanLow {
			out.Changes = append(out.Changes, e.parChange(ChangeClear, p, RulePARCleanLow, now, math.NaN(), "PAR level removed"))
		}
		if p.soilHigh {
			out.Changes = append(out.Changes, e.parChange(ChangeClear, p, RulePARSoiledHigh, now, math.NaN(), "PAR level removed"))
		}
	}
	e.checkPAR(now, &out)
	return out, nil
}

func set(ids []int64) map[int64]bool {
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// enterRuleIn reports whether geofence rule id is an enter rule of zone's
// kind.
func (e *AssetEvaluator) enterRuleIn(id string, zone int64) bool {
	z, ok := e.zones[zone]
	if !ok {
		return false
	}
	for _, r := range e.enter[z.Kind] {
		if r.rule().ID == id {
			return true
		}
	}
	return false
}

// geofence returns the rule of geofence id, or a stand-in for one no longer
// configured.
func (e *AssetEvaluator) geofence(id string) Rule {
	for _, rs := range e.enter {
		for _, r := range rs {
			if r.rule().ID == id {
				return r.rule()
			}
		}
	}
	return Rule{ID: id, Name: "Geofence " + id, Category: CategoryAsset, Priority: PriorityLow, Team: TeamBiomed}
}

func (st *assetState) label() string {
	if st.Name != "" {
		return st.Name
	}
	return "Asset " + strconv.FormatInt(st.ID, 10)
}

func (st *assetState) team(r Rule) Team {
	if r.Team != "" {
		return r.Team
	}
	if st.Team != "" {
		return st.Team
	}
	return TeamBiomed
}

func (e *AssetEvaluator) assetChange(typ ChangeType, st *assetState, r Rule, at, since time.Time, msg string) Change {
	key := Key{Rule: r.ID, Subject: Subject{Kind: SubjectAsset, ID: strconv.FormatInt(st.ID, 10)}}
	return newChange(typ, r, key, st.team(r), 0, st.label(), at, since, msg)
}

func (e *AssetEvaluator) clearAsset(st *assetState, r Rule, at time.Time, why string, out *Output) {
	out.Changes = append(out.Changes, e.assetChange(ChangeClear, st, r, at, at, st.label()+": "+r.Name+" cleared: "+why))
}

func (e *AssetEvaluator) zoneName(id int64) string {
	if z, ok := e.zones[id]; ok && z.Name != "" {
		return z.Name
	}
	if id == 0 {
		return "no zone"
	}
	return "zone " + strconv.FormatInt(id, 10)
}

// ObservePosition takes a position from the location engine: the asset was
// seen at p.Time, in p.ZoneID. Positions of unknown assets are ignored
// (Stats.Unbound), and older ones than the asset's last (Stats.Late).
func (e *AssetEvaluator) ObservePosition(p wardwatch.Position) (Output, error) {
	if p.AssetID <= 0 || p.Time.IsZero() {
		e.mu.Lock()
		e.stats.Rejected++
		e.mu.Unlock()
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A position needs an asset and a time.")
	}
	return e.seen(p.AssetID, p.ZoneID, p.FloorID, p.Time, true)
}

// ObserveZoneChange takes a zone change from the location engine.
func (e *AssetEvaluator) ObserveZoneChange(z wardwatch.ZoneChange) (Output, error) {
	if z.AssetID <= 0 || z.Time.IsZero() {
		e.mu.Lock()
		e.stats.Rejected++
		e.mu.Unlock()
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A zone change needs an asset and a time.")
	}
	return e.seen(z.AssetID, z.ToZone, z.FloorID, z.Time, false)
}

func (e *AssetEvaluator) seen(asset, zone, floor int64, t time.Time, position bool) (Output, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.assets[asset]
	if st == nil {
		e.stats.Unbound++
		return Output{}, nil
	}
	if position && !t.After(st.LastSeen) || !position && t.Before(st.LastSeen) {
		e.stats.Late++
		return Output{}, nil
	}
	e.stats.Readings++
	var out Output
	st.LastSeen = t
	if st.missingAlert {
		st.missingAlert = false
		e.clearAsset(st, e.builtins[RuleAssetMissing], t, "seen in "+e.zoneName(zone), &out)
		if st.Status == StatusMissing {
			to := st.beforeMiss
			if to == "" {
				to = StatusAvailable
			}
			e.setStatus(st, to, t, zone, "seen again", &out)
		}
	}
	if zone != st.ZoneID {
		e.move(st, zone, t, &out)
	}
	if floor != 0 {
		st.FloorID = floor
	}
	e.checkPAR(t, &out)
	return out, nil
}

// move takes st from its zone into zone at t: geofences and status
// automation.
func (e *AssetEvaluator) move(st *assetState, zone int64, t time.Time, out *Output) {
	from, fromOK := e.zones[st.ZoneID]
	to, toOK := e.zones[zone]
	st.ZoneID, st.zoneSince = zone, t
	if toOK && to.FloorID != 0 {
		st.FloorID = to.FloorID
	}
	// Exit geofences: momentary.
	if fromOK {
		for _, zr := range e.exit[from.Kind] {
			r := zr.rule()
			msg := fmt.Sprintf("%s left %s for %s", st.label(), e.zoneName(from.ID), e.zoneName(zone))
			out.Changes = append(out.Changes, e.assetChange(ChangeRaise, st, r, t, t, msg),
				e.assetChange(ChangeClear, st, r, t, t, msg))
		}
	}
	// Enter geofences: active while inside.
	want := make(map[string]ZoneRule)
	if toOK {
		for _, zr := range e.enter[to.Kind] {
			want[zr.rule().ID] = zr
		}
	}
	for _, id := range sortedKeys(st.zoneActive) {
		if _, ok := want[id]; !ok {
			delete(st.zoneActive, id)
			e.clearAsset(st, e.geofence(id), t, "left for "+e.zoneName(zone), out)
		}
	}
	for _, id := range sortedKeys(want) {
		if !st.zoneActive[id] {
			st.zoneActive[id] = true
			r := want[id].rule()
			out.Changes = append(out.Changes, e.assetChange(ChangeRaise, st, r, t, t,
				fmt.Sprintf("%s entered %s", st.label(), e.zoneName(zone))))
		}
	}
	// Status automation (domain-requirements §4 defaults).
	if st.Status.sticky() || st.Status == StatusMissing {
		return
	}
	clean := func(k wardwatch.ZoneKind) bool {
		return k == wardwatch.ZoneCleanUtility || k == wardwatch.ZoneCleanEquipment
	}
	switch {
	case toOK && to.Kind == wardwatch.ZoneSoiledUtility && st.Status != StatusSoiled:
		e.setStatus(st, StatusSoiled, t, zone, "entered soiled utility "+e.zoneName(zone), out)
	case toOK && clean(to.Kind) && st.Status != StatusAvailable:
		e.setStatus(st, StatusAvailable, t, zone, "entered clean equipment room "+e.zoneName(zone), out)
	case fromOK && clean(from.Kind) && toOK && to.Kind == wardwatch.ZoneRoom && st.Status == StatusAvailable:
		e.setStatus(st, StatusInUse, t, zone, "taken from "+e.zoneName(from.ID)+" to patient room "+e.zoneName(zone), out)
	}
}

func (e *AssetEvaluator) setStatus(st *assetState, to AssetStatus, t time.Time, zone int64, why string, out *Output) {
	out.Statuses = append(out.Statuses, StatusChange{AssetID: st.ID, From: st.Status, To: to, Time: t, ZoneID: zone, Reason: why})
	st.Status = to
}

// SetStatus records a status set by a person (a scan in the biomed or EVS
// app: in repair, cleaned…), so automation and PAR counts follow it.
func (e *AssetEvaluator) SetStatus(asset int64, s AssetStatus, now time.Time) (Output, error) {
	if !s.Valid() {
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Unknown asset status %q.", s)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.assets[asset]
	if st == nil {
		return Output{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "Asset %d is not tracked.", asset)
	}
	st.Status = s
	var out Output
	e.checkPAR(now, &out)
	return out, nil
}

// Tick advances time to now: assets missing, PM due and overdue, PAR
// levels.
func (e *AssetEvaluator) Tick(now time.Time) Output {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out Output
	for _, st := range e.order {
		base := st.LastSeen
		if st.baseline.After(base) {
			base = st.baseline
		}
		if due := base.Add(e.missing); !st.missingAlert && !now.Before(due) && st.Status != StatusRetired {
			st.missingAlert = true
			r := e.builtins[RuleAssetMissing]
			out.Changes = append(out.Changes, e.assetChange(ChangeRaise, st, r, due, base,
				fmt.Sprintf("%s not seen for %s (last in %s)", st.label(), fmtDuration(e.missing), e.zoneName(st.ZoneID))))
			if !st.Status.sticky() && st.Status != StatusMissing {
				st.beforeMiss = st.Status
				e.setStatus(st, StatusMissing, due, st.ZoneID, "not seen for "+fmtDuration(e.missing), &out)
			}
		}
		e.checkPM(st, now, &out)
	}
	e.checkPAR(now, &out)
	return out
}

func (e *AssetEvaluator) checkPM(st *assetState, now time.Time, out *Output) {
	due := st.NextPMDue
	over := !due.IsZero() && !now.Before(due)
	soon := !due.IsZero() && !over && !now.Before(due.Add(-e.pmWarn))
	at := func(t time.Time) time.Time {
		if t.Before(st.baseline) {
			return st.baseline
		}
		return t
	}
	switch {
	case soon && !st.pmDue:
		st.pmDue = true
		out.Changes = append(out.Changes, e.assetChange(ChangeRaise, st, e.builtins[RulePMDue], at(due.Add(-e.pmWarn)), due.Add(-e.pmWarn),
			fmt.Sprintf("%s: preventive maintenance due on %s", st.label(), due.UTC().Format(time.DateOnly))))
	case !soon && st.pmDue:
		st.pmDue = false
		why := "new PM date"
		if over {
			why = "PM overdue"
		}
		e.clearAsset(st, e.builtins[RulePMDue], now, why, out)
	}
	switch {
	case over && !st.pmOver:
		st.pmOver = true
		out.Changes = append(out.Changes, e.assetChange(ChangeRaise, st, e.builtins[RulePMOverdue], at(due), due,
			fmt.Sprintf("%s: preventive maintenance overdue since %s", st.label(), due.UTC().Format(time.DateOnly))))
	case !over && st.pmOver:
		st.pmOver = false
		e.clearAsset(st, e.builtins[RulePMOverdue], now, "PM done", out)
	}
}

// PARStatus is a PAR level's stock.
type PARStatus struct {
	Level      PARLevel
	Clean      int // available assets of the kind in its clean zones
	Soiled     int // assets of the kind in its soiled zones
	CleanLow   bool
	SoiledHigh bool
}

// counts returns p's clean and soiled stock.
func (e *AssetEvaluator) counts(p *parState) (clean, soiled int) {
	for _, st := range e.order {
		if st.Kind != p.Kind || st.Status == StatusMissing || st.Status == StatusRetired {
			continue
		}
		if p.clean[st.ZoneID] && st.Status == StatusAvailable {
			clean++
		}
		if p.soiled[st.ZoneID] {
			soiled++
		}
	}
	return clean, soiled
}

func (e *AssetEvaluator) parChange(typ ChangeType, p *parState, ruleID string, at time.Time, v float64, msg string) Change {
	r := e.builtins[ruleID]
	name := p.Name
	if name == "" {
		name = "PAR " + p.ID
	}
	c := newChange(typ, r, Key{Rule: r.ID, Subject: Subject{Kind: SubjectPAR, ID: p.ID}}, "", 0, name, at, at, msg)
	c.Value, c.Peak, c.Trough = v, v, v
	return c
}

func (e *AssetEvaluator) checkPAR(now time.Time, out *Output) {
	for _, p := range e.par {
		clean, soiled := e.counts(p)
		low := clean < p.CleanMin
		high := p.SoiledMax != nil && soiled > *p.SoiledMax
		name := p.Name
		if name == "" {
			name = "PAR " + p.ID
		}
		if low != p.cleanLow {
			p.cleanLow = low
			typ, msg := ChangeRaise, fmt.Sprintf("%s: %d clean %s (minimum %d)", name, clean, p.Kind.Label(), p.CleanMin)
			if !low {
				typ = ChangeClear
			}
			out.Changes = append(out.Changes, e.parChange(typ, p, RulePARCleanLow, now, float64(clean), msg))
		}
		if high != p.soilHigh {
			p.soilHigh = high
			typ, msg := ChangeRaise, fmt.Sprintf("%s: %d soiled %s waiting", name, soiled, p.Kind.Label())
			if p.SoiledMax != nil {
				msg += fmt.Sprintf(" (maximum %d)", *p.SoiledMax)
			}
			if !high {
				typ = ChangeClear
			}
			out.Changes = append(out.Changes, e.parChange(typ, p, RulePARSoiledHigh, now, float64(soiled), msg))
		}
	}
}

// Stock returns every PAR level's stock, in configuration order.
func (e *AssetEvaluator) Stock() []PARStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]PARStatus, 0, len(e.par))
	for _, p := range e.par {
		c, s := e.counts(p)
		out = append(out, PARStatus{Level: p.PARLevel, Clean: c, Soiled: s, CleanLow: c < p.CleanMin,
			SoiledHigh: p.SoiledMax != nil && s > *p.SoiledMax})
	}
	return out
}

// PickAction is what a runner does with a picked asset.
type PickAction string

// Pick actions.
const (
	PickRestock PickAction = "restock" // bring a clean asset to the PAR's clean room
	PickCollect PickAction = "collect" // take a soiled asset from the PAR's soiled room to cleaning
)

// Pick is one line of a runner's pick list.
type Pick struct {
	PAR        string
	PARName    string
	Action     PickAction
	AssetID    int64
	AssetName  string
	FromZoneID int64
	FromZone   string
	ToZoneID   int64 // restock: the PAR's first clean zone; collect: 0 (to decontamination)
	ToZone     string
	LastSeen   time.Time
}

// PickList is the runners' list for every PAR level out of bounds: for clean
// stock below minimum, available assets of the kind from elsewhere (first
// from other PAR rooms' surplus, then from outside PAR rooms; same floor
// first, most recently seen first), never dropping another level below its
// own minimum; for soiled stock above maximum, the assets that have waited
// longest.
func (e *AssetEvaluator) PickList() []Pick {
	e.mu.Lock()
	defer e.mu.Unlock()
	// surplus per PAR level of clean assets, and which level holds an asset.
	surplus := make(map[*parState]int)
	holder := make(map[int64]*parState)
	for _, p := range e.par {
		c, _ := e.counts(p)
		surplus[p] = c - p.CleanMin
		for _, st := range e.order {
			if st.Kind == p.Kind && p.clean[st.ZoneID] && st.Status == StatusAvailable {
				holder[st.ID] = p
			}
		}
	}
	taken := make(map[int64]bool)
	var out []Pick
	for _, p := range e.par {
		clean, soiled := e.counts(p)
		var toZone int64
		if len(p.CleanZones) > 0 {
			toZone = p.CleanZones[0]
		}
		if need := p.CleanMin - clean; need > 0 {
			floor := e.zones[toZone].FloorID
			var cands []*assetState
			for _, st := range e.order {
				if st.Kind != p.Kind || st.Status != StatusAvailable || taken[st.ID] || p.clean[st.ZoneID] {
					continue
				}
				if h := holder[st.ID]; h != nil && surplus[h] <= 0 {
					continue
				}
				cands = append(cands, st)
			}
			slices.SortStableFunc(cands, func(x, y *assetState) int {
				xs, ys := holder[x.ID] != nil, holder[y.ID] != nil
				if xs != ys {
					if xs {
						return -1
					}
					return 1
				}
				if xf, yf := x.FloorID == floor, y.FloorID == floor; xf != yf {
					if xf {
						return -1
					}
					return 1
				}
				return y.LastSeen.Compare(x.LastSeen)
			})
			for _, st := range cands {
				if need == 0 {
					break
				}
				if h := holder[st.ID]; h != nil {
					if surplus[h] <= 0 {
						continue
					}
					surplus[h]--
				}
				taken[st.ID] = true
				need--
				out = append(out, e.pick(p, PickRestock, st, toZone))
			}
		}
		if p.SoiledMax != nil && soiled > *p.SoiledMax {
			var waiting []*assetState
			for _, st := range e.order {
				if st.Kind == p.Kind && p.soiled[st.ZoneID] && st.Status != StatusMissing && st.Status != StatusRetired && !taken[st.ID] {
					waiting = append(waiting, st)
				}
			}
			slices.SortStableFunc(waiting, func(x, y *assetState) int { return x.zoneSince.Compare(y.zoneSince) })
			for _, st := range waiting[:min(len(waiting), soiled-*p.SoiledMax)] {
				taken[st.ID] = true
				out = append(out, e.pick(p, PickCollect, st, 0))
			}
		}
	}
	return out
}

func (e *AssetEvaluator) pick(p *parState, a PickAction, st *assetState, to int64) Pick {
	pk := Pick{PAR: p.ID, PARName: p.Name, Action: a, AssetID: st.ID, AssetName: st.label(),
		FromZoneID: st.ZoneID, FromZone: e.zoneName(st.ZoneID), ToZoneID: to, LastSeen: st.LastSeen}
	if to != 0 {
		pk.ToZone = e.zoneName(to)
	} else {
		pk.ToZone = "decontamination"
	}
	return pk
}
