package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
)

// played gives campaign c results: of its n contacts, the first ones get calls with a mix of
// outcomes, costs and durations, so that the page's cards and charts have something to show.
func (b *testBundle) played(t *testing.T, c *campaign.Campaign, calls int) {
	t.Helper()
	pool := b.pool
	cs, err := b.store.Contacts(b.ctx, c.ID, calls)
	require.NoError(t, err)
	reasons := []string{"customer-ended-call", "assistant-ended-call", "customer-did-not-answer", "voicemail", "customer-busy",
		"customer-ended-call", "call.start.error-get-transport"}
	for i, ct := range cs {
		_, err := pool.Exec(b.ctx, `UPDATE contact SET state = $2 WHERE id = $1`, ct.ID, campaign.ContactQueued)
		require.NoError(t, err)
		_, err = pool.Exec(b.ctx, `UPDATE campaign SET queued_contacts = queued_contacts + 1 WHERE id = $1`, c.ID)
		require.NoError(t, err)
		at := t0.Add(-time.Duration(calls-i) * 7 * time.Minute)
		g, err := b.store.BeginAttempt(b.ctx, ct.ID, at)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "attempt %d: %s", i, g.Refusal)
		callID := fmt.Sprintf("call-%d-%d", c.ID, i)
		require.NoError(t, b.store.CallCreated(b.ctx, g.Attempt.ID, callID, at, at))
		cost, ended := 0.03+float64(i%5)*0.04, at.Add(time.Duration(20+i*13%200)*time.Second)
		success := []string{"true", "false", ""}[i%3]
		_, err = b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: callID, EndedReason: reasons[i%len(reasons)], Cost: &cost,
			StartedAt: &at, EndedAt: &ended, SuccessEvaluation: success,
			Transcript:     fmt.Sprintf("AI: Hello, am I speaking with %s?\nUser: Yes, who is this?\nAI: A reminder of your renewal.\nUser: Thanks, bye.", ct.Name),
			Summary:        fmt.Sprintf("%s was reminded of the renewal.", ct.Name),
			StructuredData: json.RawMessage(fmt.Sprintf(`{"will_renew": %t, "callback": "tomorrow %d"}`, i%2 == 0, i)),
			CostBreakdown:  json.RawMessage(fmt.Sprintf(`{"transport": 0.01, "llm": %.2f, "total": %.2f}`, cost-0.01, cost)),
			RecordingURL:   "https://storage.vapi.ai/" + callID + "-mono.wav"}, ended)
		require.NoError(t, err)
	}
}

func (f *fakeStore) ListCalls(context.Context, int64, campaign.CallQuery) (campaign.CallPage, error) {
	return campaign.CallPage{}, errNotFaked
}

func (f *fakeStore) CallDetail(context.Context, int64) (*campaign.CallDetail, error) {
	return nil, errNotFaked
}

// dialing begins an attempt for campaign c's contact at index i (in line order): a call being
// placed, live, with no result yet.
func (b *testBundle) dialing(t *testing.T, c *campaign.Campaign, i int) *campaign.Attempt {
	t.Helper()
	ct, err := b.store.Contacts(b.ctx, c.ID, i+1)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE contact SET state = $2 WHERE id = $1`, ct[i].ID, campaign.ContactQueued)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET queued_contacts = queued_contacts + 1 WHERE id = $1`, c.ID)
	require.NoError(t, err)
	g, err := b.store.BeginAttempt(b.ctx, ct[i].ID, t0)
	require.NoError(t, err)
	require.NotNil(t, g.Attempt, g.Refusal)
	return g.Attempt
}

var (
	attemptRE  = regexp.MustCompile(`<tr data-attempt="(\d+)">`)
	nextPageRE = regexp.MustCompile(`href="(/console/campaigns/\d+/calls\?[^"]+)" rel="next"`)
	prevPageRE = regexp.MustCompile(`href="(/console/campaigns/\d+/calls\?[^"]+)" rel="prev"`)
)

// attemptIDs are the attempts a calls page lists, in order.
func attemptIDs(body string) []string {
	out := []string{}
	for _, m := range attemptRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// storeIDs are the attempts ListCalls gives for q, all in one page, in order.
func (b *testBundle) storeIDs(t *testing.T, id int64, q campaign.CallQuery) []string {
	t.Helper()
	q.Limit = campaign.MaxCallPage
	page, err := b.store.ListCalls(b.ctx, id, q)
	require.NoError(t, err)
	require.Empty(t, page.Next)
	out := []string{}
	for _, c := range page.Calls {
		out = append(out, fmt.Sprint(c.AttemptID))
	}
	return out
}

// walkBack follows a calls table's "Next page" links from path to the last page, then its
// "Previous page" links back to the first, and returns every attempt listed going back, in
// the table's order; every page has a Previous page link but the first.
func (c *client) walkBack(path string) []string {
	c.t.Helper()
	for {
		_, body := c.get(path)
		m := nextPageRE.FindStringSubmatch(body)
		if m == nil {
			break
		}
		path = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	var seen []string
	for path != "" {
		res, body := c.get(path)
		require.Equal(c.t, http.StatusOK, res.StatusCode, path)
		seen = append(attemptIDs(body), seen...)
		path = ""
		if m := prevPageRE.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	return seen
}

// walk follows a calls table's "Next page" links from path to the last page and returns every
// attempt listed, checking each page holds at most size rows.
func (c *client) walk(path string, size int) []string {
	c.t.Helper()
	seen := []string{}
	for path != "" {
		res, body := c.get(path)
		require.Equal(c.t, http.StatusOK, res.StatusCode, path)
		ids := attemptIDs(body)
		require.LessOrEqual(c.t, len(ids), size, path)
		seen = append(seen, ids...)
		path = ""
		if m := nextPageRE.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
			require.Len(c.t, ids, size, "a page before the last is full")
		}
	}
	return seen
}

func TestCallsTable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{pageSize: 4})
	c := b.newCampaign(t, "nov", 14, campaign.ModeService, campaign.StatusRunning)
	b.played(t, c, 10)
	live := b.dialing(t, c, 12)
	other := b.newCampaign(t, "dec", 3, campaign.ModeService, campaign.StatusRunning)
	b.played(t, other, 2)
	calls := fmt.Sprintf("/console/campaigns/%d/calls", c.ID)

	anon := b.client(t)
	res, body := anon.get(calls + "?q=Customer")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/login?next="+url.QueryEscape(calls+"?q=Customer"), res.Header.Get("Location"))
	require.NotContains(t, body, "+1415555")

	viewer := b.client(t)
	viewer.login("audit", viewerPassword)
	_, page := viewer.get(fmt.Sprintf("/console/campaigns/%d", c.ID))
	require.Contains(t, page, `href="`+calls+`"`, "the campaign page links its calls")

	// Newest first by default, four a page, every call of this campaign once.
	all := b.storeIDs(t, c.ID, campaign.CallQuery{Desc: true})
	require.Len(t, all, 11)
	require.Equal(t, all, viewer.walk(calls, 4))
	res, body = viewer.get(calls)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "Customer 12", "the newest call first: the one being placed")
	require.NotContains(t, body, "First page", "the first page links no first page")
	require.Contains(t, body, "&#43;14155550112")

	// Every order, both ways, and filters kept across pages.
	for _, order := range []string{"created-asc", "cost-desc", "cost-asc", "duration-desc", "duration-asc"} {
		sort, dir, _ := strings.Cut(order, "-")
		want := b.storeIDs(t, c.ID, campaign.CallQuery{Sort: campaign.CallSort(sort), Desc: dir == "desc"})
		require.Equal(t, want, viewer.walk(calls+"?order="+order, 4), order)
		want = b.storeIDs(t, c.ID, campaign.CallQuery{Sort: campaign.CallSort(sort), Desc: dir == "desc", Success: "true"})
		require.Len(t, want, 4, "calls 0, 3, 6, 9 were successful")
		require.Equal(t, want, viewer.walk(calls+"?success=true&order="+order, 4), order)
		require.Equal(t, want, viewer.walkBack(calls+"?success=true&order="+order), order+", paged back")
	}
	require.Equal(t, all, viewer.walkBack(calls), "paged back")
	_, body = viewer.get(calls + "?success=true")
	require.Contains(t, body, `<option value="true" selected>`, "the success filter is a choice")
	require.Contains(t, body, `<option value="call.start.error-subscription-concurrency-limit-reached">`,
		"the ended reasons known are suggested")
	_, body = viewer.get(calls + "?order=cost-desc")
	m := nextPageRE.FindStringSubmatch(body)
	require.NotNil(t, m)
	require.Contains(t, m[1], "order=cost-desc", "the next page keeps the order")
	_, body = viewer.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	require.Contains(t, body, `<option value="cost-desc" selected>`, "the form shows the order")
	require.Contains(t, body, `>First page</a>`)

	// Search by name, phone (as written in the CSV's region, or digits) and filters.
	for query, want := range map[string]campaign.CallQuery{
		"q=Customer+1":               {Search: "Customer 1"},
		"q=customer+3":               {Search: "customer 3"},
		"q=%28415%29+555-0105":       {Search: "(415) 555-0105"},
		"q=1415555010":               {Search: "1415555010"},
		"outcome=voicemail":          {Outcome: campaign.OutcomeVoicemail},
		"reason=customer-busy":       {EndedReason: "customer-busy"},
		"success=false&q=Customer+1": {Success: "false", Search: "Customer 1"},
		"q=nobody":                   {Search: "nobody"},
		"live=1&order=cost-asc":      {Live: true, Sort: campaign.SortCost, Desc: false},
	} {
		want.Desc = want.Desc || want.Sort == ""
		ids := b.storeIDs(t, c.ID, want)
		require.Equal(t, ids, viewer.walk(calls+"?"+query, 4), query)
		if query != "q=nobody" {
			require.NotEmpty(t, ids, query)
			require.Less(t, len(ids), 11, query)
		}
	}
	require.Len(t, b.storeIDs(t, c.ID, campaign.CallQuery{Search: "(415) 555-0105"}), 1)
	require.Equal(t, []string{fmt.Sprint(live.ID)}, b.storeIDs(t, c.ID, campaign.CallQuery{Live: true}), "the call being placed")
	_, body = viewer.get(calls + "?q=nobody")
	require.Contains(t, body, "No calls match this search")
	require.Contains(t, body, `value="nobody"`, "the form keeps the search")

	// A bad cursor, filter or order: a page that says so, 400.
	_, body = viewer.get(calls)
	m = nextPageRE.FindStringSubmatch(body)
	require.NotNil(t, m)
	next, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	require.NoError(t, err)
	cursor := next.Query().Get("after")
	for query, msg := range map[string]string{
		"after=garbage":                        "link is not valid",
		"after=" + cursor + "&order=cost-desc": "link is not valid", // another order's
		"after=" + cursor + "&q=Customer":      "link is not valid", // another search's
		"outcome=happy":                        `unknown outcome &#34;happy&#34;`,
		"order=name-asc":                       `unknown order &#34;name-asc&#34;`,
		"q=" + strings.Repeat("9", 101):        "longer than 100 bytes",
		"q=%3Cscript%3Ealert(1)%3C%2Fscript%3E" + "&outcome=%3Cb%3E": "unknown outcome &#34;&lt;b&gt;&#34;",
	} {
		res, body := viewer.get(calls + "?" + query)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, query)
		require.Contains(t, body, msg, query)
		require.Contains(t, body, `id="problem"`, query)
		require.NotContains(t, body, "<script>", query)
		require.Empty(t, attemptIDs(body), query)
	}
	res, _ = viewer.get(fmt.Sprintf("/console/campaigns/%d/calls?after=%s", other.ID, cursor))
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "another campaign's cursor")
	res, _ = viewer.get("/console/campaigns/999999/calls")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	// The other campaign's calls are its own.
	_, body = viewer.get(fmt.Sprintf("/console/campaigns/%d/calls", other.ID))
	require.Equal(t, b.storeIDs(t, other.ID, campaign.CallQuery{Desc: true}), attemptIDs(body))
	require.Len(t, attemptIDs(body), 2)
}

func TestCallPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.newCampaign(t, "nov", 3, campaign.ModeService, campaign.StatusRunning)
	b.played(t, c, 2)
	page, err := b.store.ListCalls(b.ctx, c.ID, campaign.CallQuery{})
	require.NoError(t, err)
	require.Len(t, page.Calls, 2)
	first := page.Calls[0]
	a, err := b.store.Attempt(b.ctx, first.AttemptID)
	require.NoError(t, err)
	require.NotEmpty(t, a.Decision)
	// The events Vapi sent for the call: the end-of-call report echoes the server settings, the
	// webhook secret among them, in a header and a secret field.
	for _, payload := range []string{
		`{"message": {"type": "status-update", "status": "in-progress", "call": {"id": "` + a.VapiCallID + `"}}}`,
		`{"message": {"type": "end-of-call-report", "call": {"id": "` + a.VapiCallID + `", "assistantOverrides": {"server":
			{"url": "https://runner.example.com/hooks", "headers": {"X-Vapi-Secret": "` + webhookSecret + `"}, "secret": "` + webhookSecret + `"}}},
			"analysis": {"summary": "<b>bold</b> & <script>alert(1)</script>"}}}`,
	} {
		_, err := b.pool.Exec(b.ctx, `INSERT INTO webhook_event (type, vapi_call_id, attempt_key, payload, auth)
			VALUES ('status-update', $1, $2, $3, 'campaign_secret')`, a.VapiCallID, a.Key, payload)
		require.NoError(t, err)
	}
	_, err = b.pool.Exec(b.ctx, `UPDATE attempt SET summary = $2 WHERE id = $1`, a.ID, "Customer 0 said <script>alert(1)</script>")
	require.NoError(t, err)
	path := fmt.Sprintf("/console/calls/%d", a.ID)

	anon := b.client(t)
	res, body := anon.get(path)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.NotContains(t, body, "Customer 0")

	viewer := b.client(t)
	viewer.login("audit", viewerPassword)
	_, table := viewer.get(fmt.Sprintf("/console/campaigns/%d/calls", c.ID))
	require.Contains(t, table, `href="`+path+`"`, "the table links the call's page")
	res, body = viewer.get(path)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "media-src https:;", "recordings play from Vapi's storage")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	for _, want := range []string{
		`<h1>Customer 0</h1>`,
		`<li class="turn assistant"><span class="speaker">AI</span><p>Hello, am I speaking with Customer 0?</p></li>`,
		`<li class="turn customer"><span class="speaker">User</span><p>Yes, who is this?</p></li>`,
		`Customer 0 said &lt;script&gt;alert(1)&lt;/script&gt;`,
		`<dt>will_renew</dt><dd>true</dd>`, `<dt>callback</dt><dd>tomorrow 0</dd>`,
		`<dt>llm</dt><dd>0.02</dd>`, `<dt>total</dt><dd>0.03</dd>`,
		`<dd id="cost">$0.0300</dd>`, `<dd id="success">true</dd>`,
		`<dd id="decision">` + a.Decision + `</dd>`,
		`<audio controls preload="none" src="https://storage.vapi.ai/` + a.VapiCallID + `-mono.wav"`,
		`end-of-call-report`, `&#34;X-Vapi-Secret&#34;: &#34;[redacted]&#34;`, `&#34;secret&#34;: &#34;[redacted]&#34;`,
		`\u003cb\u003ebold\u003c/b\u003e \u0026 \u003cscript\u003e`, `https://runner.example.com/hooks`,
		`<dt>phone</dt><dd>&#43;14155550100</dd>`,
		fmt.Sprintf(`href="/console/campaigns/%d/calls"`, c.ID),
	} {
		require.Contains(t, body, want)
	}
	require.Equal(t, 2, strings.Count(body, `<details class="event" id="event-`))
	require.NotContains(t, body, "<script>alert")
	for _, secret := range []string{webhookSecret, notifyToken, "notify-token", predialToken, operatorPassword, viewerPassword} {
		require.NotContains(t, body, secret)
		require.NotContains(t, table, secret)
	}

	// A call with no result yet: its page says so rather than failing.
	live := b.dialing(t, c, 2)
	res, body = viewer.get(fmt.Sprintf("/console/calls/%d", live.ID))
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, want := range []string{"No transcript.", "No summary.", `<dd id="cost">–</dd>`, "None received", "not evaluated"} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "<audio")

	for p, want := range map[string]int{"/console/calls/99999999": 404, "/console/calls/x": 404, "/console/calls/-1": 404} {
		res, _ := viewer.get(p)
		require.Equal(t, want, res.StatusCode, p)
	}
}

// TestCallsStoreErrors checks the calls pages when the store fails: 500 with no word of the
// error, which goes to the log.
func TestCallsStoreErrors(t *testing.T) {
	t.Parallel()
	store := &fakeStore{CampaignFunc: func(_ context.Context, id int64) (*campaign.Campaign, error) {
		return &campaign.Campaign{ID: id, Name: "nov"}, nil
	}}
	var logs bytes.Buffer
	h, err := console.New(console.Config{Store: store, Users: mustUsers(t, console.RoleViewer, "audit:"+viewerPassword), Key: testKey,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return t0 },
		Export: func(context.Context, *campaign.Campaign, io.Writer) error { return nil }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := (&testBundle{srv: srv}).client(t)
	c.login("audit", viewerPassword)
	for _, path := range []string{"/console/campaigns/7/calls", "/console/campaigns/7/calls?q=ann&order=cost-asc", "/console/calls/5"} {
		res, body := c.get(path)
		require.Equal(t, http.StatusInternalServerError, res.StatusCode, path)
		require.NotContains(t, body, errNotFaked.Error(), path)
	}
	require.Contains(t, logs.String(), errNotFaked.Error(), "the error is logged")
}
