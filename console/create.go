package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/campaign-run/campaign/campaign"
)

// Creator creates campaigns the way `campaign run` does (cmd/campaign implements it with the
// code of run --dry-run and run --detach): Import makes a draft campaign of the service from an
// upload, DryRun shows what it would send (asking Vapi: the pre-flight), Rejects opens the file
// of its rejected rows (as `run --rejects` writes it; an error wrapping fs.ErrNotExist when
// there is none here), Start hands it to the service, Discard deletes it. Errors the user can
// fix are *InputError; others are the server's (logged, never shown).
type Creator interface {
	Import(ctx context.Context, n NewCampaign) (*campaign.Campaign, error)
	DryRun(ctx context.Context, c *campaign.Campaign) (*DryRun, error)
	Rejects(c *campaign.Campaign) (io.ReadCloser, error)
	Start(ctx context.Context, c *campaign.Campaign) error
	Discard(ctx context.Context, c *campaign.Campaign) error
}

// dryRuns keeps the dry runs of the drafts this process imported, so that the dry-run page
// (a GET, reloaded at will) shows them without asking Vapi again: the pre-flight runs on a POST
// (the upload, or Check again). Bounded: past maxDryRuns, the oldest is forgotten, and its page
// offers Check again.
type dryRuns struct {
	mu    sync.Mutex
	byID  map[int64]*DryRun
	order []int64
}

// maxDryRuns is how many drafts' dry runs a console keeps.
const maxDryRuns = 64

func (d *dryRuns) put(id int64, run *DryRun) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID == nil {
		d.byID = map[int64]*DryRun{}
	}
	if _, ok := d.byID[id]; !ok {
		d.order = append(d.order, id)
	}
	d.byID[id] = run
	for len(d.order) > maxDryRuns {
		delete(d.byID, d.order[0])
		d.order = d.order[1:]
	}
}

func (d *dryRuns) get(id int64) *DryRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byID[id]
}

func (d *dryRuns) forget(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byID, id)
	d.order = slices.DeleteFunc(d.order, func(o int64) bool { return o == id })
}

// NewCampaign is the new-campaign form: the uploaded CSV and the settings as typed, which the
// Creator checks with the rules of campaign run's flags (empty: the flag's default).
type NewCampaign struct {
	// CSV is the uploaded file; FileName its name on the user's machine.
	CSV      io.Reader
	FileName string

	Name, AssistantID, SquadID string
	// PhoneNumberIDs are one or more ids, separated by commas.
	PhoneNumberIDs                    string
	Window, TimeZone, Rate            string
	MaxConcurrent, Retry, MaxAttempts string
	MaxCost, StartAt, EndBy           string
}

// DryRun is what the dry run of a draft shows besides its import figures (campaign.ImportStats).
type DryRun struct {
	Delimiter string
	// Columns are the roles of the file's columns ("phone=phone, name=name").
	Columns   string
	Variables []string
	Window    string
	Schedule  string
	TimeZones []DryRunZone
	Warnings  []string
	// Calls are the first POST /call bodies, indented JSON, secrets redacted.
	Calls []string
	// Rejects are the first lines of the rejected rows' file, its header first.
	Rejects []string
	// Preflight is what the pre-flight checks with Vapi said; PreflightErr why they failed ("":
	// they passed, and the draft may start).
	Preflight, PreflightErr string
}

// DryRunZone is a set of time zones some contacts share, and when they may first be called.
type DryRunZone struct {
	Zones         string
	Contacts      int
	FirstCallable string
}

// InputError is an error the user can fix (a bad file or setting, a failed pre-flight): its
// text is shown.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// MaxUploadBytes bounds the new-campaign form's body, the CSV with it.
const MaxUploadBytes = 50 << 20

// uploadMemory is how much of an upload is held in memory; the rest goes to a temporary file.
const uploadMemory = 1 << 20

// newForm is what the new-campaign form shows: the values typed and what was wrong.
type newForm struct {
	NewCampaign
	Error string
}

// Defaults are the campaign's defaults, shown in the empty fields.
func (newForm) Defaults() map[string]any {
	return map[string]any{"Window": campaign.DefaultWindowSpec, "Retry": campaign.DefaultRetrySpec, "MaxAttempts": campaign.DefaultMaxAttempts}
}

// createView is the dry run page of a draft.
type createView struct {
	ID                           int64
	Name, File, Status           string
	RowsRead, Accepted, Rejected int
	Reasons                      []reasonCount
	Scheduled                    bool
	DryRun                       *DryRun
}

type reasonCount struct {
	Reason string
	Count  int
}

// operatorPage answers 403 to a viewer; it reports whether s may go on.
func operatorPage(w http.ResponseWriter, s session) bool {
	if s.role != RoleOperator {
		http.Error(w, "your role ("+string(s.role)+") may not create campaigns", http.StatusForbidden)
		return false
	}
	return true
}

// newPage shows the new-campaign form.
func (srv *server) newPage(w http.ResponseWriter, r *http.Request, s session) {
	if !operatorPage(w, s) {
		return
	}
	v := srv.newView(w, r, s, "New campaign")
	v.New = &newForm{}
	srv.render(w, r, http.StatusOK, "new", v)
}

// importsBusyRetrySeconds is the Retry-After of an upload refused because the server runs as
// many imports as it allows (campaign.ErrImportsBusy): about what a large file's import takes.
const importsBusyRetrySeconds = 10

// create imports the uploaded CSV as a draft campaign of the service, runs its dry run and leads
// to the dry-run page (post/redirect/get: a reload asks Vapi nothing); a bad file or setting
// shows the form again with the reason and the values typed, answered 422 (refused, and nothing
// was made).
func (srv *server) create(w http.ResponseWriter, r *http.Request, s session) {
	n := NewCampaign{
		Name: r.PostFormValue("name"), AssistantID: r.PostFormValue("assistant_id"), SquadID: r.PostFormValue("squad_id"),
		PhoneNumberIDs: r.PostFormValue("phone_number_ids"), Window: r.PostFormValue("window"),
		TimeZone: r.PostFormValue("timezone"), Rate: r.PostFormValue("rate"), MaxConcurrent: r.PostFormValue("max_concurrent"),
		Retry: r.PostFormValue("retry"), MaxAttempts: r.PostFormValue("max_attempts"), MaxCost: r.PostFormValue("max_cost"),
		EndBy: r.PostFormValue("end_by"),
	}
	if r.PostFormValue("start") == "at" {
		n.StartAt = r.PostFormValue("start_at")
	}
	againWith := func(status int, msg string) {
		v := srv.newView(w, r, s, "New campaign")
		n.CSV = nil
		v.New = &newForm{NewCampaign: n, Error: msg}
		srv.render(w, r, status, "new", v)
	}
	again := func(msg string) { againWith(http.StatusUnprocessableEntity, msg) }
	if r.PostFormValue("start") == "at" && strings.TrimSpace(n.StartAt) == "" {
		again("Give the start time, or choose to start now.")
		return
	}
	file, header, err := r.FormFile("csv")
	if err != nil {
		again("Choose the CSV file of the contacts to call.")
		return
	}
	defer file.Close()
	n.CSV, n.FileName = file, header.Filename
	c, err := srv.cfg.Creator.Import(r.Context(), n)
	var bad *InputError
	switch {
	case errors.As(err, &bad):
		again(bad.Error())
		return
	case errors.Is(err, campaign.ErrImportsBusy):
		// Refused before reading the file: nothing was made, and the same upload may simply be
		// sent again.
		w.Header().Set("Retry-After", strconv.Itoa(importsBusyRetrySeconds))
		againWith(http.StatusServiceUnavailable, "The server is importing as many files as it takes at once; nothing was made. "+
			"Choose the file again and create the campaign in a moment.")
		return
	case err != nil:
		srv.fail(w, r, err)
		return
	}
	srv.audit(s, c, "import", "contacts", c.ImportStats.Accepted, "rejected", c.ImportStats.RejectedTotal())
	srv.dryRun(w, r, c)
}

// dryRun runs draft c's dry run (the pre-flight with Vapi), keeps it and leads to its page.
func (srv *server) dryRun(w http.ResponseWriter, r *http.Request, c *campaign.Campaign) {
	d, err := srv.cfg.Creator.DryRun(r.Context(), c)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	srv.dryRuns.put(c.ID, d)
	http.Redirect(w, r, fmt.Sprintf("%snew/%d", Prefix, c.ID), http.StatusSeeOther)
}

// check runs a draft's dry run again (after a fix in Vapi, or on a console that has not kept
// it).
func (srv *server) check(w http.ResponseWriter, r *http.Request, s session) {
	if c, ok := srv.loadDraft(w, r, s); ok {
		srv.dryRun(w, r, c)
	}
}

// rejectsCSV downloads a draft's rejected rows, the file `run --rejects` writes: the file's
// columns, then line, reason and detail.
func (srv *server) rejectsCSV(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadDraft(w, r, s)
	if !ok {
		return
	}
	f, err := srv.cfg.Creator.Rejects(c)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no rejected rows of this draft here", http.StatusNotFound)
		return
	}
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": c.Name + ".rejects.csv"}))
	if _, err := io.Copy(w, f); err != nil {
		srv.cfg.Logger.Warn("console: rejects download cut short", "campaign_id", c.ID, "error", err)
	}
}

// loadDraft loads the {id} of the path, a draft of the service; another campaign leads to its
// own page.
func (srv *server) loadDraft(w http.ResponseWriter, r *http.Request, s session) (*campaign.Campaign, bool) {
	if !operatorPage(w, s) {
		return nil, false
	}
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return nil, false
	}
	if c.Status != campaign.StatusDraft || c.Mode != campaign.ModeService {
		srv.done(w, r, c, flash{Error: true, Text: fmt.Sprintf("Campaign %s is %s: it is no draft of the console's to start or discard.", c.Name, c.Status)})
		return nil, false
	}
	return c, true
}

// dryRunPage shows a draft's dry run as kept at its upload or last check, with Start (or
// Schedule), Discard and Check again; it asks Vapi nothing.
func (srv *server) dryRunPage(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadDraft(w, r, s)
	if !ok {
		return
	}
	d := srv.dryRuns.get(c.ID)
	st := c.ImportStats
	cv := &createView{ID: c.ID, Name: c.Name, File: c.SourceFile, Status: string(c.Status), RowsRead: st.RowsRead,
		Accepted: st.Accepted, Rejected: st.RejectedTotal(), DryRun: d,
		Scheduled: c.StartAt != nil && c.StartAt.After(srv.cfg.Now())}
	for reason, n := range st.Rejected {
		cv.Reasons = append(cv.Reasons, reasonCount{string(reason), n})
	}
	sort.Slice(cv.Reasons, func(i, j int) bool {
		a, b := cv.Reasons[i], cv.Reasons[j]
		return a.Count > b.Count || a.Count == b.Count && a.Reason < b.Reason
	})
	v := srv.newView(w, r, s, "Dry run of "+c.Name)
	v.Create = cv
	srv.render(w, r, http.StatusOK, "dryrun", v)
}

// start hands a draft to the service (as campaign run --detach): it runs, or waits for its
// start time.
func (srv *server) start(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadDraft(w, r, s)
	if !ok {
		return
	}
	err := srv.cfg.Creator.Start(r.Context(), c)
	var bad *InputError
	switch {
	case errors.As(err, &bad):
		http.SetCookie(w, srv.auth.flashCookie(flash{Error: true, Text: "Not started: " + bad.Error()}, secure(r)))
		http.Redirect(w, r, fmt.Sprintf("%snew/%d", Prefix, c.ID), http.StatusSeeOther)
		return
	case errors.Is(err, campaign.ErrWrongStatus):
		srv.done(w, r, c, flash{Error: true, Text: fmt.Sprintf("Campaign %s was started or discarded meanwhile.", c.Name)})
		return
	case err != nil:
		srv.fail(w, r, err)
		return
	}
	srv.audit(s, c, "start")
	srv.dryRuns.forget(c.ID)
	text := fmt.Sprintf("Campaign %s handed to campaign serve: %d contacts to call.", c.Name, c.ImportStats.Accepted)
	if c.StartAt != nil && c.StartAt.After(srv.cfg.Now()) {
		text = fmt.Sprintf("Campaign %s scheduled: campaign serve starts it at %s.", c.Name, fmtTime(c.StartAt))
	}
	srv.done(w, r, c, flash{Text: text})
}

// discard deletes a draft (as campaign delete).
func (srv *server) discard(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadDraft(w, r, s)
	if !ok {
		return
	}
	if err := srv.cfg.Creator.Discard(r.Context(), c); err != nil {
		srv.fail(w, r, err)
		return
	}
	srv.audit(s, c, "discard")
	srv.dryRuns.forget(c.ID)
	http.SetCookie(w, srv.auth.flashCookie(flash{Text: fmt.Sprintf("Draft campaign %s discarded: nobody was called.", c.Name)}, secure(r)))
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}
