package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/browsertest"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestConsoleBrowser drives the console of a real campaign serve, on the simulator, in headless
// Chromium, as an operations lead would: log in; create a campaign to start later from an
// upload (a bad setting first: the form comes back, refused, with the reason); create another
// from an upload and read its dry run (the rejected rows, downloadable; a reload asks Vapi
// nothing); start it and watch its page follow it; check that a visitor without a session and a
// POST without the CSRF token are refused and change nothing; pause and resume it; raise its
// rate; see it complete; open its calls, search them, open a call and read its transcript;
// export its CSV; cancel the other campaign. No page logs a console error, fails a request (but
// the refusals provoked) or overflows 390 or 1280 px. With CONSOLE_SCREENSHOTS set it saves the
// pages as PNGs there (make console-screenshots).
func TestConsoleBrowser(t *testing.T) {
	t.Parallel()
	b, sim, p := serveConsole(t, 8, map[string]string{})
	base := "http://" + p.addr
	accountKnown(t, b, sim)
	pool := b.pool(t)
	status := func(name string) campaign.Status {
		t.Helper()
		var s campaign.Status
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT status FROM campaign WHERE name = $1`, name).Scan(&s))
		return s
	}
	idOf := func(name string) int64 {
		t.Helper()
		var id int64
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT id FROM campaign WHERE name = $1`, name).Scan(&id))
		return id
	}
	// Twelve contacts to call, a number that is none and a duplicate.
	rows := "phone,first_name,amount_due\n"
	for i := 1; i <= 12; i++ {
		rows += fmt.Sprintf("+1 415 555 01%02d,Customer %d,$%d.00\n", i, i, 10*i)
	}
	rows += "555-0199,Nobody,$1.00\n+1 415 555 0102,Customer 2 again,$20.00\n"
	dir := t.TempDir()
	csv, err := filepath.Abs(writeFile(t, dir, "nov-reminders.csv", rows))
	require.NoError(t, err)
	later, err := filepath.Abs(writeFile(t, dir, "dec-renewals.csv", "phone,first_name\n+1 212 555 0150,Dee\n+1 212 555 0151,Eli\n"))
	require.NoError(t, err)

	tab := browsertest.New(t, base)
	tab.Run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(`#password`))
	tab.Fits("login")
	tab.Load(chromedp.SendKeys(`#user`, "ops"), chromedp.SendKeys(`#password`, "operator-password"), chromedp.Submit(`#password`))
	tab.Load(chromedp.Click(`#new-campaign`))
	tab.Fits("new")

	fill := func(file, name, rate string) {
		tab.Run(chromedp.SetUploadFiles(`#csv`, []string{file}), chromedp.SetValue(`#name`, name),
			chromedp.SetValue(`#assistant_id`, vapitest.AssistantCollections), chromedp.SetValue(`#phone_number_ids`, "pn-main"),
			chromedp.SetValue(`#window`, "always"), chromedp.SetValue(`#rate`, rate), chromedp.SetValue(`#retry`, "none"),
			chromedp.SetValue(`#max_attempts`, "1"), chromedp.SetValue(`#max_cost`, "25"))
	}
	// A refused setting: the form again, answered 422, with the reason and the values typed.
	fill(later, "dec-renewals", "fast")
	tab.Expect(422, "/console/new")
	tab.Load(chromedp.Click(`#dry-run`))
	msg, err := chromedp.Run(tab.Ctx, chromedp.Text(`#form-error`))
	require.NoError(t, err)
	require.Contains(t, msg, `--rate: "fast" is not a number`)
	require.Equal(t, 1, tab.Eval(`document.querySelector('#name').value === 'dec-renewals' ? 1 : 0`), "the values typed stay")
	tab.Fits("new-error")

	// The campaign to cancel: scheduled two hours ahead.
	fill(later, "dec-renewals", "1")
	tab.Load(chromedp.Click(`input[name=start][value=at]`), chromedp.SetValue(`#start_at`, "+2h"), chromedp.Click(`#dry-run`))
	tab.Load(chromedp.Click(`#start`))
	require.Equal(t, campaign.StatusScheduled, status("dec-renewals"))

	// The campaign to run: its dry run, then a reload of it, which asks Vapi nothing again.
	tab.Run(chromedp.Navigate(base + "/console/new"))
	fill(csv, "nov-reminders", "0.1")
	reads := sim.assistantGets()
	tab.Load(chromedp.Click(`#dry-run`))
	require.Greater(t, sim.assistantGets(), reads, "the dry run's pre-flight reads the assistant")
	reads = sim.assistantGets()
	tab.Run(chromedp.Reload())
	require.Equal(t, reads, sim.assistantGets(), "a reload of the dry run does not run the pre-flight again")
	rejects, err := chromedp.Run(tab.Ctx, chromedp.Text(`#rejects`))
	require.NoError(t, err)
	require.Contains(t, rejects, "duplicate_phone")
	require.Positive(t, tab.Eval(`document.querySelectorAll('pre.body').length`), "the request bodies are shown")
	rejected := tab.Promise(`fetch(document.querySelector('#rejects-csv').href).then(r => r.text())`)
	require.Contains(t, rejected, "555-0199", "the rejected rows' CSV has the number that is none")
	require.Contains(t, rejected, "Customer 2 again", "and the duplicate")
	require.NotContains(t, rejected, "Customer 1,", "and no accepted row")
	tab.Fits("dryrun")

	tab.Load(chromedp.Click(`#start`))
	id := idOf("nov-reminders")
	require.Equal(t, campaign.StatusRunning, status("nov-reminders"))

	// Refused: a visitor with no session gets the login page for a page and 401 for an action;
	// a POST of the logged-in page without the CSRF token gets 403. Neither pauses anything.
	pause := fmt.Sprintf("/console/campaigns/%d/pause", id)
	visitor := tab.Fresh()
	visitor.Run(chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d", base, id)), chromedp.WaitVisible(`#password`))
	at, err := chromedp.Run(visitor.Ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, at, "/console/login?next=", "a page asks a visitor to log in")
	visitor.Expect(401, pause)
	require.Equal(t, "401", visitor.Promise(`fetch('`+pause+`', {method: 'POST', body: new URLSearchParams({csrf: 'x'})}).then(r => String(r.status))`))
	visitor.Fits("refused")
	tab.Expect(403, pause)
	require.Equal(t, "403", tab.Promise(`fetch('`+pause+`', {method: 'POST', body: new URLSearchParams()}).then(r => String(r.status))`))
	require.Equal(t, campaign.StatusRunning, status("nov-reminders"), "the refused POSTs paused nothing")

	// Its page follows it without a reload: the live part is swapped in place.
	require.Equal(t, 1, tab.Eval(`window.__marker = 1`))
	tab.Await(`document.querySelector('#live progress').value >= 1`)
	require.Equal(t, 1, tab.Eval(`window.__marker || 0`), "the live part was swapped in place, the page not reloaded")
	tab.Fits("campaign-running")

	tab.Load(chromedp.Click(`#pause`))
	require.Equal(t, campaign.StatusPaused, status("nov-reminders"))
	flash, err := chromedp.Run(tab.Ctx, chromedp.Text(`.flash`))
	require.NoError(t, err)
	require.Contains(t, flash, "paused")
	tab.Load(chromedp.Click(`#resume`))
	tab.Run(chromedp.WaitVisible(`#pause`))
	require.Equal(t, campaign.StatusRunning, status("nov-reminders"))

	// No rate limit any more: the campaign runs to its end.
	tab.Load(chromedp.SetValue(`#rate`, "0"), chromedp.Submit(`#rate`))
	var rate float64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT rate_per_second FROM campaign WHERE id = $1`, id).Scan(&rate))
	require.Zero(t, rate, "the rate set from the page")
	tab.Await(`document.querySelector('#status').textContent === 'completed'`)
	require.Len(t, sim.posts(), 12, "every contact accepted was called once")
	tab.Run(chromedp.Reload(), chromedp.WaitVisible(`svg[data-chart="funnel"]`))
	require.Positive(t, tab.Eval(`document.querySelectorAll('[data-mark]').length`), "the report's charts have bars")
	cards, err := chromedp.Run(tab.Ctx, chromedp.Text(`.cards`))
	require.NoError(t, err)
	require.Regexp(t, `Dialed\s+12\b`, cards, "the report's cards count every call, not those of a read while it ran")
	tab.Fits("campaign")

	// Its calls, searched, filtered, and a call that connected, its transcript read.
	tab.Load(chromedp.Click(`#calls`))
	require.Equal(t, 12, tab.Eval(`document.querySelectorAll('tr[data-attempt]').length`), "every call of the campaign")
	tab.Fits("calls")
	tab.Load(chromedp.SendKeys(`#q`, "+1 415 555 0107"), chromedp.Submit(`#q`))
	require.Equal(t, 1, tab.Eval(`document.querySelectorAll('tr[data-attempt]').length`), "the search keeps that number's call alone")
	require.Equal(t, 1, tab.Eval(`(document.querySelector('#q').value = '', 1)`), "the search cleared")
	tab.Load(chromedp.SetValue(`#outcome`, string(campaign.OutcomeCompleted)), chromedp.Submit(`#q`))
	connected := tab.Eval(`document.querySelectorAll('tr[data-attempt]').length`)
	require.Positive(t, connected, "some calls connected")
	require.Equal(t, connected, tab.Eval(`document.querySelectorAll('tr[data-attempt] .o-completed').length`), "the filter keeps them alone")
	tab.Load(chromedp.Click(`tr[data-attempt] a[href^="/console/calls/"]`))
	require.GreaterOrEqual(t, tab.Eval(`document.querySelectorAll('#transcript .turn.customer').length`), 1, "the customer's turns")
	require.GreaterOrEqual(t, tab.Eval(`document.querySelectorAll('#transcript .turn.assistant').length`), 1, "the assistant's turns")
	require.Positive(t, tab.Eval(`document.querySelectorAll('#events details').length`), "its webhook events")
	tab.Fits("call")

	// Its CSV, downloaded with the page's session as the Export CSV link does.
	tab.Run(chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d", base, id)))
	body := tab.Promise(`fetch(document.querySelector('a[href$="/export.csv"]').href).then(async r =>
		(r.status === 200 && r.headers.get('content-type').startsWith('text/csv') ? '' : 'not a CSV: ') + await r.text())`)
	require.Contains(t, strings.SplitN(body, "\n", 2)[0], "phone", "a CSV with its header: %.200s", body)
	for i := 1; i <= 12; i++ {
		require.Contains(t, body, fmt.Sprintf("+1415555%04d", 100+i), "contact %d exported", i)
	}

	// The other campaign cancelled, from its confirm page; nobody of it was called.
	tab.Run(chromedp.Navigate(base + "/console/"))
	tab.Fits("campaigns")
	tab.Load(chromedp.Click(fmt.Sprintf(`a[href="/console/campaigns/%d"]`, idOf("dec-renewals"))))
	tab.Load(chromedp.Click(`#cancel`))
	tab.Fits("cancel")
	tab.Load(chromedp.Click(`#confirm-cancel`))
	require.Equal(t, campaign.StatusCancelled, status("dec-renewals"))
	require.Len(t, sim.posts(), 12, "nobody of the cancelled campaign was called")
	tab.Fits("cancelled")
}
