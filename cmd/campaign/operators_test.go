package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
	"github.com/campaign-run/campaign/webhook"
)

// envOpsSeed, when set, replays TestOperatorActionsWithThreeRunners with that seed.
const envOpsSeed = "CAMPAIGN_OPS_TEST_SEED"

// opsPerAction is how many times the test issues each operator action.
const opsPerAction = 20

// opsCampaign is the campaign's name in TestOperatorActionsWithThreeRunners.
const opsCampaign = "ops-test"

// operatorAction is one command an operator issues while runners work the campaign.
type operatorAction string

const (
	actPause    operatorAction = "pause"
	actCancel   operatorAction = "cancel"
	actSet      operatorAction = "set"
	actResume   operatorAction = "resume"
	actSuppress operatorAction = "suppress"
)

// opsModel is the campaign status the test expects: only its own commands change it, and the
// campaign has more contacts than the runners can call while the commands are issued.
type opsModel struct {
	status campaign.Status
}

// valid reports whether act applies to the campaign in the model's status without a refusal
// for status (pause needs a running campaign, cancel one not yet cancelled).
func (m opsModel) valid(act operatorAction) bool {
	switch act {
	case actPause:
		return m.status == campaign.StatusRunning
	case actCancel:
		return m.status != campaign.StatusCancelled
	}
	return true
}

func (m *opsModel) apply(act operatorAction) {
	switch act {
	case actPause:
		m.status = campaign.StatusPaused
	case actCancel:
		m.status = campaign.StatusCancelled
	case actResume:
		m.status = campaign.StatusRunning
	}
}

// opsSequence draws the order of the operator actions from rng: n of each, each step a uniform
// pick among the actions left that apply in the current status, and an extra resume when none
// does (only pauses and cancels left while paused or cancelled). So every command is one that
// must succeed, and cancels come both while the campaign runs and while it is paused.
func opsSequence(rng *rand.Rand, n int) []operatorAction {
	left := map[operatorAction]int{actPause: n, actCancel: n, actSet: n, actResume: n, actSuppress: n}
	order := []operatorAction{actPause, actCancel, actSet, actResume, actSuppress}
	m := opsModel{status: campaign.StatusRunning}
	var seq []operatorAction
	for {
		var candidates []operatorAction
		total := 0
		for _, act := range order {
			total += left[act]
			if left[act] > 0 && m.valid(act) {
				candidates = append(candidates, act)
			}
		}
		if total == 0 {
			return seq
		}
		act := actResume
		if len(candidates) > 0 {
			act = candidates[rng.IntN(len(candidates))]
			left[act]--
		}
		m.apply(act)
		seq = append(seq, act)
	}
}

// TestOperatorActionsWithThreeRunners runs one campaign with three runner processes of the real
// binary (a `run` and two `resume`s on a shared database) and, while they dial, issues pause,
// cancel, set, resume and suppress add 20 times each, in an order and at moments drawn from a
// seed (logged; CAMPAIGN_OPS_TEST_SEED replays it). Every command must succeed, no process may
// meet a Postgres error (a deadlock above all: guarantee 8), no River job may be discarded, and
// at the end the guarantees hold: no attempt key and no number dialed twice, never more live
// calls than the cap, every call's result recorded.
//
// The runners call a simulator in this test process, so that one record holds every call, and
// post their webhooks to a receiver in this test process, which outlives the runners: a runner
// ends when the campaign has nothing left to call (after a cancel), and a later resume starts
// one again. A resume while three runners are alive is `resume --detach`, which only sets the
// campaign running (the runners serve their campaign whatever its mode).
func TestOperatorActionsWithThreeRunners(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	if s := os.Getenv(envOpsSeed); s != "" {
		var err error
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "%s", envOpsSeed)
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envOpsSeed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6f7073))

	const (
		contacts = 3000
		maxCap   = 20 // the highest --max-concurrent the test sets
	)
	b := setupOps(t, seed)
	ctx := context.Background()
	hookURL := opsReceiver(t, b.pool)
	csvPath := writeFile(t, b.dir, "ops.csv", killContacts(contacts))

	common := []string{"--vapi-base-url", b.simURL, "--public-url", hookURL, "--webhook-listen", "127.0.0.1:0"}
	runArgs := append([]string{"run", csvPath, "--name", opsCampaign,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-ops",
		"--window", "always", "--rate", "50", "--max-concurrent", strconv.Itoa(maxCap),
		"--retry", "none", "--max-attempts", "1"}, common...)
	resumeArgs := append([]string{"resume", opsCampaign}, common...)

	var runners []*killProc
	alive := func() int {
		n := 0
		for _, p := range runners {
			if !p.exited() {
				n++
			}
		}
		return n
	}
	// startRunner starts a runner and waits until its start has taken effect: the import and
	// the status change for run, the resume for resume.
	startRunner := func(args []string, started string) {
		p := b.start(t, fmt.Sprintf("runner-%d", len(runners)+1), args...)
		runners = append(runners, p)
		require.True(t, b.waitFor(t, p, started, time.Minute), "%s ended before it started:\n%s", p.name, p.stderr.String())
	}
	startRunner(runArgs, dispatching)
	startRunner(resumeArgs, "Resuming campaign")
	startRunner(resumeArgs, "Resuming campaign")

	var outputs []string // every command's output, for the deadlock check
	command := func(args ...string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, b.bin, args...)
		cmd.Dir = b.dir
		cmd.Env = opsEnv(b)
		out, err := cmd.CombinedOutput()
		outputs = append(outputs, string(out))
		require.NoError(t, err, "campaign %s: %s\n%s", strings.Join(args, " "), out, b.snapshot(t))
	}
	attempts := func() int {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM attempt`).Scan(&n))
		return n
	}

	seq := opsSequence(rng, opsPerAction)
	model := opsModel{status: campaign.StatusRunning}
	suppressed := map[int]bool{}
	issued := map[operatorAction]int{}
	for i, act := range seq {
		// A random moment: at once, or once the runners have started a few more calls.
		if rng.IntN(3) == 0 && model.status == campaign.StatusRunning && alive() > 0 {
			want := attempts() + 1 + rng.IntN(2)
			deadline := time.Now().Add(10 * time.Second)
			tick := time.NewTicker(5 * time.Millisecond)
			for attempts() < want && alive() > 0 && time.Now().Before(deadline) {
				<-tick.C
			}
			tick.Stop()
		}
		require.True(t, model.valid(act), "step %d: %s does not apply to a %s campaign", i, act, model.status)
		switch act {
		case actPause, actCancel:
			command(string(act), opsCampaign)
		case actSet:
			switch rng.IntN(4) {
			case 0:
				command("set", opsCampaign, "--rate", strconv.Itoa(20+rng.IntN(60)))
			case 1:
				command("set", opsCampaign, "--max-concurrent", strconv.Itoa(maxCap/2+rng.IntN(maxCap/2+1)))
			case 2:
				command("set", opsCampaign, "--window", "always")
			default:
				command("set", opsCampaign, "--retry", "none", "--max-attempts", "1")
			}
		case actSuppress:
			n := rng.IntN(contacts)
			for suppressed[n] {
				n = rng.IntN(contacts)
			}
			suppressed[n] = true
			command("suppress", "add", fmt.Sprintf("+1 415 555 %04d", 2000+n), "--reason", "ops test")
		case actResume:
			if alive() < 3 {
				startRunner(resumeArgs, "Resuming campaign")
			} else {
				command("resume", opsCampaign, "--detach", "--vapi-base-url", b.simURL)
			}
		}
		model.apply(act)
		issued[act]++
		var status campaign.Status
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT status FROM campaign WHERE name = $1`, opsCampaign).Scan(&status))
		require.Equal(t, model.status, status, "step %d (%s): %s", i, act, b.snapshot(t))
	}
	t.Logf("issued %v in %s; %s", issued, time.Since(b.startedAt).Round(time.Millisecond), b.snapshot(t))
	for _, act := range []operatorAction{actPause, actCancel, actSet, actResume, actSuppress} {
		require.GreaterOrEqual(t, issued[act], opsPerAction, "%s issued", act)
	}

	// The end: cancel, and the runners end once the calls in flight are recorded.
	if model.status != campaign.StatusCancelled {
		command("cancel", opsCampaign)
	}
	deadline := time.After(90 * time.Second)
	for _, p := range runners {
		select {
		case <-p.done:
		case <-deadline:
			require.FailNow(t, p.name+" did not end after the final cancel", b.snapshot(t))
		}
	}

	var logs strings.Builder
	for _, p := range runners {
		logs.WriteString(p.stderr.String())
		// A run that ends because its campaign was cancelled may say so with its exit status.
		if p.err != nil {
			require.Contains(t, p.stderr.String(), "cancelled", "%s failed: %v\n%s", p.name, p.err, p.stderr.String())
		}
	}
	for _, out := range outputs {
		logs.WriteString(out)
	}
	require.NotContains(t, logs.String(), "deadlock detected")
	require.NotContains(t, logs.String(), "SQLSTATE", "a process met a Postgres error")

	var discarded int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded))
	require.Zero(t, discarded, "discarded River jobs")

	checkOpsGuarantees(t, b, maxCap)
}

// setupOps builds the binary and starts a fault-free simulator whose account limit is far above
// the campaign's cap, so that the simulator's count of live calls measures the cap.
func setupOps(t *testing.T, seed int64) *killBundle {
	t.Helper()
	return setupOpsWith(t, vapitest.Config{Seed: seed, TimeScale: 120, ConcurrencyLimit: 100})
}

// setupOpsWith is setupOps on a simulator of cfg.
func setupOpsWith(t *testing.T, cfg vapitest.Config) *killBundle {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "campaign")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	dbURL := testdb.SchemaURL(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	sim := vapitest.New(cfg)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	b := &killBundle{bin: bin, dir: dir, dbURL: dbURL, pool: pool, sim: sim, simURL: srv.URL, startedAt: time.Now()}
	t.Cleanup(func() {
		for _, p := range b.procs {
			if !p.exited() {
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			for _, p := range b.procs {
				t.Logf("---- stderr of %s (exit: %v) ----\n%s", p.name, p.err, p.stderr.String())
			}
		}
	})
	return b
}

// opsEnv is the environment of a short command, as killBundle.start gives the runners.
func opsEnv(b *killBundle) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + b.dir,
		envDatabaseURL + "=" + b.dbURL,
		envAPIKey + "=" + vapitest.DefaultAPIKey,
		envWebhookSecret + "=kill-test-webhook-secret",
	}
}

// opsReceiver serves the webhook receiver, on the test's database, for the whole test and
// returns its public URL.
func opsReceiver(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rec := &jobs.Recorder{Store: campaign.NewStore(pool), Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h, err := webhook.NewHandler(webhook.Config{Recorder: rec, Secrets: rec, Secret: "kill-test-webhook-secret",
		Now: time.Now, Logger: rec.Logger})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(jobs.WebhookPath, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkOpsGuarantees asserts, from the database and the simulator's record, that no attempt
// key and no number was dialed twice (one attempt per contact), that the simulator never had
// more live calls than maxCap, and that every call's result is recorded.
func checkOpsGuarantees(t *testing.T, b *killBundle, maxCap int) {
	t.Helper()
	ctx := context.Background()
	byKey := map[string]int{}
	for _, r := range b.sim.CreateRequests() {
		var body struct {
			Name string `json:"name"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		byKey[body.Name]++
		require.LessOrEqual(t, byKey[body.Name], 1, "attempt key %s sent twice", body.Name)
	}

	type row struct {
		key, state, callID, endedReason string
		reported                        bool
	}
	rows, err := b.pool.Query(ctx, `SELECT a.key, a.state, coalesce(a.vapi_call_id, ''), a.ended_reason,
		a.report_at IS NOT NULL FROM attempt a ORDER BY a.id`)
	require.NoError(t, err)
	byCall := map[string]row{}
	counted := 0
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.key, &r.state, &r.callID, &r.endedReason, &r.reported))
		if r.callID != "" {
			byCall[r.callID] = r
		}
		if r.state != "not_created" {
			counted++
		}
	}
	require.NoError(t, rows.Err())

	dialed := map[string]int{}
	nDialed := 0
	for _, c := range b.sim.Calls() {
		if c.EndedReason == vapi.EndedReasonConcurrencyLimitReached {
			continue
		}
		nDialed++
		dialed[c.Number]++
		require.LessOrEqual(t, dialed[c.Number], 1, "number %s dialed twice", c.Number)
		require.Equal(t, vapi.CallStatusEnded, c.Status, "call %s has not ended", c.ID)
		a, ok := byCall[c.ID]
		require.True(t, ok, "call %s has no attempt", c.ID)
		require.True(t, a.reported, "call %s (attempt %s) has no recorded result", c.ID, a.key)
		require.Equal(t, c.EndedReason, a.endedReason, "call %s", c.ID)
	}
	require.Equal(t, nDialed, counted, "counted attempts against calls that dialed someone")
	_, maxLive := b.sim.Concurrency()
	require.LessOrEqual(t, maxLive, maxCap, "live calls above the cap")
	require.Positive(t, nDialed, "no call was placed")
	t.Logf("%d calls, simulator max live %d", nDialed, maxLive)
}
