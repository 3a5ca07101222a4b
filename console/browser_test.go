package console_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/browsertest"
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
	// A serve process runs the service's campaigns (none would show them orphaned).
	require.NoError(t, b.store.AcquireLease(b.ctx, campaign.Runner{ID: "serve-1", Mode: campaign.ModeService, Host: "ops-1", PID: 4242}, time.Hour))

	tab := browsertest.New(t, b.srv.URL)
	run, eval, fits := tab.Run, tab.Eval, tab.Fits

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
	flash, err := chromedp.Run(tab.Ctx, chromedp.Text(`.flash`))
	require.NoError(t, err)
	require.Contains(t, flash, "paused")
	run(chromedp.Click(`#resume`), chromedp.WaitVisible(`#pause`))
	require.Equal(t, campaign.StatusRunning, b.status(t, c.ID).Status)

	// A new rate, typed into the pacing form.
	run(chromedp.SetValue(`#rate`, "2.5"), chromedp.Submit(`#rate`), chromedp.WaitVisible(`.flash`))
	got, err := b.store.Campaign(b.ctx, c.ID)
	require.NoError(t, err)
	require.InDelta(t, 2.5, got.RatePerSecond, 1e-9, "the rate set from the page")

	// Its CSV, downloaded with the page's session as the Export CSV link does.
	require.Equal(t, 1, eval(`document.querySelectorAll('a[href$="/export.csv"]').length`), "the Export CSV link")
	require.Zero(t, eval(`(fetch(document.querySelector('a[href$="/export.csv"]').href).then(r => r.text().then(body => {
		window.__csv = r.status === 200 && r.headers.get('content-type').startsWith('text/csv') &&
			body.split('\n').length > 24 ? 1 : 2 })), 0)`))
	_, err = chromedp.Run(tab.Ctx, chromedp.Poll[bool](`(window.__csv || 0) > 0`, chromedp.WithPollingInterval(50*time.Millisecond)))
	require.NoError(t, err)
	require.Equal(t, 1, eval(`window.__csv`), "the export is a CSV of every contact")

	// Paused elsewhere (the CLI): the page shows it without a reload.
	require.Equal(t, 1, eval(`window.__marker = 1`))
	require.NoError(t, b.store.Pause(b.ctx, c.ID, t0))
	_, err = chromedp.Run(tab.Ctx, chromedp.Poll[bool](`document.querySelector('#status').textContent === 'paused'`,
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
	turn, err := chromedp.Run(tab.Ctx, chromedp.Text(`#transcript .turn.assistant p`))
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
