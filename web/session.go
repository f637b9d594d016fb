package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// sessionCookie is the name of the cookie that carries the session token.
const sessionCookie = "wardwatch_session"

// touchInterval is how often, at most, a session's sliding expiry is
// written back to the store.
const touchInterval = time.Minute

// errNoSession is returned when a request carries no valid session.
var errNoSession = wardwatch.Errorf(wardwatch.EUNAUTHORIZED, "Please sign in.")

// sessionManager creates, loads, extends and ends browser sessions. The
// cookie holds a random token; the store holds only its SHA-256.
type sessionManager struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	idle   time.Duration // sliding idle timeout
	max    time.Duration // absolute lifetime
	secure bool          // Secure cookie attribute
	kiosks KioskStore    // wall displays' read-only tokens; nil: none
}

// viewer is the signed-in user of a request and their session.
type viewer struct {
	User    wardwatch.User
	Session wardwatch.Session
	Now     time.Time // when the session was checked
	End     time.Time // absolute end of the session: CreatedAt + SessionMax
	Kiosk   bool      // a wall display: read-only, no session to expire
	// APIToken is the ID of the API token of an /api/v1 request (its
	// role is User.Role); 0 for browsers.
	APIToken int64
}

type viewerKey struct{}

// viewerFrom returns the signed-in user of ctx, or nil.
func viewerFrom(ctx context.Context) *viewer {
	v, _ := ctx.Value(viewerKey{}).(*viewer)
	return v
}

// start creates a session for userID and sets its cookie.
func (sm *sessionManager) start(ctx context.Context, w http.ResponseWriter, userID int64) error {
	token, err := auth.NewToken()
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	now := sm.now().UTC()
	s := wardwatch.Session{
		TokenHash:  auth.HashToken(token),
		UserID:     userID,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(min(sm.idle, sm.max)),
	}
	if err := sm.store.CreateSession(ctx, s); err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, sm.cookie(token))
	return nil
}

// load returns the viewer of r's session, extending the session's sliding
// expiry when touch is set (at most once per touchInterval). It returns an
// EUNAUTHORIZED error when there is no valid session, clearing a stale
// cookie, and a wrapped store error when the store fails.
func (sm *sessionManager) load(w http.ResponseWriter, r *http.Request, touch bool) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !wellFormedToken(c.Value) {
		return nil, errNoSession
	}
	ctx := r.Context()
	hash := auth.HashToken(c.Value)
	s, err := sm.store.Session(ctx, hash)
	if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
		sm.clearCookie(w)
		return nil, errNoSession
	} else if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}

	now := sm.now().UTC()
	end := s.CreatedAt.Add(sm.max)
	if !now.Before(s.ExpiresAt) || !now.Before(end) {
		sm.drop(ctx, w, hash)
		return nil, errNoSession
	}
	u, err := sm.store.User(ctx, s.UserID)
	if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
		sm.drop(ctx, w, hash) // the user was deleted
		return nil, errNoSession
	} else if err != nil {
		return nil, fmt.Errorf("load session user: %w", err)
	}

	if touch && now.Sub(s.LastSeenAt) >= touchInterval {
		expires := now.Add(sm.idle)
		if expires.After(end) {
			expires = end
		}
		if err := sm.store.TouchSession(ctx, hash, now, expires); err != nil {
			// The session stays valid until its old expiry; try again next time.
			sm.logger.LogAttrs(ctx, slog.LevelWarn, "extend session", slog.String("error", err.Error()))
		} else {
			s.LastSeenAt, s.ExpiresAt = now, expires
		}
	}
	return &viewer{User: u, Session: s, Now: now, End: end}, nil
}

// end deletes r's session, if any, and clears its cookie.
func (sm *sessionManager) end(w http.ResponseWriter, r *http.Request) error {
	sm.clearCookie(w)
	return sm.forget(r)
}

// forget deletes r's session from the store, if there is one, leaving the
// cookie alone.
func (sm *sessionManager) forget(r *http.Request) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !wellFormedToken(c.Value) {
		return nil
	}
	err = sm.store.DeleteSession(r.Context(), auth.HashToken(c.Value))
	if err != nil && wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// drop deletes an expired or orphaned session and clears its cookie.
func (sm *sessionManager) drop(ctx context.Context, w http.ResponseWriter, hash []byte) {
	sm.clearCookie(w)
	if err := sm.store.DeleteSession(ctx, hash); err != nil && wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		sm.logger.LogAttrs(ctx, slog.LevelWarn, "delete expired session", slog.String("error", err.Error()))
	}
}

// cookie is the session cookie carrying token. It has no Expires: the
// server enforces expiry, and the browser forgets it when it closes.
func (sm *sessionManager) cookie(token string) *http.Cookie {
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   sm.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func (sm *sessionManager) clearCookie(w http.ResponseWriter) {
	c := sm.cookie("")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// wellFormedToken reports whether s looks like an auth.NewToken token
// (43 base64url characters), so garbage never reaches the store.
func wellFormedToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionRule says how requireSession treats a route.
type sessionRule struct {
	redirect bool // redirect to the login page (pages) instead of answering 401
	touch    bool // the request is user activity: extend the sliding expiry
}

// requireSession lets requests with a valid session through, with the
// viewer in their context. Others are redirected to the login page (pages)
// or answered 401.
func requireSession(sm *sessionManager, logger *slog.Logger, rule sessionRule) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := sm.load(w, r, rule.touch)
			if err != nil && wardwatch.ErrorCode(err) == wardwatch.EUNAUTHORIZED {
				if kv := sm.kioskViewer(r); kv != nil {
					v, err = kv, nil
				}
			}
			switch {
			case err == nil:
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
			case wardwatch.ErrorCode(err) == wardwatch.EUNAUTHORIZED && rule.redirect:
				http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
			case rule.redirect:
				renderError(w, r, logger, err)
			default:
				apiError(w, r, logger, err)
			}
		})
	}
}

// defaultNext is where users land after signing in.
const defaultNext = "/floors"

// loginURL is the login page that returns to next afterwards.
func loginURL(next string) string {
	next = safeNext(next)
	if next == defaultNext {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// safeNext returns next when it is a local path on this site, and
// defaultNext otherwise, so the login form cannot be used as an open
// redirect ("//evil.example", "/\evil.example", "https://…", control
// characters that browsers strip).
func safeNext(next string) string {
	if len(next) == 0 || len(next) > maxFieldBytes || next[0] != '/' {
		return defaultNext
	}
	if strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return defaultNext
	}
	for i := 0; i < len(next); i++ {
		if next[i] < 0x20 || next[i] == 0x7f {
			return defaultNext
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return defaultNext
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return defaultNext
	}
	return next
}
