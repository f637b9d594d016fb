package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardwatch/wardwatch"
)

// TestMain swaps the cost-12 hash used for unknown usernames for a cheap
// one, so the many failing logins of these tests stay fast. Production
// timing equality is not what these tests measure.
func TestMain(m *testing.M) {
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	unknownUserHash = string(h)
	os.Exit(m.Run())
}

// testPassword is the password of every fake user.
const testPassword = "correct horse battery staple"

// testHash is testPassword hashed at bcrypt's minimum cost (fast tests).
var testHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// fakeStore is an in-memory Store with the real store's error codes.
type fakeStore struct {
	mu       sync.Mutex
	floors   []wardwatch.Floor
	plans    map[int64]wardwatch.FloorPlan
	zones    map[int64][]wardwatch.Zone
	assets   []wardwatch.Asset
	users    []wardwatch.User
	sessions map[string]wardwatch.Session
	touches  int
	gateways []wardwatch.Gateway
	tags     []wardwatch.Tag
	found    []wardwatch.DiscoveredTag

	floorsHook func() // called by Floors (tests make it panic)
	failUsers  error  // returned by UserByUsername when set
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		floors: []wardwatch.Floor{
			{ID: 1, Name: "Ward 4 — Level 2", Level: 2, Width: 60, Height: 14},
			{ID: 2, Name: "Ground floor", Level: 0, Width: 40, Height: 20},
		},
		plans: map[int64]wardwatch.FloorPlan{
			1: {ContentType: "image/svg+xml", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 14"><rect width="60" height="14" fill="#fff"/></svg>`)},
			2: {ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\nnot really")},
		},
		zones: map[int64][]wardwatch.Zone{
			1: {
				{ID: 10, FloorID: 1, Name: "4B-12", Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 5, Y: 0}, {X: 5, Y: 5}, {X: 0, Y: 5}}},
				{ID: 11, FloorID: 1, Name: "Clean utility", Kind: wardwatch.ZoneCleanUtility, Polygon: []wardwatch.Point{{X: 5, Y: 0}, {X: 10, Y: 0}, {X: 10, Y: 5}}},
			},
		},
		assets: []wardwatch.Asset{
			{ID: 100, Name: "Pump 0412", Kind: wardwatch.AssetInfusionPump},
			{ID: 101, Name: "Wheelchair 7", Kind: wardwatch.AssetWheelchair},
			{ID: 102, Name: "Bed 3", Kind: wardwatch.AssetBed},
		},
		users: []wardwatch.User{
			{ID: 1, Username: "nurse", Role: wardwatch.RoleNurse, PasswordHash: testHash},
			{ID: 2, Username: "admin", Role: wardwatch.RoleAdmin, PasswordHash: testHash},
		},
		sessions: make(map[string]wardwatch.Session),
	}
}

func (s *fakeStore) Floors(ctx context.Context) ([]wardwatch.Floor, error) {
	if s.floorsHook != nil {
		s.floorsHook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.Floor(nil), s.floors...), nil
}

func (s *fakeStore) Floor(ctx context.Context, id int64) (wardwatch.Floor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.floors {
		if f.ID == id {
			return f, nil
		}
	}
	return wardwatch.Floor{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d not found", id)
}

func (s *fakeStore) FloorPlan(ctx context.Context, floorID int64) (wardwatch.FloorPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[floorID]
	if !ok {
		return wardwatch.FloorPlan{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d has no plan", floorID)
	}
	return p, nil
}

func (s *fakeStore) Zones(ctx context.Context, floorID int64) ([]wardwatch.Zone, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if floorID == 0 { // every floor's, as the real store does
		var all []wardwatch.Zone
		for _, f := range s.floors {
			all = append(all, s.zones[f.ID]...)
		}
		return all, nil
	}
	return append([]wardwatch.Zone(nil), s.zones[floorID]...), nil
}

func (s *fakeStore) Assets(ctx context.Context) ([]wardwatch.Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.Asset(nil), s.assets...), nil
}

func (s *fakeStore) UserByUsername(ctx context.Context, username string) (wardwatch.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failUsers != nil {
		return wardwatch.User{}, s.failUsers
	}
	for _, u := range s.users {
		if u.Username == username {
			return u, nil
		}
	}
	return wardwatch.User{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "user %q not found", username)
}

func (s *fakeStore) User(ctx context.Context, id int64) (wardwatch.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.ID == id {
			return u, nil
		}
	}
	return wardwatch.User{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "user %d not found", id)
}

func (s *fakeStore) CreateSession(ctx context.Context, sess wardwatch.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[string(sess.TokenHash)]; ok {
		return wardwatch.Errorf(wardwatch.ECONFLICT, "session already exists")
	}
	s.sessions[string(sess.TokenHash)] = sess
	return nil
}

func (s *fakeStore) Session(ctx context.Context, tokenHash []byte) (wardwatch.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[string(tokenHash)]
	if !ok {
		return wardwatch.Session{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "session not found")
	}
	return sess, nil
}

func (s *fakeStore) TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[string(tokenHash)]
	if !ok {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "session not found")
	}
	sess.LastSeenAt, sess.ExpiresAt = lastSeen, expires
	s.sessions[string(tokenHash)] = sess
	s.touches++
	return nil
}

func (s *fakeStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, string(tokenHash))
	return nil
}

func (s *fakeStore) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *fakeStore) touchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touches
}

// fakeLive is a Live with fixed snapshots that records ServeFloor calls.
type fakeLive struct {
	mu        sync.Mutex
	snapshots map[int64][]wardwatch.Position
	served    []int64
	deadline  time.Time // of the last ServeFloor request's context
}

func (l *fakeLive) Snapshot(floorID int64) []wardwatch.Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wardwatch.Position(nil), l.snapshots[floorID]...)
}

func (l *fakeLive) ServeFloor(w http.ResponseWriter, r *http.Request, floorID int64) {
	l.mu.Lock()
	l.served = append(l.served, floorID)
	l.deadline, _ = r.Context().Deadline()
	l.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("streaming floor"))
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (s *fakeStore) Asset(ctx context.Context, id int64) (wardwatch.Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.assets {
		if a.ID == id {
			return a, nil
		}
	}
	return wardwatch.Asset{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", id)
}

func (s *fakeStore) Gateways(ctx context.Context) ([]wardwatch.Gateway, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.Gateway(nil), s.gateways...), nil
}

func (s *fakeStore) DiscoveredTags(ctx context.Context) ([]wardwatch.DiscoveredTag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.DiscoveredTag(nil), s.found...), nil
}

func (s *fakeStore) AssignDiscoveredTag(ctx context.Context, tagID string, assetID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.found, func(d wardwatch.DiscoveredTag) bool { return d.TagID == tagID })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "tag %q is not in the discovered tags", tagID)
	}
	if !slices.ContainsFunc(s.assets, func(a wardwatch.Asset) bool { return a.ID == assetID }) {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", assetID)
	}
	s.found = slices.Delete(s.found, i, i+1)
	s.tags = append(s.tags, wardwatch.Tag{ID: tagID, AssetID: assetID})
	return nil
}

func (s *fakeStore) DismissDiscoveredTag(ctx context.Context, tagID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.found, func(d wardwatch.DiscoveredTag) bool { return d.TagID == tagID })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "tag %q is not in the discovered tags", tagID)
	}
	s.found = slices.Delete(s.found, i, i+1)
	return nil
}
