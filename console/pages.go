package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
)

// view is what every page template gets.
type view struct {
	Title    string
	User     string
	Role     Role
	Operator bool
	CSRF     string
	Flash    *flash
	// Refresh is the live fragment's refresh interval, in milliseconds.
	Refresh int64

	Login    *loginView
	List     *listView
	Campaign *campaignView
	Calls    *callsView
	Call     *callView
	// CanCreate: the console creates campaigns (it has a Creator) and the user is an operator.
	CanCreate bool
	New       *newForm
	Create    *createView
}

// newView is the view of a page for session s.
func (srv *server) newView(w http.ResponseWriter, r *http.Request, s session, title string) view {
	return view{Title: title, User: s.User, Role: s.role, Operator: s.role == RoleOperator, CSRF: srv.auth.csrfToken(s),
		Flash: srv.auth.takeFlash(w, r, secure(r)), Refresh: srv.refresh.Milliseconds(),
		CanCreate: srv.cfg.Creator != nil && s.role == RoleOperator}
}

// render writes template name with v, or a 500 that says nothing of the error (logged).
func (srv *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	var b strings.Builder
	if err := srv.pages.ExecuteTemplate(&b, name, v); err != nil {
		srv.fail(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail logs err and answers 500 without its text (it may name the database).
func (srv *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	srv.cfg.Logger.Error("console", "path", r.URL.Path, "error", err)
	http.Error(w, "internal error: see the server's log", http.StatusInternalServerError)
}

// loginView is the login form.
type loginView struct {
	Next   string
	Failed bool
	// Throttled: too many failed logins of that user name for now.
	Throttled bool
}

// loginPage shows the login form.
func (srv *server) loginPage(w http.ResponseWriter, r *http.Request) {
	srv.render(w, r, http.StatusOK, "login", view{Title: "Log in", Login: &loginView{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks the credentials and sets the session cookie; wrong ones get the form again, 401.
func (srv *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	next := safeNext(r.PostFormValue("next"))
	name, now := r.PostFormValue("user"), srv.cfg.Now()
	failures := srv.auth.failureBucket(name)
	if failures.TokensAt(now) < 1 {
		// Too many wrong passwords for this name: no password is even checked for a while.
		w.Header().Set("Retry-After", strconv.Itoa(int(loginRefill.Seconds())))
		srv.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Log in", Login: &loginView{Next: next, Throttled: true}})
		return
	}
	u, ok := srv.auth.check(name, r.PostFormValue("password"))
	if !ok {
		failures.AllowN(now, 1)
		srv.cfg.Logger.Warn("console: login refused", "remote_addr", r.RemoteAddr)
		srv.render(w, r, http.StatusUnauthorized, "login", view{Title: "Log in", Login: &loginView{Next: next, Failed: true}})
		return
	}
	c, err := srv.auth.newSessionCookie(u, now, secure(r))
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	http.SetCookie(w, c)
	srv.cfg.Logger.Info("console: logged in", "user", u.Name, "role", u.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout clears the session cookie.
func (srv *server) logout(w http.ResponseWriter, r *http.Request, _ session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// safeNext is where to go after the login: a console path, else the campaigns page (never
// another site).
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// listView is a page of the campaigns list.
type listView struct {
	Filter  campaign.ListFilter
	Filters []filterOption
	Rows    []listRow
	// Next is the address of the next page ("" on the last); First is set past the first page.
	Next  template.URL
	First bool
}

// filterOption is an entry of the status filter.
type filterOption struct {
	Value, Label string
	Selected     bool
}

// listRow is one campaign of the list.
type listRow struct {
	ID                  int64
	Name, Status, Class string
	Orphaned            bool
	Total, Final, Live  int
	Cap                 int
	Rate                string
	Cost                string
	FinalShare          string
	Created, Finished   string
}

// campaignsPage lists the campaigns, newest first, a page at a time, filtered by status.
func (srv *server) campaignsPage(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	filter, err := campaign.ParseListFilter(q.Get("status"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size := srv.cfg.PageSize
	p := campaign.ListPage{Filter: filter, Limit: size + 1}
	if after := q.Get("after"); after != "" {
		c, err := parseCursor(after)
		if err != nil {
			http.Error(w, "bad page cursor", http.StatusBadRequest)
			return
		}
		p.After = &c
	}
	list, err := srv.cfg.Store.ListCampaignsPage(r.Context(), p)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	lv := &listView{Filter: filter, First: p.After != nil}
	if len(list) > size {
		list = list[:size]
		next := url.Values{"after": {cursor(list[size-1])}}
		if filter != "" {
			next.Set("status", string(filter))
		}
		lv.Next = template.URL(Prefix + "?" + next.Encode()) // built here from escaped values
	}
	for _, f := range filterOptions() {
		f.Selected = campaign.ListFilter(f.Value) == filter
		lv.Filters = append(lv.Filters, f)
	}
	for _, c := range list {
		row := listRow{ID: c.ID, Name: c.Name, Status: statusText(c.Status, c.PausedReason), Class: string(c.Status),
			Orphaned: campaign.Orphaned(c.Status, c.Runner), Total: c.Contacts, Final: c.Final, Live: c.Live, Cap: c.MaxConcurrent,
			Rate: rateText(c.RatePerSecond), Cost: usd(c.Cost), FinalShare: share(c.Final, c.Contacts),
			Created: fmtTime(&c.CreatedAt), Finished: fmtTime(c.FinishedAt)}
		lv.Rows = append(lv.Rows, row)
	}
	v := srv.newView(w, r, s, "Campaigns")
	v.List = lv
	srv.render(w, r, http.StatusOK, "campaigns", v)
}

// filterOptions are the entries of the status filter: every campaign, each status, and the
// views of campaign.ListFilter.
func filterOptions() []filterOption {
	opts := []filterOption{{Value: "", Label: "All campaigns"}}
	for _, st := range campaign.Statuses() {
		opts = append(opts, filterOption{Value: string(st), Label: string(st)})
		if st == campaign.StatusPaused {
			opts = append(opts, filterOption{Value: string(campaign.ListPausedBudget), Label: "paused by budget"})
		}
		if st == campaign.StatusRunning {
			opts = append(opts, filterOption{Value: string(campaign.ListOrphaned), Label: "orphaned (no runner)"})
		}
	}
	return opts
}

// cursor is the keyset cursor of the page that follows campaign c.
func cursor(c campaign.CampaignSummary) string {
	return c.CreatedAt.UTC().Format(time.RFC3339Nano) + "_" + strconv.FormatInt(c.ID, 10)
}

// parseCursor reads a cursor.
func parseCursor(s string) (campaign.CampaignSummary, error) {
	at, id, ok := strings.Cut(s, "_")
	if !ok {
		return campaign.CampaignSummary{}, errors.New("no id")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return campaign.CampaignSummary{}, err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return campaign.CampaignSummary{}, err
	}
	return campaign.CampaignSummary{ID: n, CreatedAt: t}, nil
}

// campaignView is the campaign page.
type campaignView struct {
	ID   int64
	Name string
	Live *liveView
	// Cards and Charts are the report's, drawn by package reports.
	Cards, Charts template.HTML
	// FiguresNote says when the report's figures were read, when that is a while ago ("" when not).
	FiguresNote string
	Settings    []setting
	// Form holds the pacing form's current values.
	Form                           pacingForm
	CanPause, CanResume, CanCancel bool
	// ResumeNote says why the console cannot resume the campaign, when it cannot.
	ResumeNote string
}

// staleFigures is how old the report's figures may be before the page says when they were read.
// The live part refreshes every few seconds; the report's figures are read less often, the less
// often the larger the campaign (campaign.FactsCache).
const staleFigures = 10 * time.Second

// figuresNote says when report figures read at readAt were read, if that is staleFigures or
// more before now; "" when not.
func figuresNote(readAt, now time.Time) string {
	if readAt.IsZero() || now.Sub(readAt) < staleFigures {
		return ""
	}
	return fmt.Sprintf("Report figures as of %s UTC (%s ago): a large campaign's figures are read every few minutes.",
		readAt.UTC().Format("15:04:05"), now.Sub(readAt).Round(time.Second))
}

// setting is one line of the settings table.
type setting struct{ Name, Value string }

// pacingForm is what the pacing form shows.
type pacingForm struct{ Rate, MaxConcurrent, Window, MaxCost string }

// campaignID reads the {id} of the path; it answers 404 itself when there is no such campaign.
func (srv *server) loadCampaign(w http.ResponseWriter, r *http.Request) (*campaign.Campaign, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.NotFound(w, r)
		return nil, false
	}
	c, err := srv.cfg.Store.Campaign(r.Context(), id)
	if errors.Is(err, campaign.ErrNotFound) {
		http.Error(w, "no such campaign", http.StatusNotFound)
		return nil, false
	}
	if err != nil {
		srv.fail(w, r, err)
		return nil, false
	}
	return c, true
}

// campaignPage shows a campaign: its live figures, the report's cards and charts, its settings
// and, for an operator, its actions.
func (srv *server) campaignPage(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	live, runners, err := srv.live(r, c)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	facts, err := srv.cfg.Store.ReportFacts(r.Context(), c.ID)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	rep := reports.Build(facts, reports.Options{Now: srv.cfg.Now()})
	cards, charts, err := reports.Visuals(rep)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	cv := &campaignView{ID: c.ID, Name: c.Name, Live: live, Cards: cards, Charts: charts, Settings: settings(c),
		FiguresNote: figuresNote(facts.ReadAt, srv.cfg.Now()),
		Form: pacingForm{Rate: strconv.FormatFloat(c.RatePerSecond, 'f', -1, 64), MaxConcurrent: strconv.Itoa(c.MaxConcurrent),
			Window: c.WindowSpec, MaxCost: maxCostValue(c.MaxCostUSD)},
		CanPause: c.Status == campaign.StatusRunning, CanCancel: campaign.CanMoveStatus(c.Status, campaign.StatusCancelled),
	}
	if campaign.CanMoveStatus(c.Status, campaign.StatusRunning) && c.Status != campaign.StatusRunning {
		cv.ResumeNote = resumeRefusal(c, runners)
		cv.CanResume = cv.ResumeNote == ""
	}
	v := srv.newView(w, r, s, c.Name)
	v.Campaign = cv
	srv.render(w, r, http.StatusOK, "campaign", v)
}

// liveView is the part of the campaign page that refreshes itself.
type liveView struct {
	ID                    int64
	Status                string
	StatusClass           string
	Refreshing            bool
	Total, Final          int
	FinalShare            string
	Live, Cap             int
	Rate, RateLastMinute  string
	Configured            string
	Cost                  string
	NextDial              string
	Runner                string
	Orphaned              bool
	Continue              string
	States                []setting
	Errors                []campaign.ErrorCount
	ErroredAttempts       int
	PermanentFailures     int
	EventErrors, Rejected int
	Updated               string
}

// live reads a campaign's live figures, as `campaign status` does.
func (srv *server) live(r *http.Request, c *campaign.Campaign) (*liveView, campaign.RunnerState, error) {
	ctx, now := r.Context(), srv.cfg.Now()
	p, err := srv.cfg.Store.Progress(ctx, c.ID)
	if err != nil {
		return nil, campaign.RunnerState{}, err
	}
	x, err := srv.cfg.Store.StatusExtras(ctx, c.ID, now, rateWindow, topErrors)
	if err != nil {
		return nil, campaign.RunnerState{}, err
	}
	runners, list, err := srv.cfg.Store.Runners(ctx, c.ID)
	if err != nil {
		return nil, campaign.RunnerState{}, err
	}
	// The status is the campaign row's, read for this request: the progress may come from a
	// cache (campaign serve's), and the page after a pause must show the campaign paused.
	p.Status, p.PausedReason = c.Status, c.PausedReason
	final := p.FinalCount()
	lv := &liveView{ID: c.ID, Status: statusText(p.Status, p.PausedReason), StatusClass: string(p.Status),
		Refreshing: !p.Status.Ended() && p.Status != campaign.StatusDraft,
		Total:      p.Total, Final: final, FinalShare: share(final, p.Total), Live: p.Live, Cap: c.MaxConcurrent,
		Rate: rateFigure(x.RecentRate), RateLastMinute: rateFigure(x.LastMinuteRate), Configured: rateText(c.RatePerSecond),
		Cost: usd(p.Cost), Errors: x.Errors, ErroredAttempts: x.ErroredAttempts,
		PermanentFailures: p.ByOutcome[campaign.OutcomeFailedPermanent], EventErrors: x.EventErrors, Rejected: x.RejectedEvents,
		Orphaned: campaign.Orphaned(p.Status, runners), Updated: now.UTC().Format("15:04:05 MST")}
	switch at, isNow := campaign.NextDial(c, p, x, now); {
	case p.Status.Ended():
		lv.NextDial = "none: the campaign has ended"
	case isNow:
		lv.NextDial = "now (contacts are due)"
	case at != nil:
		lv.NextDial = fmtTime(at) + " (in " + at.Sub(now).Round(time.Second).String() + ")"
	default:
		lv.NextDial = "none: no contact waits"
	}
	switch {
	case lv.Orphaned:
		lv.Runner = "no runner: nothing dials this campaign"
		if runners.LastSeen != nil {
			lv.Runner = "no runner since " + fmtTime(runners.LastSeen) + ": nothing dials this campaign"
		}
		lv.Continue = campaign.ContinueCommand(c, true)
	case len(list) > 0:
		lv.Runner = fmt.Sprintf("%d runner(s): %s", len(list), runnerNames(list))
	default:
		lv.Runner = "none"
	}
	if p.Status == campaign.StatusPaused && p.PausedReason == campaign.PauseBudget {
		lv.Continue = "raise the budget below, then resume"
	}
	for _, st := range campaign.ContactStates() {
		lv.States = append(lv.States, setting{Name: string(st), Value: strconv.Itoa(p.ByState[st])})
	}
	return lv, runners, nil
}

// runnerNames says which processes run a campaign: host and pid, and serve or foreground.
func runnerNames(list []campaign.Runner) string {
	names := make([]string, len(list))
	for i, r := range list {
		kind := "campaign serve"
		if r.CampaignID != 0 {
			kind = "campaign run (" + string(r.Mode) + ")"
		}
		names[i] = fmt.Sprintf("%s on %s pid %d", kind, r.Host, r.PID)
	}
	return strings.Join(names, ", ")
}

// liveFragment serves the live part of the campaign page alone, for its refresh.
func (srv *server) liveFragment(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	live, _, err := srv.live(r, c)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	srv.render(w, r, http.StatusOK, "live", live)
}

// cancelConfirm asks an operator to confirm a cancellation.
func (srv *server) cancelConfirm(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	v := srv.newView(w, r, s, "Cancel "+c.Name+"?")
	v.Campaign = &campaignView{ID: c.ID, Name: c.Name, CanCancel: campaign.CanMoveStatus(c.Status, campaign.StatusCancelled)}
	srv.render(w, r, http.StatusOK, "cancel", v)
}

// settings are the campaign's settings as the page shows them: never a secret (the webhook
// secret is left out; URLs that may carry a token are masked).
func settings(c *campaign.Campaign) []setting {
	var list []setting
	add := func(name, value string) { list = append(list, setting{name, value}) }
	add("Mode", string(c.Mode))
	switch {
	case c.AssistantID != "":
		add("Assistant", c.AssistantID)
	case c.SquadID != "":
		add("Squad", c.SquadID)
	case c.WorkflowID != "":
		add("Workflow", c.WorkflowID)
	case len(c.Assistant) > 0:
		add("Assistant", "inline: "+reports.InlineAssistantName(c.Assistant))
	}
	if len(c.PhoneNumberIDs) > 1 {
		add("Phone numbers", strings.Join(c.PhoneNumberIDs, ", ")+" ("+string(c.NumberStrategy)+")")
	} else {
		add("Phone number", orNone(c.PhoneNumberID))
	}
	add("Calling window", orNone(c.WindowSpec))
	add("Default time zone", orNone(c.DefaultTimeZone))
	add("Rate", rateText(c.RatePerSecond))
	add("Max concurrent calls", strconv.Itoa(c.MaxConcurrent))
	add("Max attempts", strconv.Itoa(c.MaxAttempts))
	add("Retry policy", orNone(c.RetryPolicy))
	add("Budget cap", maxCostText(c.MaxCostUSD))
	add("Start at", fmtTime(c.StartAt))
	add("End by", fmtTime(c.EndBy))
	add("Results", webhookText(c))
	if c.PredialURL != "" {
		add("Pre-dial hook", campaign.MaskURL(c.PredialURL))
	}
	if c.NotifyURL != "" {
		add("Notifications", campaign.MaskURL(c.NotifyURL))
	}
	add("Source file", orNone(c.SourceFile))
	add("Created", fmtTime(&c.CreatedAt))
	return list
}

// webhookText says how the campaign's results arrive, without any secret.
func webhookText(c *campaign.Campaign) string {
	if c.PublicURL == "" {
		return "polled from Vapi"
	}
	return "webhooks to " + campaign.MaskURL(c.PublicURL)
}

// statusText is a campaign status for people: "paused (budget)" for one its budget cap paused.
func statusText(status campaign.Status, reason campaign.PauseReason) string {
	if status == campaign.StatusPaused && reason != campaign.PauseOperator {
		return fmt.Sprintf("%s (%s)", status, reason)
	}
	return string(status)
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(rate, 'f', -1, 64) + "/s"
}

func rateFigure(rate float64) string { return strconv.FormatFloat(rate, 'f', 2, 64) + "/s" }

func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }

func maxCostText(v *float64) string {
	if v == nil {
		return "none"
	}
	return usd(*v)
}

// maxCostValue is the pacing form's budget field: the cap, or campaign.NoMaxCost.
func maxCostValue(v *float64) string {
	if v == nil {
		return campaign.NoMaxCost
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func share(n, of int) string {
	if of == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(n)*100/float64(of), 'f', 1, 64)
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// funcs are the templates' functions.
var funcs = template.FuncMap{}
