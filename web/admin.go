package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// maxAdminForm caps the body of an admin form post (not uploads).
const maxAdminForm = 64 << 10

// parseAdminForm reads a small urlencoded form, mapping a body that is too
// large or unreadable to a user-facing error.
func parseAdminForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminForm)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return wardwatch.Errorf(wardwatch.ETOOLARGE, "The form is too large.")
		}
		return wardwatch.Errorf(wardwatch.EINVALID, "The form could not be read.")
	}
	return nil
}

// formField returns a trimmed form field, or an EINVALID error naming it
// when it is missing or longer than maxFieldBytes.
func formField(r *http.Request, name, label string) (string, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	switch {
	case v == "":
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s is missing.", label)
	case len(v) > maxFieldBytes:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s is too long.", label)
	}
	return v, nil
}

// handleAdminIndex lists the admin sections.
func handleAdminIndex(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := newPageMeta(r, "Administration")
		p.Nav = "admin"
		render(w, r, logger, http.StatusOK, adminIndexPage(p))
	})
}

// gatewayRow is one gateway on the gateways page.
type gatewayRow struct {
	Gateway   wardwatch.Gateway
	Floor     string
	Anchor    string // the room it anchors, or ""
	Health    wardwatch.GatewayHealth
	Status    string // "online", "offline", "never"
	LastSeen  string // "12 s ago", or "not heard since start"
	CanPush   bool
	Calibrate string // "−59 dBm @ 1 m, n = 2.5, offset 0 dB"
}

// handleAdminGateways lists every gateway with its placement, calibration
// and traffic health.
func handleAdminGateways(logger *slog.Logger, store Store, health func(time.Time) []wardwatch.GatewayHealth, offlineAfter time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		gws, err := store.Gateways(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list gateways: %w", err))
			return
		}
		floors, zones, err := floorAndZoneNames(ctx, store)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		t := now()
		byID := make(map[int64]wardwatch.GatewayHealth)
		if health != nil {
			for _, h := range health(t) {
				byID[h.GatewayID] = h
			}
		}
		rows := make([]gatewayRow, 0, len(gws))
		online := 0
		for _, g := range gws {
			h := byID[g.ID]
			row := gatewayRow{
				Gateway: g, Floor: floors[g.FloorID], Anchor: zones[g.AnchorZoneID], Health: h,
				CanPush:   len(g.TokenHash) > 0,
				Calibrate: calibrationText(g),
			}
			switch {
			case h.LastSeen.IsZero():
				row.Status, row.LastSeen = "never", "not heard since WardWatch started"
			case h.Online:
				row.Status, row.LastSeen = "online", ageText(t.Sub(h.LastSeen))+" ago"
				online++
			default:
				row.Status, row.LastSeen = "offline", ageText(t.Sub(h.LastSeen))+" ago"
			}
			rows = append(rows, row)
		}
		// Offline first: they are what an admin must act on.
		rank := map[string]int{"offline": 0, "never": 1, "online": 2}
		slices.SortStableFunc(rows, func(a, b gatewayRow) int {
			return cmp.Or(cmp.Compare(rank[a.Status], rank[b.Status]), strings.Compare(a.Gateway.Name, b.Gateway.Name))
		})
		p := newPageMeta(r, "Gateways")
		p.Nav = "admin"
		render(w, r, logger, http.StatusOK, adminGatewaysPage(p, gatewaysView{
			Rows: rows, Online: online, Total: len(rows), OfflineAfter: ageText(offlineAfter),
		}))
	})
}

// gatewaysView is what the gateways page shows.
type gatewaysView struct {
	Rows         []gatewayRow
	Online       int
	Total        int
	OfflineAfter string
}

// floorAndZoneNames maps floor and zone IDs to names for display.
func floorAndZoneNames(ctx context.Context, store Store) (floors, zones map[int64]string, err error) {
	s, err := loadSite(ctx, store)
	if err != nil {
		return nil, nil, err
	}
	floors = make(map[int64]string, len(s.floors))
	for id, f := range s.floors {
		floors[id] = f.Name
	}
	zones = make(map[int64]string, len(s.zones))
	for id, z := range s.zones {
		zones[id] = z.Name
	}
	return floors, zones, nil
}

// calibrationText describes a gateway's radio calibration, or says it uses
// the defaults.
func calibrationText(g wardwatch.Gateway) string {
	if g.RSSIAt1m == 0 && g.PathLossExponent == 0 && g.RxOffset == 0 {
		return "defaults"
	}
	return fmt.Sprintf("%.0f dBm at 1 m, n = %.2g, offset %+.1f dB", g.RSSIAt1m, g.PathLossExponent, g.RxOffset)
}

// ageText is a duration as formatAge words it, without "ago": "8 s",
// "4 min", "3 h", "2 d".
func ageText(d time.Duration) string { return strings.TrimSuffix(formatAge(d), " ago") }

// discoveredRow is one discovered tag.
type discoveredRow struct {
	Tag       wardwatch.DiscoveredTag
	Gateway   string
	LastSeen  string
	FirstSeen string
}

// discoveredView is what the discovered-tags page shows.
type discoveredView struct {
	Rows   []discoveredRow
	Assets []wardwatch.Asset
	Notice string
}

// handleDiscoveredTags lists the tags heard that belong to no asset, each
// with a one-step "assign to asset" form.
func handleDiscoveredTags(logger *slog.Logger, store Store, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ds, err := store.DiscoveredTags(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list discovered tags: %w", err))
			return
		}
		assets, err := store.Assets(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list assets: %w", err))
			return
		}
		gws, err := store.Gateways(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list gateways: %w", err))
			return
		}
		gwName := make(map[int64]string, len(gws))
		for _, g := range gws {
			gwName[g.ID] = g.Name
		}
		t := now()
		rows := make([]discoveredRow, 0, len(ds))
		for _, d := range ds {
			rows = append(rows, discoveredRow{
				Tag: d, Gateway: gwName[d.GatewayID],
				LastSeen:  ageText(t.Sub(d.LastSeen)) + " ago",
				FirstSeen: d.FirstSeen.UTC().Format("2006-01-02 15:04 UTC"),
			})
		}
		p := newPageMeta(r, "Discovered tags")
		p.Nav = "admin"
		render(w, r, logger, http.StatusOK, discoveredTagsPage(p, discoveredView{
			Rows: rows, Assets: assets, Notice: noticeText(r.URL.Query()),
		}))
	})
}

// noticeText is the confirmation shown after a redirect from an action.
func noticeText(q url.Values) string {
	tag := q.Get("tag")
	if len(tag) > maxFieldBytes {
		return ""
	}
	switch q.Get("done") {
	case "assigned":
		return fmt.Sprintf("Tag %s is assigned to %s. Its sightings place the asset from now on.", tag, q.Get("asset"))
	case "dismissed":
		return fmt.Sprintf("Tag %s was dismissed. It comes back if it is heard again.", tag)
	}
	return ""
}

// handleAssignDiscoveredTag assigns a discovered tag to an asset and tells
// the location engine at once.
func handleAssignDiscoveredTag(logger *slog.Logger, store Store, audit auditor, changed func(context.Context)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, logger, err)
			return
		}
		tag, err := formField(r, "tag", "The tag")
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		rawAsset, err := formField(r, "asset", "The asset")
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		assetID, ok := parseID(rawAsset)
		if !ok {
			renderError(w, r, logger, wardwatch.Errorf(wardwatch.EINVALID, "Choose an asset from the list."))
			return
		}
		ctx := r.Context()
		asset, err := store.Asset(ctx, assetID)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		if err := store.AssignDiscoveredTag(ctx, tag, assetID); err != nil {
			renderError(w, r, logger, err)
			return
		}
		audit.record(ctx, "assign", "tag", tag, nil, wardwatch.Tag{ID: tag, AssetID: assetID}, "assigned from the discovered tags")
		if changed != nil {
			changed(ctx)
		}
		q := url.Values{"done": {"assigned"}, "tag": {tag}, "asset": {asset.Name}}
		http.Redirect(w, r, "/admin/tags/discovered?"+q.Encode(), http.StatusSeeOther)
	})
}

// handleDismissDiscoveredTag removes a tag from the discovered list.
func handleDismissDiscoveredTag(logger *slog.Logger, store Store, audit auditor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, logger, err)
			return
		}
		tag, err := formField(r, "tag", "The tag")
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		if err := store.DismissDiscoveredTag(r.Context(), tag); err != nil {
			renderError(w, r, logger, err)
			return
		}
		audit.record(r.Context(), "dismiss", "tag", tag, nil, nil, "dismissed from the discovered tags")
		q := url.Values{"done": {"dismissed"}, "tag": {tag}}
		http.Redirect(w, r, "/admin/tags/discovered?"+q.Encode(), http.StatusSeeOther)
	})
}
