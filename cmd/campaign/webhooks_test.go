package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// crmServer stands for the user's own server: the one their assistant's tools and end-of-call
// hook use. It records the types of the server messages it gets.
type crmServer struct {
	mu    sync.Mutex
	types map[vapi.ServerMessageType]int
	srv   *httptest.Server
}

func newCRMServer(t *testing.T) *crmServer {
	c := &crmServer{types: map[vapi.ServerMessageType]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message struct {
				Type vapi.ServerMessageType `json:"type"`
			} `json:"message"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &body) == nil {
			c.mu.Lock()
			c.types[body.Message.Type]++
			c.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crmServer) got(typ vapi.ServerMessageType) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types[typ]
}

// assistantWithServer is the simulator's payment reminder with a server URL of its own, its own
// serverMessages, and a function tool served there.
func assistantWithServer(url string) vapi.Assistant {
	a := vapitest.DefaultAssistants()[0]
	a.Server = &vapi.Server{URL: url}
	a.ServerMessages = []vapi.ServerMessageType{vapi.ServerMessageTypeEndOfCallReport, vapi.ServerMessageTypeToolCalls, "hang"}
	a.Model.Tools = []vapi.Tool{{Type: "function", Function: &vapi.ToolFunction{Name: "lookup_balance"}}}
	return a
}

// TestRunLeavesTheAssistantsServer runs a real (not --simulate) campaign with --public-url on a
// simulated Vapi whose assistant has its own server URL: the calls leave it in place, so the
// assistant's server keeps getting its tool calls and end-of-call reports, and every result
// still arrives, read by the reconciler.
func TestRunLeavesTheAssistantsServer(t *testing.T) {
	t.Parallel()
	crm := newCRMServer(t)
	asst := assistantWithServer(crm.srv.URL)
	sim := vapitest.New(vapitest.Config{TimeScale: 600, Assistants: []vapi.Assistant{asst}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)

	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = sim.Config().APIKey
	file := writeFile(t, t.TempDir(), "keep.csv", "phone,first_name\n+12015550100,Ann\n+12015550101,Bo\n+12015550102,Cy\n+12015550110,Di\n")
	code := b.run(t, "run", file, "--name", "keep", "--assistant-id", asst.ID, "--phone-number-id", "pn-1",
		"--vapi-base-url", api.URL, "--public-url", "http://127.0.0.1:1", "--webhook-listen", "127.0.0.1:0",
		"--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	out := b.stderr.String()
	require.Contains(t, out, "4 of 4 contacts final")
	require.Contains(t, out, "has its own server URL")

	for _, r := range sim.CreateRequests() {
		var body struct {
			AssistantOverrides map[string]json.RawMessage `json:"assistantOverrides"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.NotContains(t, body.AssistantOverrides, "server", "the assistant's server is left in place")
		require.NotContains(t, body.AssistantOverrides, "serverMessages", "and so are its serverMessages")
	}
	require.Equal(t, 4, crm.got(vapi.ServerMessageTypeEndOfCallReport), "the assistant's server got every report")
	require.Equal(t, 3, crm.got(vapi.ServerMessageTypeToolCalls), "and the tool calls of the 3 answered calls")
	require.Zero(t, crm.got(vapi.ServerMessageTypeStatusUpdate), "and only the messages its own list asks for")
	for _, d := range sim.Deliveries() {
		require.Equal(t, crm.srv.URL, d.URL, "nothing went to the campaign's --public-url")
	}

	var reported, events int
	ctx := context.Background()
	require.NoError(t, b.pool(t).QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE a.ended_reason <> '' AND a.cost IS NOT NULL),
			(SELECT count(*) FROM webhook_event)
		FROM attempt a JOIN campaign c ON c.id = a.campaign_id WHERE c.name = 'keep'`).Scan(&reported, &events))
	require.Equal(t, 4, reported, "every result arrived, read from Vapi by the reconciler")
	require.Zero(t, events)
}

// TestRunWebhooksOverride runs a real campaign with --webhooks override on a simulated Vapi whose
// assistant has its own server URL: the calls carry the runner's server, given as the full
// webhook URL (not doubled), ask for the assistant's serverMessages plus the two the runner
// needs, and the run says what it replaces and that a loopback --public-url is unreachable.
func TestRunWebhooksOverride(t *testing.T) {
	crm := newCRMServer(t)
	asst := assistantWithServer(crm.srv.URL)
	sim := vapitest.New(vapitest.Config{TimeScale: 600, Assistants: []vapi.Assistant{asst}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := ln.Addr().String()
	require.NoError(t, ln.Close()) // the run listens there

	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = sim.Config().APIKey
	file := writeFile(t, t.TempDir(), "override.csv", "phone,first_name\n+12015550100,Ann\n+12015550110,Di\n")
	webhookURL := "http://" + listen + "/vapi/webhook"
	code := b.run(t, "run", file, "--name", "override", "--assistant-id", asst.ID, "--phone-number-id", "pn-1",
		"--vapi-base-url", api.URL, "--public-url", webhookURL, "--webhook-listen", listen, "--webhooks", "override",
		"--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	out := b.stderr.String()
	require.Contains(t, out, "2 of 2 contacts final")
	require.Contains(t, out, `--webhooks override: the calls send their server messages to --public-url instead of the server URL of assistant "Payment reminder"`)
	require.Contains(t, out, "Warning: --public-url http://"+listen+" is a loopback or private address that Vapi cannot reach")

	for _, r := range sim.CreateRequests() {
		var body struct {
			AssistantOverrides vapi.AssistantOverrides `json:"assistantOverrides"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.Equal(t, webhookURL, body.AssistantOverrides.Server.URL, "a full webhook URL is not doubled")
		require.Equal(t, []vapi.ServerMessageType{"end-of-call-report", "tool-calls", "hang", "status-update"},
			body.AssistantOverrides.ServerMessages, "the assistant's own list, plus what the runner needs")
	}
	reports := 0
	for _, d := range sim.Deliveries() {
		require.Equal(t, webhookURL, d.URL)
		require.True(t, d.OK(), "%+v", d)
		if d.Type == vapi.ServerMessageTypeEndOfCallReport {
			reports++
		}
	}
	require.Equal(t, 2, reports, "the runner received every report")
	require.Zero(t, crm.got(vapi.ServerMessageTypeEndOfCallReport), "as asked, the assistant's server no longer gets them")
}

func TestUnreachableURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://127.9.9.9": true, "http://localhost:8080/vapi/webhook": true,
		"http://[::1]:8080": true, "http://10.0.0.5": true, "http://192.168.1.20": true, "http://0.0.0.0:8080": true,
		"https://hooks.example.com": false, "https://203.0.113.7": false, "": false,
	} {
		require.Equal(t, want, unreachableURL(raw), raw)
	}
}

// TestDryRunWebhookRouting checks that a dry run that can reach Vapi shows the bodies the run
// would send: without a server when the phone number has a server URL of its own, with the
// runner's when asked to override it.
func TestDryRunWebhookRouting(t *testing.T) {
	sim := vapitest.New(vapitest.Config{PhoneNumbers: []vapi.PhoneNumber{{ID: "pn-crm", Name: "CRM line",
		Server: &vapi.Server{URL: "https://crm.example.com/vapi?token=s3cret"}}}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	file := writeFile(t, t.TempDir(), "dry.csv", "phone,first_name\n+12015550100,Ann\n")
	b := setup(t)
	b.env[envAPIKey] = sim.Config().APIKey
	args := func(name, webhooks string) []string {
		return []string{"run", file, "--dry-run", "--format", "json", "--name", name, "--assistant-id", vapitest.AssistantCollections,
			"--phone-number-id", "pn-crm", "--vapi-base-url", api.URL, "--public-url", "https://hooks.example.com", "--webhooks", webhooks}
	}
	server := func() json.RawMessage {
		var report struct {
			Calls []struct {
				AssistantOverrides map[string]json.RawMessage `json:"assistantOverrides"`
			} `json:"calls"`
		}
		require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &report), b.stdout.String())
		require.Len(t, report.Calls, 1)
		return report.Calls[0].AssistantOverrides["server"]
	}

	require.Equal(t, exitOK, b.run(t, args("auto", "auto")...), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Phone number CRM line has its own server URL (https://crm.example.com): it is left in place")
	require.NotContains(t, b.stderr.String(), "s3cret", "a server URL's path and query are not shown")
	require.Nil(t, server())

	require.Equal(t, exitOK, b.run(t, args("override", "override")...), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "instead of the server URL of phone number CRM line")
	var srv vapi.Server
	require.NoError(t, json.Unmarshal(server(), &srv))
	require.Equal(t, "https://hooks.example.com/vapi/webhook", srv.URL)

	require.Equal(t, exitOK, b.run(t, args("poll", "poll")...), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "--webhooks poll")
	require.Nil(t, server())
	// An unknown --webhooks mode: TestRunFlags.
}
