package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// pauseDeadline is how soon after `campaign pause` returns the last call may be placed, in
// every serve process (the requirement).
const pauseDeadline = 5 * time.Second

// TestThreeServeProcesses runs a detached campaign on three `campaign serve` processes (the
// real binary) sharing one database, against one simulated Vapi account, with webhooks spread
// over the three by a round-robin proxy as a load balancer would. The campaign's cap is never
// exceeded on the simulator (whose own limit is higher, so it would not hide an excess), a pause
// stops every process from dialing within pauseDeadline, and after a resume every contact ends
// final, each number called once.
func TestThreeServeProcesses(t *testing.T) {
	t.Parallel()
	// Enough contacts, and calls long enough (x30), that the campaign is still far from done
	// when the test, on a busy machine, sees a third placed and pauses; and that the cap fills.
	const contacts, maxConcurrent = 36, 4
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: 7, TimeScale: 30, ConcurrencyLimit: 3 * maxConcurrent})
	b.env[envAPIKey] = sim.Config().APIKey
	bin := buildServeBinary(t)

	lb := &roundRobin{}
	procs := make([]*serveProc, 3)
	for i := range procs {
		procs[i] = startServeBinary(t, bin, fmt.Sprintf("serve-%d", i+1), b.databaseURL(), sim)
		lb.targets = append(lb.targets, &url.URL{Scheme: "http", Host: procs[i].addr})
	}
	lbSrv := httptest.NewServer(&httputil.ReverseProxy{Rewrite: lb.rewrite})
	t.Cleanup(lbSrv.Close)
	accountKnown(t, b, sim) // no scout call first: the processes have migrated the database

	dir := t.TempDir()
	csv := writeFile(t, dir, "three.csv", serveContacts(contacts))
	code := b.run(t, "run", csv, "--detach", "--name", "three", "--vapi-base-url", sim.url, "--public-url", lbSrv.URL,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-serve", "--allow-missing-variables",
		"--window", "always", "--rate", "0", "--max-concurrent", strconv.Itoa(maxConcurrent),
		"--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

	// Pause a third of the way through, with calls in flight.
	waitUntil(t, 30*time.Second, "a third of the calls placed", func() bool { return len(sim.posts()) >= contacts/3 })
	require.Equal(t, exitOK, b.run(t, "pause", "three"), "stderr: %s", b.stderr)
	pausedAt := time.Now()
	pool := b.pool(t)
	store := campaign.NewStore(pool)
	c, err := store.CampaignByRef(context.Background(), "three")
	require.NoError(t, err)
	p, err := store.Progress(context.Background(), c.ID)
	require.NoError(t, err)
	require.Less(t, p.FinalCount(), contacts, "the pause came before the end")

	// Watch past the deadline, until the calls in flight have ended: nothing is dialed late.
	waitUntil(t, 30*time.Second, "the deadline passed and the calls in flight ended", func() bool {
		return time.Since(pausedAt) > pauseDeadline+500*time.Millisecond && sim.Live() == 0 && serveLive(t, store) == 0
	})
	posts := sim.posts()
	last := posts[len(posts)-1]
	for i, at := range posts {
		require.False(t, at.After(pausedAt.Add(pauseDeadline)), "POST /call %d came %s after the pause returned",
			i+1, at.Sub(pausedAt))
	}
	t.Logf("pause: %d of %d calls placed; the last one %s after the pause returned", len(posts), contacts, last.Sub(pausedAt))
	p, err = store.Progress(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusPaused, p.Status)
	require.Less(t, len(posts), contacts, "the paused campaign has contacts left")

	require.Equal(t, exitOK, b.run(t, "resume", "three", "--detach", "--vapi-base-url", sim.url, "--allow-missing-variables"),
		"stderr: %s", b.stderr)
	waitUntil(t, 60*time.Second, "the campaign completed", func() bool {
		p, err := store.Progress(context.Background(), c.ID)
		require.NoError(t, err)
		return p.Status == campaign.StatusCompleted
	})
	p, err = store.Progress(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, contacts, p.FinalCount())

	_, maxLive := sim.Concurrency()
	require.LessOrEqual(t, maxLive, maxConcurrent, "the cap holds across the three processes")
	require.Equal(t, maxConcurrent, maxLive, "the campaign saturated its cap")
	byNumber := sim.CreateRequestsByNumber()
	require.Len(t, byNumber, contacts)
	for number, n := range byNumber {
		require.Equal(t, 1, n, "%s was called %d times", number, n)
	}

	// Every process's metrics count its own calls; together they count them all.
	created, byProc := 0, make([]int, len(procs))
	for i, proc := range procs {
		byProc[i] = int(metricValue(t, httpGet(t, "http://"+proc.addr+"/metrics", http.StatusOK), "campaign_calls_created_total"))
		created += byProc[i]
	}
	require.Equal(t, contacts, created)
	t.Logf("calls placed by each process: %v; simulator max live %d (cap %d)", byProc, maxLive, maxConcurrent)
	dialers := 0
	for _, n := range byProc {
		if n > 0 {
			dialers++
		}
	}
	require.GreaterOrEqual(t, dialers, 2, "the processes share the work: %v", byProc)
}

// TestServeEndpoints checks the HTTP surface of a serve process while it runs a campaign:
// health, readiness, the webhook receiver and the metrics.
func TestServeEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	// Voicemail numbers at x30: calls of 1.2 to 2.2 s, long enough to be seen live.
	sim := newServeSim(t, vapitest.Config{Seed: 3, TimeScale: 30})
	b.env[envAPIKey] = sim.Config().APIKey
	p := startServeInProcess(t, b, sim, map[string]string{}, "127.0.0.1:0")
	base := "http://" + p.addr

	require.Equal(t, "ok\n", httpGet(t, base+"/healthz", http.StatusOK))
	require.Equal(t, "ready\n", httpGet(t, base+"/readyz", http.StatusOK))
	require.Contains(t, p.stderr.String(), "River UI not served")
	// The receiver refuses a request without a secret, and other methods than POST.
	resp, err := http.Post(base+"/vapi/webhook", "application/json", strings.NewReader(`{"message":{"type":"status-update"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	httpGet(t, base+"/vapi/webhook", http.StatusMethodNotAllowed)

	accountKnown(t, b, sim)
	csv := writeFile(t, t.TempDir(), "endpoints.csv", "phone\n+12015550130\n+12015550131\n+12015550132\n")
	code := b.run(t, "run", csv, "--detach", "--name", "endpoints", "--vapi-base-url", sim.url, "--public-url", base,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-serve", "--allow-missing-variables",
		"--window", "always", "--rate", "0", "--max-concurrent", "3", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

	// While the three calls are live, the gauge (read from the database) shows them.
	waitUntil(t, 30*time.Second, "three live calls", func() bool { return sim.Live() == 3 })
	store := campaign.NewStore(b.pool(t))
	c, err := store.CampaignByRef(context.Background(), "endpoints")
	require.NoError(t, err)
	live := httpGet(t, base+"/metrics", http.StatusOK)
	require.Equal(t, 3.0, metricValue(t, live, fmt.Sprintf(`campaign_live_calls{campaign="endpoints",campaign_id="%d"}`, c.ID)))
	// Its contacts by state, read from the database: the three in a call.
	require.Equal(t, 3.0, metricValue(t, live, fmt.Sprintf(`campaign_contacts{campaign="endpoints",campaign_id="%d",state="in_call"}`, c.ID)))
	require.Equal(t, 0.0, metricValue(t, live, fmt.Sprintf(`campaign_contacts{campaign="endpoints",campaign_id="%d",state="pending"}`, c.ID)))
	require.Equal(t, 0.0, metricValue(t, live, fmt.Sprintf(`campaign_cost_usd{campaign="endpoints",campaign_id="%d"}`, c.ID)))

	waitUntil(t, 30*time.Second, "the campaign completed", func() bool {
		pr, err := store.Progress(context.Background(), c.ID)
		require.NoError(t, err)
		return pr.Status == campaign.StatusCompleted
	})
	want := map[string]float64{
		"campaign_calls_created_total":                                               3,
		"campaign_dial_duration_seconds_count":                                       3,
		`campaign_call_create_errors_total{class="rate_limited"}`:                    0,
		`campaign_call_outcomes_total{outcome="voicemail"}`:                          3,
		`campaign_webhook_events_total{result="recorded",type="end-of-call-report"}`: 3,
		`campaign_webhook_events_total{result="unauthorized",type="unknown"}`:        1,
		`campaign_webhook_events_total{result="method_not_allowed",type="unknown"}`:  1,
		`promhttp_metric_handler_errors_total{cause="gathering"}`:                    0,
	}
	// A counter moves after the database does (a webhook's once its answer is written), so the
	// campaign is seen completed a moment before the counters have all moved: wait for them.
	var body string
	waitUntil(t, 30*time.Second, "the counters count every call and report", func() bool {
		body = httpGet(t, base+"/metrics", http.StatusOK)
		for series, w := range want {
			if v, ok := seriesValue(body, series); !ok || v != w {
				return false
			}
		}
		return true
	})
	for series, w := range want {
		require.Equal(t, w, metricValue(t, body, series), series)
	}
	require.Positive(t, metricValue(t, body, `campaign_webhook_events_total{result="recorded",type="status-update"}`))
	require.NotContains(t, body, "campaign_live_calls{", "a completed campaign with no live call is not reported")

	p.stop()
	require.Equal(t, exitOK, p.wait(t, 30*time.Second), "stderr: %s", p.stderr)
}

// TestServeReadinessAndNoRiverUI checks /readyz through its states and that the River UI is
// served only with credentials, behind basic auth.
func TestServeReadinessAndNoRiverUI(t *testing.T) {
	t.Parallel()
	t.Run("Readiness", func(t *testing.T) {
		t.Parallel()
		var pingErr atomic.Pointer[error]
		r := &readiness{ping: func(context.Context) error {
			if e := pingErr.Load(); e != nil {
				return *e
			}
			return nil
		}}
		srv := httptest.NewServer(r)
		defer srv.Close()
		require.Equal(t, "not ready: starting\n", httpGet(t, srv.URL, http.StatusServiceUnavailable))
		r.set(stateRunning)
		require.Equal(t, "ready\n", httpGet(t, srv.URL, http.StatusOK))
		down := errors.New("dial tcp db.internal:5432: connection refused")
		pingErr.Store(&down)
		body := httpGet(t, srv.URL, http.StatusServiceUnavailable)
		require.Equal(t, "not ready: the database does not answer\n", body)
		pingErr.Store(nil)
		require.Equal(t, "ready\n", httpGet(t, srv.URL, http.StatusOK))
		r.set(stateStopping)
		require.Equal(t, "not ready: shutting down\n", httpGet(t, srv.URL, http.StatusServiceUnavailable))
	})

	b := setup(t)
	b.databaseURL() // the schema the subtests share, created here: a subtest may not fail its parent
	t.Run("NoRiverUIWithoutCredentials", func(t *testing.T) {
		t.Parallel()
		p := startServeInProcess(t, b, nil, map[string]string{}, "127.0.0.1:0")
		require.Contains(t, p.stderr.String(), "River UI not served: set CAMPAIGN_RIVERUI_USER and CAMPAIGN_RIVERUI_PASSWORD")
		httpGet(t, "http://"+p.addr+"/riverui/", http.StatusNotFound)
		httpGet(t, "http://"+p.addr+"/riverui/api/jobs?state=available", http.StatusNotFound)
		require.Equal(t, "ready\n", httpGet(t, "http://"+p.addr+"/readyz", http.StatusOK))
	})
	t.Run("RiverUIBehindBasicAuth", func(t *testing.T) {
		t.Parallel()
		p := startServeInProcess(t, b, nil, map[string]string{
			envRiverUIUser: "ops", envRiverUIPassword: "correct horse battery staple"}, "127.0.0.1:0")
		require.NotContains(t, p.stderr.String(), "River UI not served")
		require.NotContains(t, p.stderr.String(), "correct horse", "secrets never appear in logs")
		get := func(path, user, password string) (*http.Response, string) {
			req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
			require.NoError(t, err)
			if user != "" {
				req.SetBasicAuth(user, password)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp, string(body)
		}
		resp, _ := get("/riverui/", "", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, `Basic realm="River UI", charset="UTF-8"`, resp.Header.Get("WWW-Authenticate"))
		resp, _ = get("/riverui/", "ops", "wrong")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = get("/riverui/", "someone", "correct horse battery staple")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, body := get("/riverui/", "ops", "correct horse battery staple")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, "<html")
		resp, body = get("/riverui/api/jobs?state=available", "ops", "correct horse battery staple")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Contains(t, body, `"data":`)
	})
}

// TestServeConsoleAndMetricsToken checks that serve serves the console only with users: behind
// its login (the root path leads there), and that /metrics wants its bearer token when one is
// set; neither a password nor the token reaches the log.
func TestServeConsoleAndMetricsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url, bearer string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	p := startServeInProcess(t, b, nil, map[string]string{}, "127.0.0.1:0")
	require.Contains(t, p.stderr.String(), "console not served: set CAMPAIGN_CONSOLE_OPERATOR (or CAMPAIGN_CONSOLE_VIEWER) to user:password")
	require.Equal(t, http.StatusNotFound, get("http://"+p.addr+"/console/", "").StatusCode)
	require.Equal(t, http.StatusOK, get("http://"+p.addr+"/metrics", "").StatusCode, "no token: /metrics is open")
	p.stop()
	require.Equal(t, exitOK, p.wait(t, 30*time.Second))

	p = startServeInProcess(t, b, nil, map[string]string{envConsoleOperator: "ops:operator-password",
		envMetricsToken: "metrics-token-31f"}, "127.0.0.1:0")
	base := "http://" + p.addr
	resp := get(base+"/", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/console/", resp.Header.Get("Location"))
	resp = get(base+"/console/", "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the console wants a login")
	require.Equal(t, "/console/login?next=%2Fconsole%2F", resp.Header.Get("Location"))
	resp, err := noRedirect.PostForm(base+"/console/login", url.Values{"user": {"ops"}, "password": {"operator-password"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, base+"/console/", nil)
	require.NoError(t, err)
	req.AddCookie(resp.Cookies()[0])
	resp, err = noRedirect.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "logged in")

	for _, token := range []string{"", "wrong", "metrics-token-31"} {
		require.Equal(t, http.StatusUnauthorized, get(base+"/metrics", token).StatusCode, "token %q", token)
	}
	require.Equal(t, http.StatusOK, get(base+"/metrics", "metrics-token-31f").StatusCode)
	require.Equal(t, http.StatusOK, get(base+"/healthz", "").StatusCode, "health stays open")
	require.NotContains(t, p.stderr.String(), "operator-password")
	require.NotContains(t, p.stderr.String(), "metrics-token-31f")
}

// TestServeListenTaken checks that serve fails at once on a listen address already taken (what
// serve refuses before it touches the database: TestServeFlags).
func TestServeListenTaken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The listen address comes from the environment; one already taken fails at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	b.env = map[string]string{envAPIKey: "k", envListen: ln.Addr().String()}
	require.Equal(t, exitError, b.run(t, "serve"))
	require.Contains(t, b.stderr.String(), "listen on --listen "+ln.Addr().String())
}

// TestServeGracefulShutdown sends SIGTERM to a serve process (the real binary) with calls in
// flight: /readyz answers 503 at once, the receiver stays up until the calls have reported, and
// the process exits 0 with every result recorded.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	// Voicemail numbers at x30: calls of 1.2 to 2.2 s, then their reports.
	sim := newServeSim(t, vapitest.Config{Seed: 5, TimeScale: 30})
	b.env[envAPIKey] = sim.Config().APIKey
	p := startServeBinary(t, buildServeBinary(t), "serve", b.databaseURL(), sim, "--grace", "1m")
	base := "http://" + p.addr

	accountKnown(t, b, sim)
	csv := writeFile(t, t.TempDir(), "graceful.csv", "phone\n+12015550133\n+12015550134\n+12015550135\n")
	code := b.run(t, "run", csv, "--detach", "--name", "graceful", "--vapi-base-url", sim.url, "--public-url", base,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-serve", "--allow-missing-variables",
		"--window", "always", "--rate", "0", "--max-concurrent", "3", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	waitUntil(t, 30*time.Second, "three calls in flight", func() bool { return sim.Live() == 3 })
	require.Equal(t, "ready\n", httpGet(t, base+"/readyz", http.StatusOK))

	p.stop()
	waitUntil(t, 30*time.Second, "/readyz answers 503", func() bool {
		require.False(t, p.exited(), "the process ended before /readyz was seen failing:\n%s", p.stderr)
		resp, err := http.Get(base + "/readyz")
		require.NoError(t, err, "the server stays up while calls are in flight")
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	require.Equal(t, "ok\n", httpGet(t, base+"/healthz", http.StatusOK))
	require.Equal(t, exitOK, p.wait(t, time.Minute), "stderr: %s", p.stderr)

	// The three reports arrived after SIGTERM and were recorded before the process left.
	require.Contains(t, p.stderr.String(), "shutting down")
	require.Contains(t, p.stderr.String(), "no call in flight")
	pool := b.pool(t)
	var reported, final int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM attempt WHERE report_at IS NOT NULL AND state = 'ended'),
			(SELECT count(*) FROM contact WHERE state IN ('completed', 'failed', 'cancelled', 'do_not_call'))`).
		Scan(&reported, &final))
	require.Equal(t, 3, reported)
	require.Equal(t, 3, final)
	for _, d := range sim.Deliveries() {
		require.True(t, d.OK(), "a webhook was refused: %s %s %d %s", d.Type, d.Status, d.StatusCode, d.Err)
	}
}

// TestRunDetach checks that `campaign run --detach` only hands the campaign over (running, mode
// service, nobody called) and that a serve process started afterwards completes it.
func TestRunDetach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: 11, TimeScale: 120})
	b.env[envAPIKey] = sim.Config().APIKey
	// The campaign carries the receiver's address, so it is chosen before serve starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	csv := writeFile(t, t.TempDir(), "detach.csv", serveContacts(6))
	code := b.run(t, "run", csv, "--detach", "--name", "detached", "--vapi-base-url", sim.url, "--public-url", "http://"+addr,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-serve", "--allow-missing-variables",
		"--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "handed to campaign serve")

	store := campaign.NewStore(b.pool(t))
	c, err := store.CampaignByRef(context.Background(), "detached")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, c.Status)
	require.Equal(t, campaign.ModeService, c.Mode)
	require.Empty(t, sim.posts(), "run --detach calls nobody")

	p := startServeInProcess(t, b, sim, map[string]string{}, addr)
	waitUntil(t, 30*time.Second, "the campaign completed", func() bool {
		pr, err := store.Progress(context.Background(), c.ID)
		require.NoError(t, err)
		return pr.Status == campaign.StatusCompleted
	})
	pr, err := store.Progress(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, 6, pr.FinalCount())
	require.Len(t, sim.CreateRequestsByNumber(), 6)
	p.stop()
	require.Equal(t, exitOK, p.wait(t, 30*time.Second), "stderr: %s", p.stderr)
}

// serveSim is the simulated Vapi of the serve tests, on loopback, noting the real time at which
// each POST /call arrived and how many times an assistant was read.
type serveSim struct {
	*vapitest.Server
	url string

	mu             sync.Mutex
	times          []time.Time
	assistantReads int
}

// accountKnown records the simulated account's concurrency limit as learned, as an earlier
// campaign on the account would have left it: a campaign then starts with every call it may
// place, instead of scouting a new account with one call first (see the README's "placing
// calls"). For tests that need several calls live at once early on.
func accountKnown(t *testing.T, b *testBundle, sim *serveSim) {
	t.Helper()
	client, err := vapi.NewClient(sim.Config().APIKey, &vapi.Config{BaseURL: sim.url})
	require.NoError(t, err)
	limit := sim.Config().ConcurrencyLimit
	require.NoError(t, campaign.NewStore(b.pool(t)).LearnAccountLimit(context.Background(), client.Account(), 0,
		campaign.AccountLimits{Limit: limit, Remaining: limit}, time.Now()))
}

func newServeSim(t *testing.T, cfg vapitest.Config) *serveSim {
	t.Helper()
	s := &serveSim{Server: vapitest.New(cfg)}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/call" {
			s.mu.Lock()
			s.times = append(s.times, time.Now())
			s.mu.Unlock()
		}
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/assistant/") {
			s.mu.Lock()
			s.assistantReads++
			s.mu.Unlock()
		}
		s.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// posts returns when each POST /call arrived, in order.
func (s *serveSim) posts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// assistantGets returns how many times an assistant was read (GET /assistant/{id}): each
// pre-flight reads one.
func (s *serveSim) assistantGets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assistantReads
}

// serveProc is a `campaign serve`, in this test process or as the built binary.
type serveProc struct {
	name   string
	addr   string // host:port of its HTTP server
	stderr *syncBuffer
	stop   func() // SIGTERM, or the cancellation of its context
	done   chan struct{}
	code   int // exit code, set before done is closed
}

func (p *serveProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end and returns its exit code.
func (p *serveProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		require.FailNow(t, p.name+" did not end", "waited %s\n%s", within, p.stderr)
		return 0
	}
}

// servingLine is what serve logs once its workers run, with the address it listens on.
var servingLine = regexp.MustCompile(`msg=serving listen=(\S+)`)

// waitServing waits until the process says it serves and sets its address.
func (p *serveProc) waitServing(t *testing.T) {
	t.Helper()
	waitUntil(t, time.Minute, p.name+" serving", func() bool {
		if p.exited() {
			require.FailNow(t, p.name+" ended before serving", "exit %d\n%s", p.code, p.stderr)
		}
		m := servingLine.FindStringSubmatch(p.stderr.String())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	})
}

// startServeInProcess runs `campaign serve --listen listen` in this process on b's database,
// against sim (nil: no Vapi is called), with env as its environment besides; the test's end
// stops it.
func startServeInProcess(t *testing.T, b *testBundle, sim *serveSim, env map[string]string, listen string) *serveProc {
	t.Helper()
	env[envAPIKey] = "unused-key"
	if sim != nil {
		env[envAPIKey], env[envVapiBaseURL] = sim.Config().APIKey, sim.url
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProc{name: "serve", stderr: &syncBuffer{}, stop: cancel, done: make(chan struct{})}
	a := &app{in: bytes.NewReader(nil), out: io.Discard, errOut: p.stderr,
		getenv: func(k string) string { return env[k] }, now: time.Now}
	args := []string{"serve", "--listen", listen, "--database-url", b.databaseURL(), "--grace", "30s", "--log-level", "debug"}
	go func() {
		defer close(p.done)
		p.code = execute(ctx, a, args)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		if t.Failed() {
			t.Logf("---- stderr of %s (exit %d) ----\n%s", p.name, p.code, p.stderr)
		}
	})
	p.waitServing(t)
	return p
}

// buildServeBinary builds the campaign binary into a temporary directory.
func buildServeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "campaign")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startServeBinary starts `campaign serve` as the binary on dbURL against sim, listening on a
// port of its choice; the test's end kills it if it still runs.
func startServeBinary(t *testing.T, bin, name, dbURL string, sim *serveSim, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + cmd.Dir,
		envDatabaseURL + "=" + dbURL,
		envAPIKey + "=" + sim.Config().APIKey,
		envVapiBaseURL + "=" + sim.url,
		"CAMPAIGN_LOG_LEVEL=info",
	}
	p := &serveProc{name: name, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	require.NoError(t, cmd.Start())
	p.stop = func() { _ = cmd.Process.Signal(syscall.SIGTERM) }
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			p.code = exitErr.ExitCode()
		default:
			p.code = -1
		}
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- stderr of %s (exit %d) ----\n%s", p.name, p.code, p.stderr)
		}
	})
	p.waitServing(t)
	return p
}

// roundRobin spreads requests over its targets in turn, like a load balancer.
type roundRobin struct {
	targets []*url.URL
	next    atomic.Uint64
}

func (rr *roundRobin) rewrite(r *httputil.ProxyRequest) {
	r.SetURL(rr.targets[rr.next.Add(1)%uint64(len(rr.targets))])
}

// serveContacts is a CSV of n distinct valid US numbers, whose outcomes come from the
// simulator's mix.
func serveContacts(n int) string {
	var sb strings.Builder
	sb.WriteString("phone\n")
	for i := range n {
		fmt.Fprintf(&sb, "+1 415 555 %04d\n", 3000+i)
	}
	return sb.String()
}

// serveLive counts the live calls of every campaign in the database.
func serveLive(t *testing.T, store *campaign.Store) int {
	t.Helper()
	list, err := store.LiveCalls(context.Background(), time.Time{})
	require.NoError(t, err)
	n := 0
	for _, c := range list {
		n += c.Live
	}
	return n
}

// waitUntil waits until cond holds, checking every 20 ms, and fails the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out waiting: "+what, "after %s", within)
		}
		<-tick.C
	}
}

// httpGet gets url, requires the status and returns the body.
func httpGet(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "GET %s: %s", url, body)
	return string(body)
}

// metricValue returns the value of one series (name and labels exactly as served) in a
// Prometheus text exposition.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	v, ok := seriesValue(body, series)
	if !ok {
		require.FailNow(t, "no series "+series, "%s", body)
	}
	return v
}

// seriesValue returns the value of one series in a /metrics body; ok is false when the series is
// absent or its value is not a number.
func seriesValue(body, series string) (v float64, ok bool) {
	for line := range strings.Lines(body) {
		if s, found := strings.CutPrefix(strings.TrimSpace(line), series+" "); found {
			f, err := strconv.ParseFloat(s, 64)
			return f, err == nil
		}
	}
	return 0, false
}
