package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
)

// TestNotifyURLStoredSetAndCopied checks that run stores --notify-url and --notify-spike with the
// campaign, that run --like copies them unless given, that set changes and clears them, showing
// the URL masked (a Slack webhook URL's path is its token), and that status shows it masked.
func TestNotifyURLStoredSetAndCopied(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	const secretURL = "https://hooks.slack.com/services/T000/B000/sEcReTtOkEn"
	stored := func(name string) (string, string) {
		var u, spike string
		require.NoError(t, b.pool(t).QueryRow(context.Background(),
			`SELECT notify_url, notify_spike FROM campaign WHERE name = $1`, name).Scan(&u, &spike))
		return u, spike
	}
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--notify-url", secretURL,
		"--notify-spike", "30% /10"), "stderr: %s", b.stderr)
	u, spike := stored("nov")
	require.Equal(t, secretURL, u)
	require.Equal(t, "30%/10", spike)

	require.Equal(t, exitOK, b.run(t, "run", "--like", "nov", file, "--dry-run", "--name", "dec"), "stderr: %s", b.stderr)
	u, spike = stored("dec")
	require.Equal(t, secretURL, u, "--like copies the URL")
	require.Equal(t, "30%/10", spike, "--like copies the rule")

	b.env[envNotifyURL] = "https://ops.example.com/notify"
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "jan"), "stderr: %s", b.stderr)
	u, spike = stored("jan")
	require.Equal(t, "https://ops.example.com/notify", u, "from the environment")
	require.Equal(t, campaign.DefaultNotifySpike, spike)
	delete(b.env, envNotifyURL)

	require.Equal(t, exitOK, b.run(t, "status", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "notifications:  to https://hooks.slack.com/…, failure spikes at 30%/10; none sent yet")
	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	var r statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Equal(t, "https://hooks.slack.com/…", r.Settings.NotifyURL)
	require.Nil(t, r.Notifications)

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--notify-url", "", "--notify-spike", "off"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), `  notify URL: "https://hooks.slack.com/…" → ""`)
	require.Contains(t, b.stderr.String(), `  failure-spike rule: 30%/10 → off`)
	u, spike = stored("nov")
	require.Empty(t, u)
	require.Equal(t, "off", spike)
	require.NotContains(t, b.stdout.String()+b.stderr.String(), "sEcReTtOkEn")
}

// cliNotifySecret is the CAMPAIGN_NOTIFY_SECRET of the CLI's notification tests.
const cliNotifySecret = "cli-notify-secret"

// TestRunSimulateNotifiesCompletion runs the README's demo with --notify-url pointing at a real
// server on loopback: the run delivers the campaign's completion before it exits, once, signed
// with CAMPAIGN_NOTIFY_SECRET; nothing printed shows the URL's token; status then counts
// it delivered.
func TestRunSimulateNotifiesCompletion(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  []*http.Request
		body [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got, body = append(got, r), append(body, raw)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	notifyURL := srv.URL + "/services/T000/B000/sEcReTtOkEn"

	b := setup(t)
	b.realClock = true
	b.env[envNotifySecret] = cliNotifySecret
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0", "--name", "notified",
		"--notify-url", notifyURL)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.NotContains(t, b.stdout.String()+b.stderr.String(), "sEcReTtOkEn")

	mu.Lock()
	require.Len(t, got, 1, "one notification, delivered before the run exited")
	r, raw := got[0], body[0]
	mu.Unlock()
	require.Equal(t, string(campaign.KindCompleted), r.Header.Get(jobs.EventHeader))
	require.NoError(t, jobs.VerifySignature(cliNotifySecret, r.Header.Get(jobs.SignatureHeader), raw, time.Now(), time.Minute))
	var n campaign.NotificationBody
	require.NoError(t, json.Unmarshal(raw, &n))
	require.Equal(t, campaign.KindCompleted, n.Event)
	require.Equal(t, r.Header.Get(jobs.NotificationIDHeader), n.ID)
	require.Equal(t, "notified", n.Campaign.Name)
	require.Equal(t, campaign.StatusCompleted, n.Campaign.Status)
	require.Equal(t, 9, n.Campaign.Contacts)
	require.Contains(t, n.Text, "Campaign notified completed. 9 contacts:")

	require.Equal(t, exitOK, b.run(t, "status", "notified", "--format", "json"), "stderr: %s", b.stderr)
	var s statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &s))
	require.NotNil(t, s.Notifications)
	require.Equal(t, statusNotifications{Delivered: 1}, *s.Notifications)
	require.NotContains(t, b.stdout.String(), "sEcReTtOkEn")
}
