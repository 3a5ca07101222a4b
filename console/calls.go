package console

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// callsView is a page of a campaign's calls table.
type callsView struct {
	ID   int64
	Name string
	// Form is the query as the form shows it.
	Form     callsForm
	Outcomes []filterOption
	Orders   []filterOption
	// Successes are the success filter's choices; Reasons the ended reasons the reason filter
	// suggests.
	Successes []filterOption
	Reasons   []string
	Rows      []callRow
	// Next is the address of the next page ("" on the last), Prev of the page before ("" on the
	// first); First the first page of the same query, set past the first page.
	Next, Prev, First template.URL
	// Problem says why the query could not be run (the page then answers 400).
	Problem string
}

// callsForm is the calls table's query as it travels in the query string.
type callsForm struct {
	Search, Outcome, Reason, Success string
	// Live keeps the calls live now.
	Live bool
	// Order is the sort and direction, e.g. "created-desc".
	Order string
}

// callRow is one call of the table.
type callRow struct {
	AttemptID                int64
	Number                   int
	Name, Phone, ExternalID  string
	State, Outcome, Reason   string
	Success, Duration, Cost  string
	Caller, Placed           string
	OutcomeClass, StateClass string
}

// callOrders are the orders of the calls table, as "sort-direction" values, the default first.
var callOrders = []filterOption{
	{Value: "created-desc", Label: "Newest first"}, {Value: "created-asc", Label: "Oldest first"},
	{Value: "cost-desc", Label: "Cost, highest first"}, {Value: "cost-asc", Label: "Cost, lowest first"},
	{Value: "duration-desc", Label: "Longest first"}, {Value: "duration-asc", Label: "Shortest first"},
}

// parseCallsForm reads the calls table's query string into the store's query for pages of size
// rows; a value it cannot read is an error that says which.
func parseCallsForm(q url.Values, size int) (callsForm, campaign.CallQuery, error) {
	f := callsForm{Search: strings.TrimSpace(q.Get("q")), Outcome: q.Get("outcome"), Reason: strings.TrimSpace(q.Get("reason")),
		Success: strings.TrimSpace(q.Get("success")), Order: q.Get("order"), Live: q.Get("live") != ""}
	if f.Order == "" {
		f.Order = callOrders[0].Value
	}
	cq := campaign.CallQuery{Search: f.Search, Outcome: campaign.Outcome(f.Outcome), EndedReason: f.Reason, Success: f.Success,
		Live: f.Live, Cursor: cmp.Or(q.Get("after"), q.Get("before")), Limit: min(size, campaign.MaxCallPage)}
	if f.Outcome != "" && !slices.Contains(campaign.ContactOutcomes(), f.Outcome) {
		return f, cq, fmt.Errorf("unknown outcome %q", f.Outcome)
	}
	if !slices.ContainsFunc(callOrders, func(o filterOption) bool { return o.Value == f.Order }) {
		return f, cq, fmt.Errorf("unknown order %q", f.Order)
	}
	sort, dir, _ := strings.Cut(f.Order, "-")
	cq.Sort, cq.Desc = campaign.CallSort(sort), dir == "desc"
	return f, cq, nil
}

// values is the query string of form f (defaults left out), with cursor (when not "") in
// parameter param: after for the next page, before for the page before.
func (f callsForm) values(param, cursor string) url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Search}, {"outcome", f.Outcome}, {"reason", f.Reason}, {"success", f.Success}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if f.Live {
		v.Set("live", "1")
	}
	if f.Order != callOrders[0].Value {
		v.Set("order", f.Order)
	}
	if cursor != "" {
		v.Set(param, cursor)
	}
	return v
}

// callsPage shows a page of a campaign's calls (every attempt), searched, filtered and ordered
// as its query string says, read by keyset (ListCalls's cursor).
func (srv *server) callsPage(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	form, q, err := parseCallsForm(r.URL.Query(), srv.cfg.PageSize)
	cv := &callsView{ID: c.ID, Name: c.Name, Form: form}
	for _, o := range append([]string{""}, campaign.ContactOutcomes()...) {
		label := o
		if o == "" {
			label = "Any outcome"
		}
		cv.Outcomes = append(cv.Outcomes, filterOption{Value: o, Label: label, Selected: o == form.Outcome})
	}
	for _, o := range callOrders {
		o.Selected = o.Value == form.Order
		cv.Orders = append(cv.Orders, o)
	}
	cv.Successes = successOptions(form.Success)
	cv.Reasons = campaign.KnownEndedReasons()
	v := srv.newView(w, r, s, "Calls of "+c.Name)
	v.Calls = cv
	var page campaign.CallPage
	if err != nil {
		cv.Problem = err.Error() + "."
	} else {
		page, err = srv.cfg.Store.ListCalls(r.Context(), c.ID, q)
	}
	switch {
	case cv.Problem != "":
	case errors.Is(err, campaign.ErrBadCursor):
		cv.Problem = "This page's link is not valid (it was altered, or made for another campaign or query): start again from the first page."
	case errors.Is(err, campaign.ErrBadCallQuery):
		cv.Problem = strings.TrimPrefix(err.Error(), campaign.ErrBadCallQuery.Error()+": ") + "."
	case errors.Is(err, campaign.ErrNotFound):
		http.Error(w, "no such campaign", http.StatusNotFound)
		return
	case err != nil:
		srv.fail(w, r, err)
		return
	}
	if cv.Problem != "" {
		cv.First = template.URL(fmt.Sprintf("%scampaigns/%d/calls", Prefix, c.ID))
		srv.render(w, r, http.StatusBadRequest, "calls", v)
		return
	}
	base := fmt.Sprintf("%scampaigns/%d/calls", Prefix, c.ID)
	// Built here from escaped values.
	if q.Cursor != "" {
		cv.First = template.URL(withQuery(base, form.values("", "")))
	}
	if page.Prev != "" {
		cv.Prev = template.URL(withQuery(base, form.values("before", page.Prev)))
	}
	if page.Next != "" {
		cv.Next = template.URL(withQuery(base, form.values("after", page.Next)))
	}
	for _, x := range page.Calls {
		cv.Rows = append(cv.Rows, callRow{AttemptID: x.AttemptID, Number: x.Number, Name: x.Name, Phone: x.Phone,
			ExternalID: x.ExternalID, State: string(x.State), StateClass: string(x.State), Outcome: orDash(string(x.Outcome)),
			OutcomeClass: string(x.Outcome), Reason: orDash(x.EndedReason), Success: orDash(x.SuccessEvaluation),
			Duration: seconds(x.DurationSeconds), Cost: usdOrDash(x.Cost), Caller: orDash(cmp.Or(x.CallerNumber, x.CallerNumberID)),
			Placed: fmtTime(&x.CreatedAt)})
	}
	srv.render(w, r, http.StatusOK, "calls", v)
}

// successOptions are the success filter's choices, value selected: any, true, false, and
// selected itself when it is another evaluation (a score, from a link).
func successOptions(selected string) []filterOption {
	opts := []filterOption{{Value: "", Label: "Any"}, {Value: "true", Label: "true"}, {Value: "false", Label: "false"}}
	if !slices.ContainsFunc(opts, func(o filterOption) bool { return o.Value == selected }) {
		opts = append(opts, filterOption{Value: selected, Label: selected})
	}
	for i := range opts {
		opts[i].Selected = opts[i].Value == selected
	}
	return opts
}

// withQuery is path with query string v (none when v is empty).
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// callView is a call's page.
type callView struct {
	CampaignID   int64
	CampaignName string
	AttemptID    int64
	Name, Phone  string
	ExternalID   string
	Facts        []setting
	// Recording and StereoRecording are Vapi's https recording URLs ("" when none).
	Recording, StereoRecording string
	Conversation               []turnView
	Summary, Success           string
	Decision, Error            string
	Structured                 []jsonField
	// StructuredJSON is the structured data, pretty, when it is not an object.
	StructuredJSON string
	Cost           string
	CostBreakdown  []jsonField
	// CostItems is the breakdown, pretty, when it is not an object, and Vapi's list of costs.
	CostItems     string
	Events        []eventView
	EventCount    int
	ContactFields []setting
}

// turnView is one turn of the conversation.
type turnView struct {
	Speaker, Text string
	// Side is "assistant", "customer" or "other": where the bubble sits.
	Side string
}

// eventView is one raw webhook event.
type eventView struct {
	ID                            int64
	Type, Status, Received, Auth  string
	Applied, ApplyError, Rejected string
	Payload                       string
}

// jsonField is one member of a JSON object, its value as text (a string unquoted, anything
// else as compact JSON).
type jsonField struct{ Name, Value string }

// callPage shows one call: who it called, the transcript as a conversation, the summary, the
// analysis, the costs, the retry decision, the recording and the raw webhook events.
func (srv *server) callPage(w http.ResponseWriter, r *http.Request, s session) {
	id, err := strconv.ParseInt(r.PathValue("attempt"), 10, 64)
	if err != nil || id <= 0 {
		http.NotFound(w, r)
		return
	}
	d, err := srv.cfg.Store.CallDetail(r.Context(), id)
	if errors.Is(err, campaign.ErrAttemptNotFound) {
		http.Error(w, "no such call", http.StatusNotFound)
		return
	}
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	c, err := srv.cfg.Store.Campaign(r.Context(), d.Attempt.CampaignID)
	if errors.Is(err, campaign.ErrNotFound) { // deleted since
		http.Error(w, "no such call", http.StatusNotFound)
		return
	}
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	a := d.Attempt
	cv := &callView{CampaignID: c.ID, CampaignName: c.Name, AttemptID: a.ID, Name: d.Contact.Name, Phone: d.Contact.Phone,
		ExternalID: d.Contact.ExternalID, Summary: d.Summary, Success: d.SuccessEvaluation, Decision: a.Decision, Error: a.Error,
		Cost: usdOrDash(d.Cost), EventCount: d.EventCount}
	add := func(name, value string) { cv.Facts = append(cv.Facts, setting{name, value}) }
	add("Attempt", fmt.Sprintf("%d of the contact (line %d of the CSV)", a.Number, d.Contact.Line))
	add("State", string(a.State))
	add("Outcome", orDash(string(a.Outcome)))
	add("Ended reason", orDash(a.EndedReason))
	add("Placed", fmtSecond(&a.CreatedAt))
	add("Answered", fmtSecond(d.StartedAt))
	add("Ended", fmtSecond(a.EndedAt))
	add("Duration", seconds(d.DurationSeconds))
	add("From", orDash(strings.TrimSpace(d.CallerNumber+" "+parens(a.PhoneNumberID))))
	add("Vapi call", orDash(a.VapiCallID))
	if isHTTPS(d.RecordingURL) {
		cv.Recording = d.RecordingURL
	}
	if isHTTPS(d.StereoRecordingURL) {
		cv.StereoRecording = d.StereoRecordingURL
	}
	for _, t := range d.Conversation {
		cv.Conversation = append(cv.Conversation, turnView{Speaker: t.Speaker, Text: t.Text, Side: side(t.Speaker)})
	}
	if cv.Structured, err = objectFields(d.StructuredData); err != nil {
		cv.StructuredJSON = pretty(d.StructuredData)
	}
	if cv.CostBreakdown, err = objectFields(d.CostBreakdown); err != nil {
		cv.CostItems = pretty(d.CostBreakdown)
	}
	if len(d.Costs) > 0 {
		cv.CostItems = strings.TrimSpace(cv.CostItems + "\n" + pretty(d.Costs))
	}
	for _, e := range d.Events {
		ev := eventView{ID: e.ID, Type: e.Type, Status: e.Status, Received: fmtSecond(&e.ReceivedAt),
			Auth: e.Auth, Applied: fmtSecond(e.AppliedAt), ApplyError: e.ApplyError, Rejected: e.Rejected, Payload: pretty(e.Payload)}
		cv.Events = append(cv.Events, ev)
	}
	for i, col := range d.Columns {
		if i < len(d.Contact.Fields) {
			cv.ContactFields = append(cv.ContactFields, setting{col, d.Contact.Fields[i]})
		}
	}
	title := "Call to " + orDash(d.Contact.Name)
	if d.Contact.Name == "" {
		title = "Call to " + d.Contact.Phone
	}
	v := srv.newView(w, r, s, title)
	v.Call = cv
	srv.render(w, r, http.StatusOK, "call", v)
}

// side is where a speaker's bubbles sit: Vapi's transcript names the assistant "AI" (or "bot")
// and the person called "User".
func side(speaker string) string {
	switch strings.ToLower(speaker) {
	case "ai", "assistant", "bot", "agent":
		return "assistant"
	case "user", "customer", "human":
		return "customer"
	}
	return "other"
}

// objectFields lists the members of a JSON object in their order; an error when raw is not an
// object (nil, nil for no document).
func objectFields(raw json.RawMessage) ([]jsonField, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var fields []jsonField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		var text string
		if json.Unmarshal(value, &text) != nil {
			var compact bytes.Buffer
			if err := json.Compact(&compact, value); err != nil {
				return nil, err
			}
			text = compact.String()
		}
		fields = append(fields, jsonField{Name: fmt.Sprint(tok), Value: text})
	}
	return fields, nil
}

// pretty is a JSON document indented for reading ("" for none; as given when it is not JSON).
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// fmtSecond is a time to the second ("–" for none).
func fmtSecond(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func isHTTPS(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.Host != ""
}

func seconds(s *float64) string {
	if s == nil {
		return "–"
	}
	return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
}

func usdOrDash(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("$%.4f", *v)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
