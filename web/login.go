package web

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// Login form limits.
const (
	maxLoginBody  = 16 << 10 // bytes in the whole form
	maxFieldBytes = 256      // bytes in any one field
)

// unknownUserHash is a bcrypt hash (cost 12, like real ones) of a random
// password nobody knows. Logins for unknown usernames are checked against
// it, so they take as long as wrong passwords and reveal nothing.
var unknownUserHash = "$2a$12$BAhO6UeTVZklDJlCwgADAeDiKastwrwe7dXMNTgl0Jmn3xzNebTwa"

// Messages of the login form.
const (
	msgWrongCredentials = "Wrong username or password."
	msgMissingFields    = "Enter your username and password."
	msgFieldTooLong     = "The username, password or return address is too long."
	msgFormTooLarge     = "The form is too large."
	msgFormUnreadable   = "The form could not be read. Please try again."
)

// loginView is what the login page shows.
type loginView struct {
	Username string
	Next     string
	Error    string
}

// handleLoginPage shows the login form, or sends signed-in users on to
// their destination.
func handleLoginPage(logger *slog.Logger, sessions *sessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := safeNext(r.URL.Query().Get("next"))
		if v, err := sessions.load(w, r, false); err == nil && v != nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		render(w, r, logger, http.StatusOK, loginPage(newPageMeta(r, "Sign in"), loginView{Next: next}))
	})
}

// handleLogin checks a username and password and starts a session. Failures
// all say the same thing whether or not the username exists, and are
// throttled per username and per client address.
func handleLogin(logger *slog.Logger, store Store, sessions *sessionManager, users, addresses *loginLimiter, m *metrics, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, view loginView, result string) {
			m.logins.WithLabelValues(result).Inc()
			render(w, r, logger, status, loginPage(newPageMeta(r, "Sign in"), view))
		}

		r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(http.StatusRequestEntityTooLarge, loginView{Error: msgFormTooLarge}, "invalid")
				return
			}
			fail(http.StatusBadRequest, loginView{Error: msgFormUnreadable}, "invalid")
			return
		}
		username := r.PostForm.Get("username")
		password := r.PostForm.Get("password")
		rawNext := r.PostForm.Get("next")
		if len(username) > maxFieldBytes || len(password) > maxFieldBytes || len(rawNext) > maxFieldBytes {
			fail(http.StatusBadRequest, loginView{Error: msgFieldTooLong}, "invalid")
			return
		}
		username = strings.TrimSpace(username)
		view := loginView{Username: username, Next: safeNext(rawNext)}
		if username == "" || password == "" {
			view.Error = msgMissingFields
			fail(http.StatusBadRequest, view, "invalid")
			return
		}

		t := now()
		client := remoteHost(r)
		userKey, addrKey := usernameKey(username), addressKey(client)
		if wait := max(users.wait(t, userKey), addresses.wait(t, addrKey)); wait > 0 {
			minutes := int(math.Ceil(wait.Minutes()))
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			view.Error = fmt.Sprintf("Too many attempts; try again in %s.", plural(minutes, "minute"))
			logger.LogAttrs(r.Context(), slog.LevelWarn, "login throttled", slog.String("remote", client))
			fail(http.StatusTooManyRequests, view, "rate_limited")
			return
		}

		user, err := store.UserByUsername(r.Context(), username)
		known := err == nil
		switch {
		case known:
		case wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND:
			user.PasswordHash = unknownUserHash
		default:
			m.logins.WithLabelValues("error").Inc()
			renderError(w, r, logger, fmt.Errorf("login: %w", err))
			return
		}
		if !auth.CheckPassword(user.PasswordHash, password) || !known {
			users.fail(t, userKey)
			addresses.fail(t, addrKey)
			attrs := []slog.Attr{slog.String("remote", client), slog.Bool("known_user", known)}
			if known { // never log what was typed for an unknown user: it may be a password
				attrs = append(attrs, slog.Int64("user_id", user.ID))
			}
			logger.LogAttrs(r.Context(), slog.LevelInfo, "login failed", attrs...)
			view.Error = msgWrongCredentials
			fail(http.StatusUnauthorized, view, "failure")
			return
		}

		// A session this browser had before is replaced, not left behind.
		if err := sessions.forget(r); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "drop previous session", slog.String("error", err.Error()))
		}
		if err := sessions.start(r.Context(), w, user.ID); err != nil {
			m.logins.WithLabelValues("error").Inc()
			renderError(w, r, logger, fmt.Errorf("login: %w", err))
			return
		}
		users.reset(userKey)
		m.logins.WithLabelValues("success").Inc()
		logger.LogAttrs(r.Context(), slog.LevelInfo, "login", slog.Int64("user_id", user.ID), slog.String("remote", client))
		http.Redirect(w, r, view.Next, http.StatusSeeOther)
	})
}

// handleLogout ends the session and returns to the login page.
func handleLogout(logger *slog.Logger, sessions *sessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.end(w, r); err != nil {
			// The cookie is cleared either way; the stored session expires on its own.
			logger.LogAttrs(r.Context(), slog.LevelWarn, "logout", slog.String("error", err.Error()))
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// plural formats n with its unit: "1 minute", "3 minutes".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
