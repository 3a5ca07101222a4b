package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// Saved phone numbers of the row-number tests: two plain ones and one with a server URL of its
// own.
const (
	rowNumberPool = "c3d0e6a2-7b1e-4c59-9d33-000000000001"
	rowNumberEast = "c3d0e6a2-7b1e-4c59-9d33-000000000002"
	rowNumberCRM  = "c3d0e6a2-7b1e-4c59-9d33-000000000003"
)

// numberSimulator serves a simulator that checks every request against Vapi's OpenAPI document,
// with three saved numbers, and counts the requests by method and path.
type numberSimulator struct {
	sim *vapitest.Server
	url string

	mu    sync.Mutex
	reads map[string]int
}

func newNumberSimulator(t *testing.T) *numberSimulator {
	t.Helper()
	s := &numberSimulator{reads: map[string]int{}}
	s.sim = vapitest.New(vapitest.Config{TimeScale: 600, Seed: 5, OutcomeMix: vapitest.OutcomeMix{Completed: 1}, Spec: vapispec.ForTest(t),
		PhoneNumbers: []vapi.PhoneNumber{
			{ID: rowNumberPool, Number: "+12015550000"},
			{ID: rowNumberEast, Number: "+12125550000"},
			{ID: rowNumberCRM, Name: "CRM line", Number: "+14155550000", Server: &vapi.Server{URL: "https://crm.example.com/vapi"}},
		}})
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

func (s *numberSimulator) requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[method+" "+path]
}

// TestRunRowPhoneNumbersOnSimulator: rows that name their number call from it (the simulator
// sees the split), the row without one from the pool, within the per-number limit; every
// request validates against Vapi's spec. The pre-flight reads each distinct number once, though
// both the webhook routing (a row's number has its own server URL, so every call keeps its
// server) and the numbers' E.164 need it; status, exports and the report show the numbers.
func TestRunRowPhoneNumbersOnSimulator(t *testing.T) {
	t.Parallel()
	s := newNumberSimulator(t)
	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = s.sim.Config().APIKey
	file := writeFile(t, t.TempDir(), "own.csv", "phone,first_name,amount_due,due_date,Phone Number ID\n"+
		"+12015550100,Ann,10,May 1,"+rowNumberEast+"\n"+
		"+12015550101,Bo,20,May 2,"+strings.ToUpper(rowNumberEast)+"\n"+
		"+12015550102,Cy,30,May 3,\n"+
		"+12015550103,Di,40,May 4,"+rowNumberCRM+"\n"+
		"+12015550104,Ed,50,May 5,"+rowNumberEast+"\n"+
		"+12015550105,Flo,60,May 6,pn-bad\n")
	code := b.run(t, "run", file, "--name", "own", "--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1",
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", rowNumberPool, "--per-number-max-concurrent", "2",
		"--vapi-base-url", s.url, "--public-url", "https://hooks.example.com", "--webhook-listen", "127.0.0.1:0")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "5 of 5 contacts final")
	require.Contains(t, b.stderr.String(), `Rows fixed to their own number: 2 distinct numbers from column "Phone Number ID".`)
	require.Contains(t, b.stderr.String(), "Phone number CRM line has its own server URL (https://crm.example.com): it is left in place")
	for _, id := range []string{rowNumberEast, rowNumberCRM} {
		require.Equal(t, 1, s.requests(http.MethodGet, "/phone-number/"+id), "%s read once", id)
	}

	for _, r := range s.sim.CreateRequests() {
		require.Equal(t, 201, r.Status, "the schema-checking simulator took %s", r.Body)
	}
	calls := map[string]int{}
	for id, p := range s.sim.PhoneNumbers() {
		calls[id] = p.Calls
		require.LessOrEqual(t, p.MaxLive, 2, "%s within its per-number limit", id)
	}
	require.Equal(t, map[string]int{rowNumberEast: 3, rowNumberCRM: 1, rowNumberPool: 1}, calls)

	require.Equal(t, exitOK, b.run(t, "status", "own"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), `number per row from column "Phone Number ID", else `+rowNumberPool)
	rejects, err := os.ReadFile(strings.TrimSuffix(file, ".csv") + ".rejects.csv")
	require.NoError(t, err)
	require.Contains(t, string(rejects), `bad_phone_number_id,"column ""Phone Number ID"" (column 5): ""pn-bad"" is not a phone number id`)
	require.Equal(t, exitOK, b.run(t, "status", "own", "--format", "json"), "stderr: %s", b.stderr)
	var st statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st))
	require.Equal(t, "Phone Number ID", st.Settings.PhoneNumberColumn)

	require.Equal(t, exitOK, b.run(t, "export", "own"), "stderr: %s", b.stderr)
	rows := readCSVBytes(t, b.stdout.Bytes())
	phone, id, e164 := slices.Index(rows[0], "phone"), slices.Index(rows[0], export.ColCallerNumberID), slices.Index(rows[0], export.ColCallerNumber)
	require.GreaterOrEqual(t, id, 0, "%v", rows[0])
	got := map[string][2]string{}
	for _, r := range rows[1:] {
		got[r[phone]] = [2]string{r[id], r[e164]}
	}
	require.Equal(t, map[string][2]string{
		"+12015550100": {rowNumberEast, "+12125550000"}, "+12015550101": {rowNumberEast, "+12125550000"},
		"+12015550102": {rowNumberPool, ""}, "+12015550103": {rowNumberCRM, "+14155550000"}, "+12015550104": {rowNumberEast, "+12125550000"},
	}, got, "the pool's one number is not read: its E.164 is unknown")

	require.Equal(t, exitOK, b.run(t, "report", "own", "--format", "json"), "stderr: %s", b.stderr)
	var r reports.Report
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "%s", b.stdout)
	byID := map[string]int{}
	for _, n := range r.CallerNumbers {
		byID[n.PhoneNumberID] = n.Calls
	}
	require.Equal(t, map[string]int{rowNumberEast: 3, rowNumberCRM: 1, rowNumberPool: 1}, byID)

	// --like keeps the column: the copy's rows call from their own numbers again.
	require.Equal(t, exitOK, b.run(t, "run", "--like", "own", "--name", "again", "--dry-run", "--format", "json",
		"--rejects", filepath.Join(t.TempDir(), "again.rejects.csv"), "--vapi-base-url", s.url), "stderr: %s", b.stderr)
	rep := decodeReport(t, b.stdout.Bytes())
	require.Equal(t, "Phone Number ID", rep.Columns.PhoneNumberID)
	require.NotContains(t, rep.Variables, "Phone Number ID", "the column is no template variable")
	var first struct {
		PhoneNumberID string `json:"phoneNumberId"`
	}
	require.NotEmpty(t, rep.Calls)
	require.NoError(t, json.Unmarshal(rep.Calls[0], &first))
	require.Equal(t, rowNumberEast, first.PhoneNumberID, "the dry run shows the row's number")

	// The test call of a row comes from that row's number, with no --phone-number-id.
	b.env[envDatabaseURL] = noDatabaseURL
	placed := len(s.sim.CreateRequests())
	code = b.run(t, "call", "(415) 555-0199", "--from-file", file, "--row", "4", "--format", "json",
		"--assistant-id", vapitest.AssistantCollections, "--vapi-base-url", s.url)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	reqs := s.sim.CreateRequests()
	require.Len(t, reqs, placed+1)
	var test struct {
		PhoneNumberID string `json:"phoneNumberId"`
	}
	require.NoError(t, json.Unmarshal(reqs[placed].Body, &test))
	require.Equal(t, rowNumberCRM, test.PhoneNumberID)
}

// TestRunOnlyRowPhoneNumbers: a campaign without a number of its own calls every row from its
// row's number; a row with an empty cell is rejected (bad_phone_number_id), as is a malformed
// one.
func TestRunOnlyRowPhoneNumbers(t *testing.T) {
	t.Parallel()
	s := newNumberSimulator(t)
	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = s.sim.Config().APIKey
	file := writeFile(t, t.TempDir(), "only.csv", "phone,first_name,amount_due,due_date,caller\n"+
		"+12015550100,Ann,10,May 1,"+rowNumberEast+"\n"+
		"+12015550101,Bo,20,May 2,\n"+
		"+12015550102,Cy,30,May 3,"+rowNumberPool+"\n")
	code := b.run(t, "run", file, "--name", "only", "--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1",
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-column", "caller", "--vapi-base-url", s.url)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "2 of 2 contacts final")
	calls := map[string]int{}
	for id, p := range s.sim.PhoneNumbers() {
		calls[id] = p.Calls
	}
	require.Equal(t, map[string]int{rowNumberEast: 1, rowNumberPool: 1}, calls)
	require.Equal(t, exitOK, b.run(t, "status", "only"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), `number per row from column "caller"`+"\n")
	rejects, err := os.ReadFile(strings.TrimSuffix(file, ".csv") + ".rejects.csv")
	require.NoError(t, err)
	require.Contains(t, string(rejects), "bad_phone_number_id")
	require.Contains(t, string(rejects), "empty, and the campaign has no phone number of its own")
}

// TestRunPhoneNumberColumnFlags: a file with a caller number column needs no --phone-number-id,
// for run and call; --phone-number-column names one.
func TestRunPhoneNumberColumnFlags(t *testing.T) {
	b := setupFlags(t)
	dir := t.TempDir()
	withColumn := writeFile(t, dir, "with.csv", "phone,phone_number_id\n+14155550100,"+rowNumberEast+"\n")
	named := writeFile(t, dir, "named.csv", "phone,caller\n+14155550100,"+rowNumberEast+"\n")
	b.env[envAPIKey] = "key"
	b.env["VAPI_ASSISTANT_ID"] = "a"
	requireUsage(t, b, newRunCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "run", named)
	got, code := parse(t, b, newRunCmd, "run", withColumn)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Empty(t, got.PhoneNumberID)
	got, code = parse(t, b, newRunCmd, "run", named, "--phone-number-column", "caller")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "caller", got.PhoneNumberColumn)

	requireUsage(t, b, newTestCallCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "call", "+14155550199", "--from-file", named)
	call, code := parse(t, b, newTestCallCmd, "call", "+14155550199", "--from-file", named, "--phone-number-column", "caller")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "caller", call.PhoneNumberColumn)
}
