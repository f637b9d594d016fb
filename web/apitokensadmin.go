package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// apiTokensView is the admin page of API tokens.
type apiTokensView struct {
	Tokens   []wardwatch.APIToken
	Token    string // a new token's text, shown once
	TokenFor string
	Name     string
	Role     wardwatch.Role
	Error    string
}

// apiTokenTime is t as the token page shows it.
func apiTokenTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// apiTokenAdmin serves /admin/api-tokens.
type apiTokenAdmin struct {
	logger *slog.Logger
	tokens APITokenStore
	audit  auditor
}

func (a *apiTokenAdmin) render(w http.ResponseWriter, r *http.Request, status int, v apiTokensView) {
	ts, err := a.tokens.APITokens(r.Context())
	if err != nil {
		renderError(w, r, a.logger, fmt.Errorf("list API tokens: %w", err))
		return
	}
	v.Tokens = ts
	if v.Role == "" {
		v.Role = wardwatch.RoleViewer
	}
	p := newPageMeta(r, "API tokens")
	p.Nav = "admin"
	render(w, r, a.logger, status, apiTokensPage(p, v))
}

func (a *apiTokenAdmin) handlePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, apiTokensView{})
	})
}

// handleCreate makes a token and shows its text once.
func (a *apiTokenAdmin) handleCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		text, err := newAPIToken()
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		t := wardwatch.APIToken{Name: v["name"], Role: wardwatch.Role(v["role"]), Prefix: text[:apiTokenShownPart],
			SecretHash: auth.HashToken(text)}
		if vw := viewerFrom(ctx); vw != nil {
			t.CreatedBy = vw.User.Username
		}
		if err := a.tokens.CreateAPIToken(ctx, &t); err != nil {
			if statusOf(err) >= 500 {
				renderError(w, r, a.logger, err)
				return
			}
			logError(a.logger, r, statusOf(err), err)
			a.render(w, r, statusOf(err), apiTokensView{Name: v["name"], Role: wardwatch.Role(v["role"]), Error: wardwatch.ErrorMessage(err)})
			return
		}
		a.audit.record(ctx, "create", "api_token", t.ID, nil, map[string]string{"name": t.Name, "role": string(t.Role), "prefix": t.Prefix}, "")
		a.render(w, r, http.StatusOK, apiTokensView{Token: text, TokenFor: t.Name})
	})
}

func (a *apiTokenAdmin) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		id, err := pathID(r)
		if err == nil {
			err = a.tokens.RevokeAPIToken(ctx, id)
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, "revoke", "api_token", id, nil, nil, "")
		http.Redirect(w, r, "/admin/api-tokens", http.StatusSeeOther)
	})
}
