package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/reports/export"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// t0 is the tests' clock.
var t0 = time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)

// Secrets a campaign of the tests holds: no page may show them.
const (
	webhookSecret = "whsec-do-not-show-7f3a"
	notifyToken   = "T0SECRET/B0SECRET/notify-token-9c1d"
	predialToken  = "predial-token-55e1"
)

const operatorPassword, viewerPassword = "op-password-1", "view-password-2"

type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *campaign.Store
	srv   *httptest.Server
	now   *time.Time
	cfg   console.Config
}

type setupOpts struct {
	pageSize int
	creator  console.Creator
}

// setup serves the console on a fresh database, with one operator (ops) and one viewer (audit).
func setup(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool := testdb.Pool(t)
	store := campaign.NewStore(pool)
	now := t0
	users := append(mustUsers(t, console.RoleOperator, "ops:"+operatorPassword), mustUsers(t, console.RoleViewer, "audit:"+viewerPassword)...)
	key, err := store.ConsoleKey(ctx)
	require.NoError(t, err)
	cfg := console.Config{Store: store, Users: users, Key: key, Now: func() time.Time { return now }, PageSize: opts.pageSize,
		Creator: opts.creator,
		Export: func(ctx context.Context, c *campaign.Campaign, w io.Writer) error {
			_, err := export.Contacts(ctx, store, c, w, export.Options{})
			return err
		}}
	h, err := console.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testBundle{ctx: ctx, pool: pool, store: store, srv: srv, now: &now, cfg: cfg}
}

func mustUsers(t *testing.T, role console.Role, value string) []console.User {
	t.Helper()
	u, err := console.ParseUsers(role, value)
	require.NoError(t, err)
	return u
}

// newCampaign imports a campaign of n contacts in mode, with secrets in its settings, and moves
// it to status (running, paused or draft).
func (b *testBundle) newCampaign(t *testing.T, name string, n int, mode campaign.Mode, status campaign.Status) *campaign.Campaign {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "+1415555%04d,Customer %d\n", 100+i, i)
	}
	r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Mode: mode, Settings: campaign.Settings{
		AssistantID: "asst-1", PhoneNumberID: "pn-1", PublicURL: "https://runner.example.com/hooks?token=" + webhookSecret,
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", WebhookSecret: webhookSecret,
		RatePerSecond: 1, MaxConcurrent: 3, MaxAttempts: 2, RetryPolicy: "none",
		NotifyURL:  "https://hooks.slack.com/services/" + notifyToken,
		PredialURL: "https://crm.example.com/eligible?key=" + predialToken,
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	switch status {
	case campaign.StatusDraft:
	case campaign.StatusRunning:
		require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
	case campaign.StatusPaused:
		require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
		require.NoError(t, b.store.Pause(b.ctx, c.ID, t0))
	default:
		t.Fatalf("no fixture for status %s", status)
	}
	return c
}

// client is a browser without redirects followed: each response is looked at.
type client struct {
	t       *testing.T
	b       *testBundle
	cookies map[string]*http.Cookie
	header  http.Header
}

func (b *testBundle) client(t *testing.T) *client {
	return &client{t: t, b: b, cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

// do sends a request and keeps the cookies the response sets; it returns the response and its
// body.
func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.b.srv.URL+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return res, string(raw)
}

func (c *client) get(path string) (*http.Response, string) { return c.do(http.MethodGet, path, nil) }

// login logs in and checks it worked.
func (c *client) login(user, password string) {
	c.t.Helper()
	res, _ := c.do(http.MethodPost, "/console/login", url.Values{"user": {user}, "password": {password}, "next": {"/console/"}})
	require.Equal(c.t, http.StatusSeeOther, res.StatusCode)
	require.Equal(c.t, "/console/", res.Header.Get("Location"))
	require.Contains(c.t, c.cookies, "campaign_console_session")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page.
func (c *client) csrf() string {
	c.t.Helper()
	_, page := c.get("/console/")
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(c.t, m, "a CSRF token on the page")
	return m[1]
}

// action posts an action of campaign id with the session's CSRF token.
func (c *client) action(id int64, verb string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf())
	return c.do(http.MethodPost, fmt.Sprintf("/console/campaigns/%d/%s", id, verb), form)
}

func (b *testBundle) status(t *testing.T, id int64) *campaign.Campaign {
	t.Helper()
	c, err := b.store.Campaign(b.ctx, id)
	require.NoError(t, err)
	return c
}

func TestUnauthenticatedRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.newCampaign(t, "nov", 2, campaign.ModeService, campaign.StatusRunning)
	anon := b.client(t)
	for _, path := range []string{"/console/", fmt.Sprintf("/console/campaigns/%d", c.ID), fmt.Sprintf("/console/campaigns/%d/live", c.ID),
		fmt.Sprintf("/console/campaigns/%d/export.csv", c.ID), fmt.Sprintf("/console/campaigns/%d/report.html", c.ID),
		fmt.Sprintf("/console/campaigns/%d/cancel", c.ID)} {
		res, body := anon.get(path)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, path)
		require.Equal(t, "/console/login?next="+url.QueryEscape(path), res.Header.Get("Location"), path)
		require.NotContains(t, body, "nov", path)
	}
	for _, verb := range []string{"pause", "resume", "cancel", "set"} {
		res, _ := anon.do(http.MethodPost, fmt.Sprintf("/console/campaigns/%d/%s", c.ID, verb), url.Values{"confirm": {"yes"}, "rate": {"9"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, verb)
	}
	res, _ := anon.do(http.MethodPost, "/console/logout", url.Values{})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Equal(t, campaign.StatusRunning, b.status(t, c.ID).Status)
	require.Equal(t, 1.0, b.status(t, c.ID).RatePerSecond)

	// A forged, tampered or expired cookie is no session.
	ops := b.client(t)
	ops.login("ops", operatorPassword)
	good := *ops.cookies["campaign_console_session"]
	for name, value := range map[string]string{
		"tampered":    strings.Replace(good.Value, good.Value[:4], "AAAA", 1),
		"no mac":      strings.SplitN(good.Value, ".", 2)[0],
		"garbage":     "x.y",
		"other's mac": strings.SplitN(good.Value, ".", 2)[0] + "." + strings.Repeat("A", 43),
	} {
		forged := b.client(t)
		forged.cookies["campaign_console_session"] = &http.Cookie{Name: "campaign_console_session", Value: value}
		res, _ := forged.get("/console/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, name)
	}
	*b.now = t0.Add(console.SessionTTL)
	res, _ = ops.get("/console/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "a session past its expiry")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.client(t)
	for _, creds := range [][2]string{{"ops", "wrong-password"}, {"ops", ""}, {"nobody", operatorPassword}, {"ops", viewerPassword}, {"audit", operatorPassword}} {
		res, body := c.do(http.MethodPost, "/console/login", url.Values{"user": {creds[0]}, "password": {creds[1]}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, creds)
		require.Contains(t, body, "Wrong user name or password")
		require.Empty(t, res.Cookies(), creds)
	}

	// The cookie: HttpOnly, SameSite=Strict, Secure behind a TLS proxy, for the console only.
	res, _ := c.do(http.MethodPost, "/console/login", url.Values{"user": {"ops"}, "password": {operatorPassword},
		"next": {"https://evil.example.com/"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/", res.Header.Get("Location"), "never sent to another site")
	ck := res.Cookies()[0]
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.False(t, ck.Secure, "plain HTTP")
	require.Equal(t, "/console/", ck.Path)
	require.Equal(t, int(console.SessionTTL.Seconds()), ck.MaxAge)

	tls := b.client(t)
	tls.header.Set("X-Forwarded-Proto", "https")
	res, _ = tls.do(http.MethodPost, "/console/login", url.Values{"user": {"audit"}, "password": {viewerPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.True(t, res.Cookies()[0].Secure, "behind a TLS proxy")
	_, page := tls.get("/console/")
	require.Contains(t, page, "audit")
	require.Contains(t, page, "viewer")

	// Another process configured alike accepts the cookie; one with other credentials does not.
	twin, err := console.New(b.cfg)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/console/", nil)
	req.AddCookie(tls.cookies["campaign_console_session"])
	rec := httptest.NewRecorder()
	twin.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "a twin process accepts the cookie")
	other := b.cfg
	other.Users = append(mustUsers(t, console.RoleOperator, "ops:another-password"), mustUsers(t, console.RoleViewer, "audit:"+viewerPassword)...)
	stranger, err := console.New(other)
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	stranger.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, "changed credentials end every session")
	// Nor does one on another database, whose key is another: the cookie is signed with the
	// database's random key, not with what the credentials alone give.
	elsewhere := b.cfg
	elsewhere.Key, err = campaign.NewStore(testdb.Pool(t)).ConsoleKey(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, b.cfg.Key, elsewhere.Key)
	foreign, err := console.New(elsewhere)
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	foreign.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, "another database's key refuses the cookie")

	// Wrong passwords for one name: after a burst, that name may not log in for a while, even
	// with its password; another name may.
	for range 10 - 3 { // ops failed three times above
		res, _ := c.do(http.MethodPost, "/console/login", url.Values{"user": {"ops"}, "password": {"guess"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	res, body := c.do(http.MethodPost, "/console/login", url.Values{"user": {"ops"}, "password": {operatorPassword}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Contains(t, body, "Too many failed logins")
	require.Equal(t, "6", res.Header.Get("Retry-After"))
	b.client(t).login("audit", viewerPassword)
	*b.now = t0.Add(6 * time.Second)
	b.client(t).login("ops", operatorPassword)

	// Logout ends the session.
	res, _ = tls.do(http.MethodPost, "/console/logout", url.Values{"csrf": {tls.csrf()}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, _ = tls.get("/console/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestViewerAndCSRFRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.newCampaign(t, "nov", 2, campaign.ModeService, campaign.StatusRunning)
	viewer := b.client(t)
	viewer.login("audit", viewerPassword)
	_, page := viewer.get(fmt.Sprintf("/console/campaigns/%d", c.ID))
	require.NotContains(t, page, `id="pause"`, "a viewer sees no actions")
	require.NotContains(t, page, `id="pacing"`)
	for _, verb := range []string{"pause", "cancel", "set"} {
		res, _ := viewer.action(c.ID, verb, url.Values{"confirm": {"yes"}, "rate": {"9"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode, verb)
	}

	ops := b.client(t)
	ops.login("ops", operatorPassword)
	other := b.client(t)
	other.login("ops", operatorPassword) // another session of the same user: another token
	for name, token := range map[string]string{"none": "", "wrong": "bm9wZQ", "another session's": other.csrf(), "viewer's": viewer.csrf()} {
		form := url.Values{"confirm": {"yes"}, "rate": {"9"}}
		if token != "" {
			form.Set("csrf", token)
		}
		for _, verb := range []string{"pause", "cancel", "set"} {
			res, _ := ops.do(http.MethodPost, fmt.Sprintf("/console/campaigns/%d/%s", c.ID, verb), form)
			require.Equal(t, http.StatusForbidden, res.StatusCode, "%s token, %s", name, verb)
		}
	}
	after := b.status(t, c.ID)
	require.Equal(t, campaign.StatusRunning, after.Status)
	require.Equal(t, 1.0, after.RatePerSecond)
}

func TestActions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.newCampaign(t, "nov", 3, campaign.ModeService, campaign.StatusRunning)
	ops := b.client(t)
	ops.login("ops", operatorPassword)
	page := fmt.Sprintf("/console/campaigns/%d", c.ID)

	flash := func() string {
		t.Helper()
		_, body := ops.get(page)
		m := regexp.MustCompile(`<p class="flash[^"]*" role="[a-z]+">([^<]*)</p>`).FindStringSubmatch(body)
		require.NotNil(t, m, "a flash message")
		return m[1]
	}
	res, _ := ops.action(c.ID, "pause", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, page, res.Header.Get("Location"))
	require.Equal(t, campaign.StatusPaused, b.status(t, c.ID).Status)
	require.Contains(t, flash(), "Campaign nov paused")
	_, body := ops.get(page)
	require.NotContains(t, body, `class="flash`, "the flash is shown once")

	ops.action(c.ID, "pause", nil)
	require.Contains(t, flash(), "Campaign nov is paused: there is nothing to pause.")

	ops.action(c.ID, "resume", nil)
	require.Equal(t, campaign.StatusRunning, b.status(t, c.ID).Status)
	require.Contains(t, flash(), "Campaign nov resumed")

	ops.action(c.ID, "set", url.Values{"rate": {"2.5"}, "max_concurrent": {"7"}, "window": {"mon-fri 09:00-18:00"}, "max_cost": {"40"}})
	after := b.status(t, c.ID)
	require.Equal(t, 2.5, after.RatePerSecond)
	require.Equal(t, 7, after.MaxConcurrent)
	require.Equal(t, "mon-fri 09:00-18:00", after.WindowSpec)
	require.NotNil(t, after.MaxCostUSD)
	require.Equal(t, 40.0, *after.MaxCostUSD)
	require.Contains(t, flash(), "rate 1/s → 2.5/s")

	for form, msg := range map[string]string{"rate=-1": "rate must be 0", "max_concurrent=0": "max concurrent calls must be",
		"window=sometimes": "calling window", "max_cost=0": "budget cap must be an amount"} {
		v, err := url.ParseQuery(form)
		require.NoError(t, err)
		ops.action(c.ID, "set", v)
		require.Contains(t, flash(), msg, form)
	}
	require.Equal(t, after, b.status(t, c.ID), "a bad value changes nothing")
	ops.action(c.ID, "set", url.Values{"max_cost": {"none"}, "rate": {"2.5"}})
	require.Nil(t, b.status(t, c.ID).MaxCostUSD, "none removes the cap")

	// Cancel asks first.
	res, _ = ops.action(c.ID, "cancel", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, page+"/cancel", res.Header.Get("Location"))
	require.Equal(t, campaign.StatusRunning, b.status(t, c.ID).Status)
	_, confirm := ops.get(page + "/cancel")
	require.Contains(t, confirm, "Yes, cancel it")
	ops.action(c.ID, "cancel", url.Values{"confirm": {"yes"}})
	require.Equal(t, campaign.StatusCancelled, b.status(t, c.ID).Status)
	require.Contains(t, flash(), "Campaign nov cancelled: 3 contacts will not be called")

	// A foreground campaign whose process is gone is not resumed from here: the page says how.
	fg := b.newCampaign(t, "fg", 1, campaign.ModeForeground, campaign.StatusPaused)
	ops.action(fg.ID, "resume", nil)
	require.Equal(t, campaign.StatusPaused, b.status(t, fg.ID).Status)
	_, body = ops.get(fmt.Sprintf("/console/campaigns/%d", fg.ID))
	require.Contains(t, body, "campaign resume fg --detach")

	// Downloads: the export's CSV and the HTML report.
	res, csv := ops.get(page + "/export.csv")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `attachment; filename="nov.csv"`, res.Header.Get("Content-Disposition"))
	require.Equal(t, 4, strings.Count(csv, "\n"), "a header and 3 contacts")
	require.Contains(t, csv, "+14155550100")
	res, report := ops.get(page + "/report.html")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, report, `data-chart="funnel"`)
}

func TestPagesShowNoSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := b.newCampaign(t, "nov", 2, campaign.ModeService, campaign.StatusRunning)
	ops := b.client(t)
	ops.login("ops", operatorPassword)
	for _, path := range []string{"/console/", fmt.Sprintf("/console/campaigns/%d", c.ID), fmt.Sprintf("/console/campaigns/%d/live", c.ID),
		fmt.Sprintf("/console/campaigns/%d/cancel", c.ID), fmt.Sprintf("/console/campaigns/%d/report.html", c.ID),
		fmt.Sprintf("/console/campaigns/%d/export.csv", c.ID), "/console/login"} {
		res, body := ops.get(path)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		for _, secret := range []string{webhookSecret, notifyToken, "notify-token", predialToken, operatorPassword, viewerPassword} {
			require.NotContains(t, body, secret, path)
		}
	}
	_, page := ops.get(fmt.Sprintf("/console/campaigns/%d", c.ID))
	require.Contains(t, page, "https://hooks.slack.com/…", "the notify URL, masked")
	require.Contains(t, page, `data-chart="outcomes"`, "the report's charts")
	require.Contains(t, page, `data-refresh="/console/campaigns/`, "a running campaign refreshes itself")
}

func TestCampaignsPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{pageSize: 2})
	var ids []int64
	for i, st := range []campaign.Status{campaign.StatusDraft, campaign.StatusRunning, campaign.StatusPaused, campaign.StatusRunning, campaign.StatusRunning} {
		ids = append(ids, b.newCampaign(t, fmt.Sprintf("c%d", i), i+1, campaign.ModeService, st).ID)
	}
	ops := b.client(t)
	ops.login("audit", viewerPassword)
	rowRE := regexp.MustCompile(`<tr data-campaign="(\d+)">`)
	rows := func(body string) []string {
		var out []string
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	// Newest first, two a page, following the "older" link to the end.
	var seen []string
	next := "/console/"
	for next != "" {
		_, body := ops.get(next)
		page := rows(body)
		require.LessOrEqual(t, len(page), 2)
		seen = append(seen, page...)
		m := regexp.MustCompile(`href="(/console/\?[^"]+)" rel="next"`).FindStringSubmatch(body)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	want := []string{}
	for i := len(ids) - 1; i >= 0; i-- {
		want = append(want, fmt.Sprint(ids[i]))
	}
	require.Equal(t, want, seen)

	_, body := ops.get("/console/?status=paused")
	require.Equal(t, []string{fmt.Sprint(ids[2])}, rows(body))
	require.Contains(t, body, `<progress max="3" value="0"`, "its progress: 0 of 3 final")
	_, body = ops.get("/console/?status=orphaned")
	require.Len(t, rows(body), 2, "two running campaigns of the service, no serve process: orphaned")
	require.Contains(t, body, "orphaned")
	res, _ := ops.get("/console/?status=bogus")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, _ = ops.get("/console/?after=nonsense")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
}

func TestParseUsers(t *testing.T) {
	t.Parallel()
	u, err := console.ParseUsers(console.RoleOperator, "ann:long-password, bob:pass:with:colons")
	require.NoError(t, err)
	require.Equal(t, []console.User{{Name: "ann", Password: "long-password", Role: console.RoleOperator},
		{Name: "bob", Password: "pass:with:colons", Role: console.RoleOperator}}, u)
	for _, bad := range []string{"ann", "ann:", ":password1", "ann:short", "ann:long-password,"} {
		_, err := console.ParseUsers(console.RoleViewer, bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "password1", "the error never repeats a password")
	}
	u, err = console.ParseUsers(console.RoleViewer, "")
	require.NoError(t, err)
	require.Empty(t, u)
	_, err = console.New(console.Config{Store: campaign.NewStore(nil), Export: func(context.Context, *campaign.Campaign, io.Writer) error { return nil },
		Key: testKey, Users: append(u, console.User{Name: "x", Password: "12345678", Role: console.RoleViewer}, console.User{Name: "x", Password: "abcdefgh", Role: console.RoleOperator})})
	require.ErrorContains(t, err, "configured twice")
	_, err = console.New(console.Config{Store: campaign.NewStore(nil), Export: func(context.Context, *campaign.Campaign, io.Writer) error { return nil },
		Key: testKey[:16], Users: []console.User{{Name: "x", Password: "12345678", Role: console.RoleViewer}}})
	require.ErrorContains(t, err, "signing key")
}
