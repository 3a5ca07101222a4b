package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/browsertest"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestConsoleCreateBrowser creates a campaign in headless Chromium on a serve process's
// console, against the simulator: log in, open the form, send a bad setting (the form comes
// back with the message), upload a CSV, read the dry run, start, and watch the campaign page
// follow the campaign to its end; no page logs a console error, fails a request or overflows
// 390 or 1280 px. With CONSOLE_SCREENSHOTS set it saves the pages as PNGs there.
func TestConsoleCreateBrowser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: 8, TimeScale: 120})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	p := startServeInProcess(t, b, sim, map[string]string{envConsoleOperator: "ops:operator-password",
		envPublicURL: "http://" + addr, "XDG_STATE_HOME": t.TempDir()}, addr)
	base := "http://" + p.addr
	csv := writeFile(t, t.TempDir(), "nov-reminders.csv", "phone,first_name,amount_due,due_date\n"+
		"+1 415 555 0101,Ann,$120.00,Dec 1\n+1 415 555 0102,Bob,$80.50,Dec 3\n+1 212 555 0103,Cy,$42.00,Dec 5\n"+
		"+44 20 7946 0104,Dee,£30.00,Dec 6\n555-0105,Eve,$12.00,Dec 7\n+1 415 555 0102,Bob again,$80.50,Dec 3\n")
	csv, err = filepath.Abs(csv)
	require.NoError(t, err)

	tab := browsertest.New(t, base)
	tab.Run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#user`, "ops"), chromedp.SendKeys(`#password`, "operator-password"), chromedp.Submit(`#password`),
		chromedp.WaitVisible(`#new-campaign`), chromedp.Click(`#new-campaign`), chromedp.WaitVisible(`#csv`))
	tab.Fits("new")

	fill := func(rate string) {
		tab.Run(chromedp.SetUploadFiles(`#csv`, []string{csv}), chromedp.SetValue(`#name`, "nov-reminders"),
			chromedp.SetValue(`#assistant_id`, vapitest.AssistantCollections), chromedp.SetValue(`#phone_number_ids`, "pn-main"),
			chromedp.SetValue(`#window`, "always"), chromedp.SetValue(`#rate`, rate), chromedp.SetValue(`#retry`, "none"),
			chromedp.SetValue(`#max_attempts`, "1"), chromedp.SetValue(`#max_cost`, "25"))
	}
	fill("fast")
	tab.Run(chromedp.Click(`#dry-run`), chromedp.WaitVisible(`#form-error`))
	msg, err := chromedp.Run(tab.Ctx, chromedp.Text(`#form-error`))
	require.NoError(t, err)
	require.Contains(t, msg, `--rate: "fast" is not a number`)
	require.Equal(t, 1, tab.Eval(`document.querySelector('#name').value === 'nov-reminders' ? 1 : 0`), "the values typed stay")
	tab.Fits("new-error")

	fill("0")
	tab.Run(chromedp.Click(`#dry-run`), chromedp.WaitVisible(`#start`))
	rejects, err := chromedp.Run(tab.Ctx, chromedp.Text(`#rejects`))
	require.NoError(t, err)
	require.Contains(t, rejects, "duplicate_phone")
	require.Positive(t, tab.Eval(`document.querySelectorAll('pre.body').length`), "the request bodies are shown")
	tab.Fits("dryrun")

	tab.Run(chromedp.Click(`#start`), chromedp.WaitVisible(`.flash`))
	_, err = chromedp.Run(tab.Ctx, chromedp.Poll[bool](`document.querySelector('#status') && document.querySelector('#status').textContent === 'completed'`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	require.NoError(t, err, "the campaign page follows the campaign to its end")
	require.Len(t, sim.posts(), 4, "every contact accepted was called")
	tab.Fits("created")
}
