package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// kioskCookie carries a wall display's kiosk token.
const kioskCookie = "wardwatch_kiosk"

// KioskStore keeps the wall displays' read-only tokens.
type KioskStore interface {
	CreateKioskToken(ctx context.Context, k *wardwatch.KioskToken) error
	KioskByTokenHash(ctx context.Context, hash []byte) (wardwatch.KioskToken, error)
	KioskTokens(ctx context.Context) ([]wardwatch.KioskToken, error)
	DeleteKioskToken(ctx context.Context, id int64) error
}

// kioskViewer returns the read-only viewer of a request carrying a valid
// kiosk cookie, or nil. A kiosk sees what a viewer sees, never more, and
// its access ends the moment an admin revokes the token.
func (sm *sessionManager) kioskViewer(r *http.Request) *viewer {
	if sm.kiosks == nil {
		return nil
	}
	c, err := r.Cookie(kioskCookie)
	if err != nil || !wellFormedToken(c.Value) {
		return nil
	}
	k, err := sm.kiosks.KioskByTokenHash(r.Context(), auth.HashToken(c.Value))
	if err != nil {
		return nil
	}
	now := sm.now().UTC()
	return &viewer{User: wardwatch.User{Username: "Display: " + k.Name, Role: wardwatch.RoleViewer}, Now: now, Kiosk: true}
}

// handleKioskStart takes a wall display's link, sets its kiosk cookie and
// sends it to its floor, so the token does not stay in the address bar.
func handleKioskStart(logger *slog.Logger, kiosks KioskStore, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		if !wellFormedToken(token) {
			renderError(w, r, logger, wardwatch.Errorf(wardwatch.EUNAUTHORIZED, "This display link is not valid (it may have been revoked)."))
			return
		}
		k, err := kiosks.KioskByTokenHash(r.Context(), auth.HashToken(token))
		if err != nil {
			if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
				err = wardwatch.Errorf(wardwatch.EUNAUTHORIZED, "This display link is not valid (it may have been revoked).")
			}
			renderError(w, r, logger, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: kioskCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure,
			SameSite: http.SameSiteLaxMode, MaxAge: 400 * 24 * 3600})
		dest := "/floors"
		if k.FloorID != 0 {
			dest = floorPath(k.FloorID)
		}
		http.Redirect(w, r, dest, http.StatusSeeOther)
	})
}

// kiosksView is the admin page of wall displays.
type kiosksView struct {
	Kiosks []wardwatch.KioskToken
	Floors map[int64]wardwatch.Floor
	List   []wardwatch.Floor
	Link   string // a new display's link, shown once
	Error  string
}

func handleKiosks(logger *slog.Logger, store Store, kiosks KioskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renderKiosks(w, r, logger, store, kiosks, http.StatusOK, "", "")
	})
}

func renderKiosks(w http.ResponseWriter, r *http.Request, logger *slog.Logger, store Store, kiosks KioskStore, status int, link, msg string) {
	ks, err := kiosks.KioskTokens(r.Context())
	if err != nil {
		renderError(w, r, logger, fmt.Errorf("list kiosk tokens: %w", err))
		return
	}
	fs, err := store.Floors(r.Context())
	if err != nil {
		renderError(w, r, logger, fmt.Errorf("list floors: %w", err))
		return
	}
	v := kiosksView{Kiosks: ks, List: fs, Floors: map[int64]wardwatch.Floor{}, Link: link, Error: msg}
	for _, f := range fs {
		v.Floors[f.ID] = f
	}
	p := newPageMeta(r, "Wall displays")
	p.Nav = "admin"
	render(w, r, logger, status, kiosksPage(p, v))
}

// handleCreateKiosk makes a display link (shown once).
func handleCreateKiosk(logger *slog.Logger, store Store, kiosks KioskStore, audit auditor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		token, err := auth.NewToken()
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		k := wardwatch.KioskToken{Name: v["name"], FloorID: formID(v, "floor"), TokenHash: auth.HashToken(token)}
		if err := kiosks.CreateKioskToken(ctx, &k); err != nil {
			if statusOf(err) >= 500 {
				renderError(w, r, logger, err)
				return
			}
			renderKiosks(w, r, logger, store, kiosks, statusOf(err), "", wardwatch.ErrorMessage(err))
			return
		}
		audit.record(ctx, "create", "kiosk", k.ID, nil, map[string]any{"name": k.Name, "floor": k.FloorID}, "")
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		renderKiosks(w, r, logger, store, kiosks, http.StatusOK, scheme+"://"+r.Host+"/kiosk/"+token, "")
	})
}

func handleDeleteKiosk(logger *slog.Logger, kiosks KioskStore, audit auditor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			err = kiosks.DeleteKioskToken(r.Context(), id)
		}
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		audit.record(r.Context(), "revoke", "kiosk", id, nil, nil, "")
		http.Redirect(w, r, "/admin/kiosks", http.StatusSeeOther)
	})
}
