package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// ReaderStore is what the RFID reader and poll target admin page changes.
type ReaderStore interface {
	RFIDReaders(ctx context.Context) ([]wardwatch.RFIDReader, error)
	SaveRFIDReader(ctx context.Context, r *wardwatch.RFIDReader) error
	SetRFIDReaderToken(ctx context.Context, id int64, tokenHash []byte) error
	DeleteRFIDReader(ctx context.Context, id int64) error
	PollTargets(ctx context.Context) ([]wardwatch.PollTarget, error)
	SavePollTarget(ctx context.Context, p *wardwatch.PollTarget, clearAuth bool) error
	DeletePollTarget(ctx context.Context, id int64) error
}

// readerAdmin serves /admin/readers.
type readerAdmin struct {
	logger     *slog.Logger
	store      Store
	readers    ReaderStore
	audit      auditor
	changed    func(context.Context)
	pollStatus func() map[string]CollectorStatus // by poll target name
	now        func() time.Time
}

type readersView struct {
	Readers    []wardwatch.RFIDReader
	Polls      []wardwatch.PollTarget
	PollStatus map[string]CollectorStatus
	Zones      []wardwatch.Zone
	ZoneNames  map[int64]string
	Floors     map[int64]wardwatch.Floor
	Ports      []int
	Token      string // a new push token, shown once
	TokenFor   string
	Error      string
	Now        time.Time
}

func (a *readerAdmin) view(ctx context.Context) (readersView, error) {
	rs, err := a.readers.RFIDReaders(ctx)
	if err != nil {
		return readersView{}, fmt.Errorf("list readers: %w", err)
	}
	ps, err := a.readers.PollTargets(ctx)
	if err != nil {
		return readersView{}, fmt.Errorf("list poll targets: %w", err)
	}
	s, err := loadSite(ctx, a.store)
	if err != nil {
		return readersView{}, err
	}
	v := readersView{Readers: rs, Polls: ps, Zones: s.order, Floors: s.floors, ZoneNames: map[int64]string{},
		Ports: []int{1, 2, 3, 4}, Now: a.now()}
	for id, z := range s.zones {
		v.ZoneNames[id] = z.Name
	}
	if a.pollStatus != nil {
		v.PollStatus = a.pollStatus()
	}
	for i := range v.Polls {
		if v.Polls[i].AuthHeader != "" {
			v.Polls[i].AuthHeader = "set"
		}
	}
	return v, nil
}

func (a *readerAdmin) render(w http.ResponseWriter, r *http.Request, status int, v readersView) {
	p := newPageMeta(r, "RFID readers and polling")
	p.Nav = "admin"
	render(w, r, a.logger, status, readersPage(p, v))
}

func (a *readerAdmin) handlePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := a.view(r.Context())
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.render(w, r, http.StatusOK, v)
	})
}

// fail shows a user error on the page again, or an error page.
func (a *readerAdmin) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status := statusOf(err); status < 400 || status >= 500 || status == http.StatusNotFound {
		renderError(w, r, a.logger, err)
		return
	}
	v, verr := a.view(r.Context())
	if verr != nil {
		renderError(w, r, a.logger, verr)
		return
	}
	v.Error = wardwatch.ErrorMessage(err)
	a.render(w, r, statusOf(err), v)
}

// readerFromForm reads a reader form: key, name, format, antenna_N = zone
// ID for N in 1–4, and for a door reader inside/outside antenna ports.
func readerFromForm(v map[string]string) wardwatch.RFIDReader {
	rd := wardwatch.RFIDReader{ID: formID(v, "id"), Key: v["key"], Name: v["name"], Format: v["format"]}
	for port := 1; port <= 4; port++ {
		if z := formID(v, "antenna_"+strconv.Itoa(port)); z != 0 {
			rd.Antennas = append(rd.Antennas, wardwatch.RFIDAntenna{Port: port, ZoneID: z})
		}
	}
	if v["door"] == "on" {
		in, _ := strconv.Atoi(v["inside"])
		out, _ := strconv.Atoi(v["outside"])
		p := &wardwatch.RFIDPortal{Inside: []int{in}, Outside: []int{out}}
		for _, an := range rd.Antennas {
			if an.Port == in {
				p.InsideZoneID = an.ZoneID
			}
			if an.Port == out {
				p.OutsideZoneID = an.ZoneID
			}
		}
		rd.Portal = p
	}
	return rd
}

// handleSaveReader creates or updates a reader; a new reader gets a push
// token, shown once.
func (a *readerAdmin) handleSaveReader() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		rd := readerFromForm(v)
		creating := rd.ID == 0
		if err := a.readers.SaveRFIDReader(ctx, &rd); err != nil {
			a.fail(w, r, err)
			return
		}
		action := "update"
		if creating {
			action = "create"
		}
		a.audit.record(ctx, action, "rfid_reader", rd.ID, nil, rd, "")
		a.changed(ctx)
		if !creating {
			http.Redirect(w, r, "/admin/readers", http.StatusSeeOther)
			return
		}
		a.issueToken(w, r, rd)
	})
}

// rotateReaderToken gives reader id a new push token (the old one stops
// working at once), audits it and returns it, to be shown once: the
// readers page's and the API's way.
func rotateReaderToken(ctx context.Context, readers ReaderStore, audit auditor, id int64) (string, error) {
	token, err := auth.NewToken()
	if err == nil {
		err = readers.SetRFIDReaderToken(ctx, id, auth.HashToken(token))
	}
	if err != nil {
		return "", fmt.Errorf("issue push token of reader %d: %w", id, err)
	}
	audit.record(ctx, "token", "rfid_reader", id, nil, nil, "new push token issued")
	return token, nil
}

// issueToken gives reader rd a new push token and shows it once.
func (a *readerAdmin) issueToken(w http.ResponseWriter, r *http.Request, rd wardwatch.RFIDReader) {
	ctx := r.Context()
	token, err := rotateReaderToken(ctx, a.readers, a.audit, rd.ID)
	if err != nil {
		renderError(w, r, a.logger, err)
		return
	}
	v, err := a.view(ctx)
	if err != nil {
		renderError(w, r, a.logger, err)
		return
	}
	v.Token, v.TokenFor = token, rd.Key
	a.render(w, r, http.StatusOK, v)
}

func (a *readerAdmin) handleReaderAction() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		rs, err := a.readers.RFIDReaders(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		i := slices.IndexFunc(rs, func(x wardwatch.RFIDReader) bool { return x.ID == id })
		if i < 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", id))
			return
		}
		switch v["action"] {
		case "token":
			a.issueToken(w, r, rs[i])
			return
		case "delete":
			if err := a.readers.DeleteRFIDReader(ctx, id); err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			a.audit.record(ctx, "delete", "rfid_reader", id, rs[i], nil, "")
			a.changed(ctx)
		default:
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "Unknown action."))
			return
		}
		http.Redirect(w, r, "/admin/readers", http.StatusSeeOther)
	})
}

// handleSavePoll creates or updates a poll target.
func (a *readerAdmin) handleSavePoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		p, clearAuth, err := pollFromForm(v)
		p.ID, p.AuthHeader = formID(v, "id"), r.PostForm.Get("auth_header") // the secret as typed
		if err == nil {
			err = a.readers.SavePollTarget(ctx, &p, clearAuth)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		logged := p
		logged.AuthHeader = ""
		a.audit.record(ctx, "save", "poll_target", p.ID, nil, logged, "")
		a.changed(ctx)
		http.Redirect(w, r, "/admin/readers", http.StatusSeeOther)
	})
}

// pollFromForm reads the poll form (the page's and the API's): the
// interval defaults to 10 s and the timeout to 5 s; the store checks the
// rest. clearAuth asks to remove the stored auth header.
func pollFromForm(v map[string]string) (p wardwatch.PollTarget, clearAuth bool, err error) {
	p = wardwatch.PollTarget{Name: v["name"], URL: v["url"], Source: v["source"], Key: v["source_key"],
		Format: v["format"], AuthHeader: v["auth_header"], Enabled: v["enabled"] == "on"}
	if p.Interval, err = formDuration(v, "interval", "The poll interval", 10*time.Second); err == nil {
		p.Timeout, err = formDuration(v, "timeout", "The timeout", 5*time.Second)
	}
	return p, v["clear_auth"] == "on", err
}

func (a *readerAdmin) handleDeletePoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			err = a.readers.DeletePollTarget(r.Context(), id)
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(r.Context(), "delete", "poll_target", id, nil, nil, "")
		a.changed(r.Context())
		http.Redirect(w, r, "/admin/readers", http.StatusSeeOther)
	})
}

func antennaZone(rd wardwatch.RFIDReader, port int) int64 {
	for _, a := range rd.Antennas {
		if a.Port == port {
			return a.ZoneID
		}
	}
	return 0
}

func portsText(ps []int) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}
