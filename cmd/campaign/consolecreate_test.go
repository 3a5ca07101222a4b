package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// consoleUser is a browser logged in to a serve's console: its cookies, and the CSRF token of
// the last page it read.
type consoleUser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// loginConsole logs user in to the console at base.
func loginConsole(t *testing.T, base, user, password string) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	u := &consoleUser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := u.client.PostForm(base+"/console/login", url.Values{"user": {user}, "password": {password}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, _ := u.get("/console/")
	require.Equal(t, http.StatusOK, code)
	return u
}

// do sends req and returns the status, the body (for a redirect: its Location) and notes the
// page's CSRF token.
func (u *consoleUser) do(req *http.Request) (int, string) {
	u.t.Helper()
	resp, err := u.client.Do(req)
	require.NoError(u.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(u.t, err)
	if m := csrfInput.FindSubmatch(body); m != nil {
		u.csrf = html.UnescapeString(string(m[1]))
	}
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

func (u *consoleUser) get(path string) (int, string) {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.base+path, nil)
	require.NoError(u.t, err)
	return u.do(req)
}

// post sends a form with the CSRF token (unless withCSRF is false).
func (u *consoleUser) post(path string, form url.Values, withCSRF bool) (int, string) {
	u.t.Helper()
	if withCSRF {
		form.Set("csrf", u.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	require.NoError(u.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// upload sends the new-campaign form with fields and the CSV (with the CSRF token unless
// withCSRF is false).
func (u *consoleUser) upload(fields map[string]string, csvName, csv string, withCSRF bool) (int, string) {
	u.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if withCSRF {
		require.NoError(u.t, mw.WriteField("csrf", u.csrf))
	}
	for k, v := range fields {
		require.NoError(u.t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("csv", csvName)
	require.NoError(u.t, err)
	_, err = io.WriteString(fw, csv)
	require.NoError(u.t, err)
	require.NoError(u.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, u.base+"/console/new", &body)
	require.NoError(u.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return u.do(req)
}

// draftID is the campaign id of a dry run page's address.
func draftID(t *testing.T, location string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^/console/new/(\d+)$`).FindStringSubmatch(location)
	require.NotNil(t, m, "not a dry run's address: %q", location)
	id, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return id
}

// serveConsole starts campaign serve in this process, with its console (user ops, password
// operator-password, an operator) and env, on a free loopback port that is also its public URL,
// against a new simulator of seed whose calls last a 120th of their length, on the real clock.
func serveConsole(t *testing.T, seed int64, env map[string]string) (*testBundle, *serveSim, *serveProc) {
	t.Helper()
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: seed, TimeScale: 120})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	env[envConsoleOperator], env[envPublicURL], env["XDG_STATE_HOME"] = "ops:operator-password", "http://"+addr, t.TempDir()
	return b, sim, startServeInProcess(t, b, sim, env, addr)
}

// TestConsoleCreate creates campaigns from the console of a serve process, against the
// simulator: viewers and requests without the CSRF token are refused; a bad file or setting
// shows the form again with the message and the values typed, and leaves no campaign; a good
// upload shows its dry run (rejects by reason, the request bodies without the webhook secret);
// Start hands the draft to the service, whose runner calls every contact; a start time
// schedules it; Discard deletes it; a failed pre-flight offers no Start.
func TestConsoleCreate(t *testing.T) {
	t.Parallel()
	const secret = "whsec-console-7c1d9e"
	b, sim, p := serveConsole(t, 5, map[string]string{envConsoleViewer: "eve:viewer-password", envWebhookSecret: secret})
	base := "http://" + p.addr
	store := campaign.NewStore(b.pool(t))
	ctx := context.Background()
	campaigns := func() int {
		list, err := store.ListCampaigns(ctx)
		require.NoError(t, err)
		return len(list)
	}
	good := map[string]string{"assistant_id": vapitest.AssistantCollections, "phone_number_ids": "pn-console",
		"window": "always", "rate": "0", "retry": "none", "max_attempts": "1"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	const contacts = "phone,first_name,amount_due\n+1 415 555 0101,Ann,$10\n+1 415 555 0102,Bob,$20\n" +
		"+1 415 555 0103,Cy,$30\nnot a phone,Dee,$40\n+1 415 555 0101,Ann again,$10\n"

	viewer := loginConsole(t, base, "eve", "viewer-password")
	code, _ := viewer.get("/console/")
	require.Equal(t, http.StatusOK, code)
	code, _ = viewer.get("/console/new")
	require.Equal(t, http.StatusForbidden, code, "a viewer creates nothing")
	code, _ = viewer.upload(good, "c.csv", contacts, true)
	require.Equal(t, http.StatusForbidden, code)

	ops := loginConsole(t, base, "ops", "operator-password")
	code, page := ops.get("/console/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `href="/console/new"`)
	code, page = ops.get("/console/new")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `enctype="multipart/form-data"`)
	code, _ = ops.upload(good, "c.csv", contacts, false)
	require.Equal(t, http.StatusForbidden, code, "the CSRF token is required")
	require.Zero(t, campaigns())

	// A bad file and a bad setting: the form again, refused (422), with the message and the
	// values typed.
	code, page = ops.upload(with(map[string]string{"name": "no-phones"}), "c.csv", "name,amount\nAnn,1\n", true)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, page, `id="form-error"`)
	require.Contains(t, page, "no phone column")
	require.Contains(t, page, `value="no-phones"`)
	code, page = ops.upload(with(map[string]string{"rate": "-1"}), "c.csv", contacts, true)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, page, "--rate must be zero (no limit) or more")
	require.Contains(t, page, `value="-1"`)
	code, page = ops.upload(with(map[string]string{"start": "at", "start_at": "yesterday at noon"}), "c.csv", contacts, true)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, page, "--start-at")
	require.Zero(t, campaigns(), "a refused form leaves no campaign")

	// A good upload: the dry run.
	code, loc := ops.upload(with(map[string]string{"name": "from-console"}), "contacts.csv", contacts, true)
	require.Equal(t, http.StatusSeeOther, code)
	id := draftID(t, loc)
	c, err := store.Campaign(ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusDraft, c.Status)
	require.Equal(t, campaign.ModeService, c.Mode)
	require.Equal(t, "contacts.csv", c.SourceFile)
	code, page = ops.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"Dry run of from-console", "invalid_phone", "duplicate_phone", "first_name, amount_due",
		"POST /call", `&#34;assistantId&#34;: &#34;` + vapitest.AssistantCollections, redacted, `id="start"`, "Passed.", "not a phone"} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, secret, "no secret on the page")
	require.Empty(t, sim.posts(), "a dry run calls nobody")
	code, rejects := ops.get(loc + "/rejects.csv")
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.HasPrefix(rejects, "phone,first_name,amount_due,line,reason,detail\n"), "run --rejects's columns: %s", rejects)
	require.Contains(t, rejects, ",invalid_phone,")
	require.Contains(t, rejects, ",duplicate_phone,")

	// Start: the service's runner calls the three contacts accepted.
	code, loc = ops.post(loc+"/start", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/console/campaigns/"+strconv.FormatInt(id, 10), loc)
	c, err = store.Campaign(ctx, id)
	require.NoError(t, err)
	require.Contains(t, []campaign.Status{campaign.StatusRunning, campaign.StatusCompleted}, c.Status)
	require.Equal(t, campaign.ModeService, c.Mode)
	code, page = ops.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "handed to campaign serve: 3 contacts to call")
	waitUntil(t, time.Minute, "the campaign completed", func() bool {
		pr, err := store.Progress(ctx, id)
		require.NoError(t, err)
		return pr.Status == campaign.StatusCompleted
	})
	require.Len(t, sim.posts(), 3)
	code, _ = ops.post("/console/new/"+strconv.FormatInt(id, 10)+"/start", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code, "a campaign no longer a draft is not started again")

	// A start time: Schedule, and the campaign is scheduled.
	code, loc = ops.upload(with(map[string]string{"name": "later", "start": "at", "start_at": "+2h"}), "later.csv", contacts, true)
	require.Equal(t, http.StatusSeeOther, code)
	id = draftID(t, loc)
	code, page = ops.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, ">Schedule</button>")
	code, _ = ops.post(loc+"/start", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	c, err = store.Campaign(ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, c.Status)

	// Discard: the draft is gone; a viewer may not.
	code, loc = ops.upload(with(map[string]string{"name": "discarded"}), "d.csv", contacts, true)
	require.Equal(t, http.StatusSeeOther, code)
	id = draftID(t, loc)
	_, _ = viewer.get("/console/")
	code, _ = viewer.post(loc+"/discard", url.Values{}, true)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = ops.post(loc+"/discard", url.Values{}, false)
	require.Equal(t, http.StatusForbidden, code, "the CSRF token is required")
	code, _ = ops.post(loc+"/discard", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	_, err = store.Campaign(ctx, id)
	require.ErrorIs(t, err, campaign.ErrNotFound)

	// A failed pre-flight (the assistant's first_name missing): said, and no Start.
	code, loc = ops.upload(with(map[string]string{"name": "no-names"}), "n.csv", "phone\n+1 415 555 0109\n", true)
	require.Equal(t, http.StatusSeeOther, code)
	code, page = ops.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `id="preflight-error"`)
	require.Contains(t, page, "first_name")
	require.NotContains(t, page, `id="start"`)
	code, _ = ops.post(loc+"/start", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	c, err = store.Campaign(ctx, draftID(t, loc))
	require.NoError(t, err)
	require.Equal(t, campaign.StatusDraft, c.Status, "a failed pre-flight starts nothing")
	require.Len(t, sim.posts(), 3)
	require.NotContains(t, p.stderr.String(), secret, "no secret in the log")
}

// TestConsoleImportsShareServesBound imports through the console's Creator on a serve whose
// pool has 4 connections, so one import at once: the console imports into serve's own Store,
// so while one upload is being read a second is refused with campaign.ErrImportsBusy (the
// console answers it 503) and makes nothing; once the first ends, the second goes through. The
// app's own database URL leads nowhere: no console import opens a database of its own.
func TestConsoleImportsShareServesBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cfg := b.pool(t).Config()
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	env := map[string]string{envAPIKey: "unused-key", "XDG_STATE_HOME": t.TempDir()}
	a := &app{in: bytes.NewReader(nil), out: io.Discard, errOut: io.Discard, getenv: func(k string) string { return env[k] },
		now: time.Now, logger: slog.New(slog.DiscardHandler), global: globalOptions{DatabaseURL: "postgres://127.0.0.1:1/unreachable"}}
	cc := &consoleCreator{a: a, store: campaign.NewStore(pool), baseURL: "http://127.0.0.1:1"}
	form := func(name string, csv io.Reader) console.NewCampaign {
		return console.NewCampaign{CSV: csv, FileName: name + ".csv", Name: name, AssistantID: "asst-1", PhoneNumberIDs: "pn-1",
			Window: "always", Rate: "1", Retry: "none", MaxAttempts: "1"}
	}

	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	first := make(chan error, 1)
	go func() {
		_, err := cc.Import(ctx, form("first", pr))
		first <- err
	}()
	// More than the reader's 64 KB of header sniffing: when the write returns (a pipe's write waits
	// for its reader), the import is reading rows, holding serve's only import slot.
	var rows strings.Builder
	rows.WriteString("phone,name\n")
	for i := range 4_000 {
		fmt.Fprintf(&rows, "+1415555%04d,Customer %d\n", i, i)
	}
	_, err = io.WriteString(pw, rows.String())
	require.NoError(t, err)

	_, err = cc.Import(ctx, form("second", strings.NewReader("phone\n+14155550100\n")))
	require.ErrorIs(t, err, campaign.ErrImportsBusy)
	var campaigns int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaign`).Scan(&campaigns))
	require.Zero(t, campaigns)

	require.NoError(t, pw.Close())
	require.NoError(t, <-first)
	c, err := cc.Import(ctx, form("second", strings.NewReader("phone\n+14155550100\n")))
	require.NoError(t, err)
	require.Equal(t, "second", c.Name)
	require.Equal(t, 1, c.ImportStats.Accepted)
}
