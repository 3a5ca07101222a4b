package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// assistantSpanish is a third saved assistant of the test simulators: its first message uses
// {{account_ref}}, with no default, and it has a server URL of its own.
const assistantSpanish = "b2e0c6a2-7b1e-4c59-9d33-000000000003"

// targetSimulator serves a simulator whose every POST /call is checked against Vapi's OpenAPI
// document, with the default assistants and squad plus assistantSpanish, and counts the
// requests it gets by method and path.
type targetSimulator struct {
	sim *vapitest.Server
	url string

	mu    sync.Mutex
	reads map[string]int // "GET /assistant/{id}" → requests
}

func newTargetSimulator(t *testing.T) *targetSimulator {
	t.Helper()
	created := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	assts := append(vapitest.DefaultAssistants(), vapi.Assistant{
		ID: assistantSpanish, OrgID: vapitest.DefaultOrgID, Name: "Recordatorio",
		FirstMessage:     "Hola {{ first_name }}, le llamamos por la cuenta {{ account_ref }}.",
		FirstMessageMode: "assistant-speaks-first",
		Server:           &vapi.Server{URL: "https://own.example.com/vapi?token=secret"},
		CreatedAt:        created, UpdatedAt: created,
	})
	s := &targetSimulator{reads: map[string]int{}}
	s.sim = vapitest.New(vapitest.Config{TimeScale: 600, Seed: 11, OutcomeMix: vapitest.OutcomeMix{Completed: 1},
		Assistants: assts, Spec: vapispec.ForTest(t)})
	t.Cleanup(s.sim.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reads[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		s.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	s.url = api.URL
	return s
}

// requests returns how many requests of method and path the simulator got.
func (s *targetSimulator) requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[method+" "+path]
}

// TestRunDryRunRowTarget imports a file with an assistant_id column and no target of the
// campaign's own: a malformed cell and an empty one are rejected as bad_target with the reason
// in the rejects file, the column is no template variable, and each request body shown names
// its row's assistant or squad. run --like without FILE keeps the column.
func TestRunDryRunRowTarget(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "t.csv", "phone,first_name,assistant_id\n"+
		"+14155550101,Ada,"+vapitest.AssistantAppointment+"\n"+
		"+14155550102,Bob,asst_1\n"+
		"+14155550103,Cy,\n"+
		"+14155550104,Di,squad:"+vapitest.SquadReminders+"\n")
	rejects := filepath.Join(dir, "rejects.csv")
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json", "--name", "src",
		"--rejects", rejects, "--preview", "5"), "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	require.Equal(t, 2, r.Accepted)
	require.Equal(t, map[string]int{"bad_target": 2}, r.RejectedByReason)
	require.Equal(t, "assistant_id", r.Columns.Target)
	require.Equal(t, []string{"first_name"}, r.Variables)
	require.Len(t, r.Calls, 2)
	type shown struct {
		AssistantID    string          `json:"assistantId"`
		SquadID        string          `json:"squadId"`
		SquadOverrides json.RawMessage `json:"squadOverrides"`
	}
	var first, second shown
	require.NoError(t, json.Unmarshal(r.Calls[0], &first))
	require.NoError(t, json.Unmarshal(r.Calls[1], &second))
	require.Equal(t, shown{AssistantID: vapitest.AssistantAppointment}, shown{AssistantID: first.AssistantID, SquadID: first.SquadID})
	require.Equal(t, vapitest.SquadReminders, second.SquadID)
	require.Empty(t, second.AssistantID)
	require.NotEmpty(t, second.SquadOverrides, "a squad's row carries squadOverrides")

	rows := readCSV(t, rejects)
	require.Len(t, rows, 3)
	require.Equal(t, "bad_target", rows[1][4])
	require.Contains(t, rows[1][5], `"asst_1" is not an assistant id`)
	require.Equal(t, "bad_target", rows[2][4])
	require.Contains(t, rows[2][5], "empty, and the campaign has no assistant or squad of its own")

	// With a campaign target, an empty cell is that target's row.
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json", "--name", "own",
		"--rejects", filepath.Join(dir, "own.rejects.csv"), "--assistant-id", vapitest.AssistantCollections), "stderr: %s", b.stderr)
	r = decodeReport(t, b.stdout.Bytes())
	require.Equal(t, 3, r.Accepted)
	require.Equal(t, map[string]int{"bad_target": 1}, r.RejectedByReason)

	// run --like without FILE reads the source's contacts in its columns, the target too.
	require.Equal(t, exitOK, b.run(t, "run", "--like", "src", "--dry-run", "--format", "json", "--name", "copy",
		"--rejects", filepath.Join(dir, "copy.rejects.csv")), "stderr: %s", b.stderr)
	r = decodeReport(t, b.stdout.Bytes())
	require.Equal(t, "assistant_id", r.Columns.Target)
	require.Equal(t, 2, r.Accepted)
	require.NoError(t, json.Unmarshal(r.Calls[1], &second))
	require.Equal(t, vapitest.SquadReminders, second.SquadID)

	// A named column must exist.
	require.Equal(t, exitError, b.run(t, "run", file, "--dry-run", "--target-column", "agent", "--rejects", filepath.Join(dir, "x.csv")))
	require.Contains(t, b.stderr.String(), "target column")
}

// TestRunRowTargetsOnSimulator runs a campaign with no target of its own whose rows name a
// squad and two assistants, on a simulated Vapi that checks every POST /call against Vapi's
// OpenAPI document: the pre-flight reads each target once (the assistant that is also a squad
// member included), and each call goes to its row's target with its overrides where that target
// takes them.
func TestRunRowTargetsOnSimulator(t *testing.T) {
	t.Parallel()
	s := newTargetSimulator(t)
	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = s.sim.Config().APIKey
	dir := t.TempDir()
	file := writeFile(t, dir, "mixed.csv", "phone,first_name,amount_due,appointment_time,squad_id\n"+
		"+12015550100,Ann,10,noon,"+vapitest.SquadReminders+"\n"+
		"+12015550101,Bo,20,one,assistant:"+vapitest.AssistantAppointment+"\n"+
		"+12015550102,Cy,30,two,assistant:"+vapitest.AssistantCollections+"\n"+
		"+12015550103,Di,40,three,"+vapitest.SquadReminders+"\n")
	code := b.run(t, "run", file, "--name", "mixed", "--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1",
		"--phone-number-id", "pn-1", "--vapi-base-url", s.url)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

	require.Equal(t, 1, s.requests(http.MethodGet, "/squad/"+vapitest.SquadReminders))
	require.Equal(t, 1, s.requests(http.MethodGet, "/assistant/"+vapitest.AssistantCollections), "a squad member and a row's target: read once")
	require.Equal(t, 1, s.requests(http.MethodGet, "/assistant/"+vapitest.AssistantAppointment))

	type body struct {
		AssistantID        string          `json:"assistantId"`
		SquadID            string          `json:"squadId"`
		AssistantOverrides json.RawMessage `json:"assistantOverrides"`
		SquadOverrides     json.RawMessage `json:"squadOverrides"`
	}
	sent := map[string]body{}
	for _, r := range s.sim.CreateRequests() {
		require.Equal(t, 201, r.Status, "the schema-checking simulator took %s", r.Body)
		var got body
		require.NoError(t, json.Unmarshal(r.Body, &got))
		sent[r.Number] = got
	}
	require.Len(t, sent, 4)
	for number, want := range map[string][2]string{
		"+12015550100": {"", vapitest.SquadReminders}, "+12015550101": {vapitest.AssistantAppointment, ""},
		"+12015550102": {vapitest.AssistantCollections, ""}, "+12015550103": {"", vapitest.SquadReminders},
	} {
		got := sent[number]
		require.Equal(t, want[0], got.AssistantID, number)
		require.Equal(t, want[1], got.SquadID, number)
		require.Equal(t, want[1] != "", len(got.SquadOverrides) > 0, "%s: squadOverrides for a squad", number)
		require.Equal(t, want[0] != "", len(got.AssistantOverrides) > 0, "%s: assistantOverrides for an assistant", number)
	}

	require.Equal(t, exitOK, b.run(t, "status", "mixed", "--format", "json"), "stderr: %s", b.stderr)
	var st statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st))
	require.Equal(t, "squad_id", st.Settings.TargetColumn)
	require.Equal(t, exitOK, b.run(t, "status", "mixed"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), `target per row from column "squad_id", else assistant (none)`)
	require.Equal(t, exitOK, b.run(t, "report", "mixed", "--format", "json"), "stderr: %s", b.stderr)
	var rep struct {
		Campaign struct {
			TargetColumn string `json:"target_column"`
		} `json:"campaign"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &rep))
	require.Equal(t, "squad_id", rep.Campaign.TargetColumn)

	// The test call of a row goes to that row's target, with no --assistant-id either.
	b.env[envDatabaseURL] = noDatabaseURL
	placed := len(s.sim.CreateRequests())
	code = b.run(t, "call", "(415) 555-0199", "--from-file", file, "--row", "2", "--format", "json",
		"--phone-number-id", "pn-1", "--vapi-base-url", s.url)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	reqs := s.sim.CreateRequests()
	require.Len(t, reqs, placed+1)
	var test body
	require.NoError(t, json.Unmarshal(reqs[placed].Body, &test))
	require.Equal(t, vapitest.AssistantAppointment, test.AssistantID)
	require.Empty(t, test.SquadID)
}

// TestRunRowTargetsPreflight checks the pre-flight over several targets in dry runs that reach
// a simulated Vapi: a variable only the second target uses stops the run naming that target,
// and that target's own server URL keeps every call's server (results polled), said so.
func TestRunRowTargetsPreflight(t *testing.T) {
	t.Parallel()
	s := newTargetSimulator(t)
	b := setup(t)
	b.env[envAPIKey] = s.sim.Config().APIKey
	dir := t.TempDir()
	file := writeFile(t, dir, "two.csv", "phone,first_name,amount_due,due_date,assistant_id\n"+
		"+12015550100,Ann,10,May 1,\n"+
		"+12015550101,Bo,20,May 2,"+assistantSpanish+"\n"+
		"+12015550102,Cy,30,May 3,"+assistantSpanish+"\n")
	args := []string{"run", file, "--dry-run", "--format", "json", "--assistant-id", vapitest.AssistantCollections,
		"--vapi-base-url", s.url, "--public-url", "https://hooks.example.com"}
	code := b.run(t, append(args, "--name", "first")...)
	require.Equal(t, exitError, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "assistant "+assistantSpanish+" uses variables the CSV does not supply: account_ref")
	require.NotContains(t, b.stderr.String(), "assistant "+vapitest.AssistantCollections+" uses variables", "the first target is complete")
	require.Contains(t, b.stderr.String(), `Assistant "Recordatorio" (of assistant `+assistantSpanish+", one of the campaign's 2 targets) has its own server URL (https://own.example.com)")
	require.Contains(t, b.stderr.String(), "it is left in place for the calls of every target")
	require.NotContains(t, b.stderr.String(), "token=secret", "a server URL's query may hold a secret")
	require.Equal(t, 1, s.requests(http.MethodGet, "/assistant/"+assistantSpanish), "read once")

	require.Equal(t, exitOK, b.run(t, append(args, "--name", "second", "--allow-missing-variables")...), "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	require.Len(t, r.Calls, 3)
	for _, raw := range r.Calls {
		var call struct {
			AssistantOverrides struct {
				Server json.RawMessage `json:"server"`
			} `json:"assistantOverrides"`
		}
		require.NoError(t, json.Unmarshal(raw, &call))
		require.Empty(t, call.AssistantOverrides.Server, "every call keeps its assistant's server: %s", raw)
	}
}

// TestRunSimulateRowTargets is the demo with a mixed file: `run --simulate` places each row's
// call with its own assistant or squad on the built-in simulator, and every contact is called.
func TestRunSimulateRowTargets(t *testing.T) {
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	file := writeFile(t, dir, "mixed.csv", "phone,first_name,assistant_id\n"+
		"+12015550100,Ann,squad:"+vapitest.SquadReminders+"\n"+
		"+12015550101,Bo,"+vapitest.AssistantAppointment+"\n"+
		"+12015550102,Cy,\n")
	out := filepath.Join(dir, "results.csv")
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "-o", out, "--rate", "0")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "3 of 3 contacts final")
	rows := readCSV(t, out)
	require.Len(t, rows, 1+3)
	callID := slices.Index(rows[0], export.ColVapiCallID)
	for _, r := range rows[1:] {
		require.NotEmpty(t, r[callID], "the simulator took every row's target: %v", r)
	}
}

// TestRunTargetColumnFlags checks that a file with a target column needs no campaign target,
// and that --target-column names one.
func TestRunTargetColumnFlags(t *testing.T) {
	b := setupFlags(t)
	dir := t.TempDir()
	withColumn := writeFile(t, dir, "with.csv", "phone,squad_id\n+14155550100,"+vapitest.SquadReminders+"\n")
	named := writeFile(t, dir, "named.csv", "phone,agent\n+14155550100,"+vapitest.SquadReminders+"\n")
	b.env[envAPIKey] = "key"
	requireUsage(t, b, newRunCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "run", withColumn)
	requireUsage(t, b, newRunCmd, "--assistant-id (or VAPI_ASSISTANT_ID), --squad-id, --workflow-id or --assistant FILE is required", "run", named)
	requireUsage(t, b, newRunCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "run", named, "--target-column", "agent")
	b.env["VAPI_PHONE_NUMBER_ID"] = "p"
	got, code := parse(t, b, newRunCmd, "run", named, "--target-column", "agent")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "agent", got.TargetColumn)
	require.Empty(t, got.AssistantID)
}
