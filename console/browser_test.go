package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// envScreenshots names the directory TestBrowser writes the console's screenshots to (make
// console-screenshots); unset, it writes none.
const envScreenshots = "CONSOLE_SCREENSHOTS"

// chromium finds Chromium: $CHROMIUM, else the usual names on PATH. Without one the test fails
// and says how to install it (it never skips).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM")
	return ""
}

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

// TestBrowser drives the console in headless Chromium: it logs in, opens the campaigns page
// and a campaign's page, pauses and resumes the campaign with the buttons, sees the page refresh
// itself when the campaign changes elsewhere, opens the campaign's calls, searches them and opens
// a call to read its transcript, and checks that no page logs a console error or
// fails a request and that none overflows a phone's (390 px) or a desktop's (1280 px) width.
// With CONSOLE_SCREENSHOTS set it also saves the pages as PNGs there.
func TestBrowser(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{refresh: 200 * time.Millisecond})
	c := b.newCampaign(t, "nov-reminders", 40, campaign.ModeService, campaign.StatusRunning)
	b.played(t, c, 24)
	other := b.newCampaign(t, "dec-renewals", 12, campaign.ModeService, campaign.StatusRunning)
	b.played(t, other, 5)
	require.NoError(t, b.store.Pause(b.ctx, other.ID, t0))
	b.newCampaign(t, "jan-survey", 8, campaign.ModeService, campaign.StatusDraft)
	// The webhook events of Customer 3's call, shown raw on its page.
	call3 := fmt.Sprintf("call-%d-3", c.ID)
	for _, ev := range [][2]string{
		{"status-update", `{"message": {"type": "status-update", "status": "in-progress", "call": {"id": "` + call3 + `"}}}`},
		{"end-of-call-report", `{"message": {"type": "end-of-call-report", "endedReason": "voicemail", "call": {"id": "` + call3 + `"}}}`},
	} {
		_, err := b.pool.Exec(b.ctx, `INSERT INTO webhook_event (type, vapi_call_id, payload, auth, received_at)
			VALUES ($1, $2, $3, 'campaign_secret', $4)`, ev[0], call3, ev[1], t0)
		require.NoError(t, err)
	}
	shots := os.Getenv(envScreenshots)
	// A serve process runs the service's campaigns (none would show them orphaned).
	require.NoError(t, b.store.AcquireLease(b.ctx, campaign.Runner{ID: "serve-1", Mode: campaign.ModeService, Host: "ops-1", PID: 4242}, time.Hour))

	// A bound for a stuck browser, not a timing assertion.
	parent, cancelParent := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelParent()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	var (
		mu       sync.Mutex
		problems []string
	)
	note := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	require.NoError(t, chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				note("console error: %v", ev.Args)
			}
		case *runtime.EventExceptionThrown:
			note("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				note("log error: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			note("failed request %s: %s", ev.RequestID, ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				note("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(ev.Request.URL, b.srv.URL) && !strings.HasPrefix(ev.Request.URL, "data:") {
				note("request off the console: %s", ev.Request.URL)
			}
		}
	}))
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(tab, steps...))
	}
	eval := func(expr string) int {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[int](expr))
		require.NoError(t, err, expr)
		return v
	}
	// fits checks the page fits widths 390 and 1280 with no horizontal overflow, and saves a
	// screenshot of each when asked.
	fits := func(name string) {
		t.Helper()
		for _, w := range []int64{390, 1280} {
			run(chromedp.EmulateViewport(w, 900))
			scroll, inner := eval(`document.documentElement.scrollWidth`), eval(`window.innerWidth`)
			require.LessOrEqual(t, scroll, inner, "%s at %d px: no horizontal overflow", name, w)
			if shots != "" {
				png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				require.NoError(t, err)
				require.NoError(t, os.MkdirAll(shots, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, problems, name)
	}

	run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(b.srv.URL+"/console/"),
		chromedp.WaitVisible(`#password`))
	fits("login")
	run(chromedp.SendKeys(`#user`, "ops"), chromedp.SendKeys(`#password`, operatorPassword), chromedp.Submit(`#password`),
		chromedp.WaitVisible(`table.campaigns`))
	fits("campaigns")

	run(chromedp.Click(`a[href="/console/campaigns/`+fmt.Sprint(c.ID)+`"]`), chromedp.WaitVisible(`svg[data-chart="funnel"]`))
	require.Positive(t, eval(`document.querySelectorAll('[data-mark]').length`), "the report's charts have bars")
	fits("campaign")

	run(chromedp.Click(`#pause`), chromedp.WaitVisible(`.flash`))
	require.Equal(t, campaign.StatusPaused, b.status(t, c.ID).Status)
	flash, err := chromedp.Run(tab, chromedp.Text(`.flash`))
	require.NoError(t, err)
	require.Contains(t, flash, "paused")
	run(chromedp.Click(`#resume`), chromedp.WaitVisible(`#pause`))
	require.Equal(t, campaign.StatusRunning, b.status(t, c.ID).Status)

	// Paused elsewhere (the CLI): the page shows it without a reload.
	require.Equal(t, 1, eval(`window.__marker = 1`))
	require.NoError(t, b.store.Pause(b.ctx, c.ID, t0))
	_, err = chromedp.Run(tab, chromedp.Poll[bool](`document.querySelector('#status').textContent === 'paused'`,
		chromedp.WithPollingInterval(50*time.Millisecond)))
	require.NoError(t, err, "the live part shows the pause")
	require.Equal(t, 1, eval(`window.__marker || 0`), "the live part was swapped in place, the page not reloaded")

	// From the campaign page, its calls: searched, then one call opened, its transcript read.
	run(chromedp.Click(`#calls`), chromedp.WaitVisible(`table.calls`))
	require.Equal(t, 24, eval(`document.querySelectorAll('tr[data-attempt]').length`), "every call of the campaign (a page holds 50)")
	fits("calls")
	// The results page is the one whose search field holds the search as its value attribute
	// (typing sets the property only).
	run(chromedp.SendKeys(`#q`, "Customer 3"), chromedp.Submit(`#q`), chromedp.WaitVisible(`#q[value="Customer 3"]`))
	require.Equal(t, 1, eval(`document.querySelectorAll('tr[data-attempt]').length`), "the search keeps Customer 3's call alone")
	run(chromedp.Click(`tr[data-attempt] a[href^="/console/calls/"]`), chromedp.WaitVisible(`#transcript`))
	require.Equal(t, 4, eval(`document.querySelectorAll('#transcript .turn').length`), "the transcript's four turns")
	require.Equal(t, 2, eval(`document.querySelectorAll('#transcript .turn.customer').length`), "two of them the customer's")
	turn, err := chromedp.Run(tab, chromedp.Text(`#transcript .turn.assistant p`))
	require.NoError(t, err)
	require.Equal(t, "Hello, am I speaking with Customer 3?", turn)
	require.Equal(t, 1, eval(`document.querySelectorAll('audio#recording').length`), "the recording's player")
	require.Equal(t, 2, eval(`document.querySelectorAll('#events details').length`), "its webhook events")
	fits("call")

	// The confirm page of a cancellation, then the campaign cancelled.
	run(chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d/cancel", b.srv.URL, other.ID)), chromedp.WaitVisible(`#confirm-cancel`))
	fits("cancel")
	run(chromedp.Click(`#confirm-cancel`), chromedp.WaitVisible(`.flash`))
	require.Equal(t, campaign.StatusCancelled, b.status(t, other.ID).Status)
}
