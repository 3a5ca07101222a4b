package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// maxExamples bounds the examples quoted for each failed check.
const maxExamples = 3

// verdict is the outcome of a chaos run: the counts of the one-line report and the reasons it
// is not clean.
type verdict struct {
	contacts, final      int
	status               string
	calls, dialed        int
	kills, killsWanted   int
	pgRestarts           int
	runnerFailures       int
	maxCreates, maxCalls int
	policyViolations     int
	placedTwice          int
	resultsMissing       int
	unmatchedAttempts    int
	localCount, simCount int
	localCost, simCost   float64
	seed                 int64
	elapsed              time.Duration
	reasons              []string
}

// clean reports whether every check passed.
func (v *verdict) clean() bool { return len(v.reasons) == 0 }

// fail records a failed check with its examples.
func (v *verdict) fail(check string, examples []string) {
	quoted := examples[:min(len(examples), maxExamples)]
	if more := len(examples) - len(quoted); more > 0 {
		quoted = append(quoted[:len(quoted):len(quoted)], fmt.Sprintf("… %d more", more))
	}
	v.reasons = append(v.reasons, check+": "+strings.Join(quoted, "; "))
}

// line is the one-line verdict.
func (v *verdict) line() string {
	word := "CLEAN"
	if !v.clean() {
		word = "FAILED"
	}
	s := fmt.Sprintf("chaos: %s contacts=%d final=%d calls=%d dialed=%d kills=%d/%d pg_restarts=%d runner_failures=%d "+
		"max_creates_per_number=%d max_calls_per_number=%d policy_violations=%d placed_twice=%d results_missing=%d "+
		"unmatched_attempts=%d analytics_count=%d/%d analytics_cost=%.4f/%.4f seed=%d elapsed=%s",
		word, v.contacts, v.final, v.calls, v.dialed, v.kills, v.killsWanted, v.pgRestarts, v.runnerFailures,
		v.maxCreates, v.maxCalls, v.policyViolations, v.placedTwice, v.resultsMissing,
		v.unmatchedAttempts, v.localCount, v.simCount, v.localCost, v.simCost, v.seed, v.elapsed.Round(time.Second))
	if !v.clean() {
		s += fmt.Sprintf(" reasons=%q", strings.Join(v.reasons, " | "))
	}
	return s
}

// attemptRow is an attempt as the checks need it.
type attemptRow struct {
	key, state, callID, endedReason, phone string
	reported                               bool
}

// verify checks the four end conditions against the simulator's record and our tables.
func (d *driver) verify(ctx context.Context) (*verdict, error) {
	v := &verdict{killsWanted: d.o.kills, kills: d.kills, pgRestarts: d.pgRestarts, runnerFailures: len(d.findings), seed: d.o.seed}
	if len(d.findings) > 0 {
		v.fail("runner failures", d.findings)
	}
	if d.kills < d.o.kills {
		v.fail("kills", []string{fmt.Sprintf("the campaign finished after %d of %d kills (more contacts, or fewer kills)", d.kills, d.o.kills)})
	}
	if d.pgRestarts < d.o.pgRestarts {
		v.fail("postgres restarts", []string{fmt.Sprintf("%d of %d done", d.pgRestarts, d.o.pgRestarts)})
	}
	if err := d.checkFinal(ctx, v); err != nil {
		return nil, err
	}
	attempts, err := d.attempts(ctx)
	if err != nil {
		return nil, err
	}
	calls := d.sim.Calls()
	v.calls = len(calls)
	policy, err := campaign.ParseRetryPolicy(d.o.retry)
	if err != nil {
		return nil, err
	}
	policy.MaxAttempts = d.o.maxAttempts
	d.checkPolicy(v, calls, policy)
	checkResults(v, calls, attempts)
	if err := d.checkAnalytics(ctx, v, calls); err != nil {
		return nil, err
	}
	return v, nil
}

// checkFinal: every contact is final and the campaign completed.
func (d *driver) checkFinal(ctx context.Context, v *verdict) error {
	err := d.pool.QueryRow(ctx, `SELECT c.status, count(ct.id)::int,
			(count(ct.id) FILTER (WHERE ct.state = ANY($2)))::int
		FROM campaign c LEFT JOIN contact ct ON ct.campaign_id = c.id WHERE c.name = $1 GROUP BY c.status`,
		campaignName, finalStates()).Scan(&v.status, &v.contacts, &v.final)
	if err != nil {
		return fmt.Errorf("read the campaign: %w", err)
	}
	if v.contacts != d.o.contacts {
		v.fail("contacts", []string{fmt.Sprintf("%d imported of %d", v.contacts, d.o.contacts)})
	}
	if v.final != v.contacts || v.status != string(campaign.StatusCompleted) {
		v.fail("not final", []string{fmt.Sprintf("%d of %d contacts final, campaign %s", v.final, v.contacts, v.status)})
	}
	return nil
}

// attempts reads the campaign's attempts.
func (d *driver) attempts(ctx context.Context) ([]attemptRow, error) {
	rows, err := d.pool.Query(ctx, `SELECT a.key, a.state, coalesce(a.vapi_call_id, ''), a.ended_reason, ct.phone,
			a.report_at IS NOT NULL
		FROM attempt a JOIN contact ct ON ct.id = a.contact_id JOIN campaign c ON c.id = a.campaign_id
		WHERE c.name = $1 ORDER BY a.id`, campaignName)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []attemptRow
	for rows.Next() {
		var a attemptRow
		if err := rows.Scan(&a.key, &a.state, &a.callID, &a.endedReason, &a.phone, &a.reported); err != nil {
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	return out, nil
}

// blocked reports whether the simulator refused the call for concurrency: it dialed nobody and
// is not an attempt.
func blocked(c vapitest.CallRecord) bool {
	return c.EndedReason == vapi.EndedReasonConcurrencyLimitReached
}

// checkPolicy: no number was dialed more often than the retry policy allows given the outcomes
// of its calls, and no attempt key placed two calls (the simulator's record).
//
// Callbacks are off (noCallbackKey) and do-not-call comes only with completed calls, which are
// never retried, so what the policy allows after a call is RetryPolicy.NextStep of its outcome.
func (d *driver) checkPolicy(v *verdict, calls []vapitest.CallRecord, policy campaign.RetryPolicy) {
	for _, n := range d.sim.CreateRequestsByNumber() {
		v.maxCreates = max(v.maxCreates, n)
	}
	byNumber := map[string][]vapitest.CallRecord{}
	for _, c := range calls {
		if !blocked(c) {
			byNumber[c.Number] = append(byNumber[c.Number], c)
			v.dialed++
		}
	}
	numbers := make([]string, 0, len(byNumber))
	for n := range byNumber {
		numbers = append(numbers, n)
	}
	sort.Strings(numbers)
	var bad []string
	for _, n := range numbers {
		cs := byNumber[n]
		v.maxCalls = max(v.maxCalls, len(cs))
		sort.Slice(cs, func(i, j int) bool { return cs[i].CreatedAt.Before(cs[j].CreatedAt) })
		same := map[campaign.Outcome]int{}
		for i, c := range cs[:len(cs)-1] {
			o := campaign.ClassifyEndedReason(c.EndedReason)
			same[o]++
			if step := policy.NextStep(o, i+1, same[o], c.EndedAt); !step.Retry {
				v.policyViolations++
				bad = append(bad, fmt.Sprintf("%s dialed %d times; after call %d (%s, %s) the policy says %q",
					n, len(cs), i+1, c.ID, c.EndedReason, step.Reason))
				break
			}
		}
	}
	if len(bad) > 0 {
		v.fail("dialed more than the policy allows", bad)
	}

	placed := map[string][]string{} // attempt key (the call's name) -> calls created
	for _, r := range d.sim.CreateRequests() {
		var body struct {
			Name string `json:"name"`
		}
		if r.CallID == "" || json.Unmarshal(r.Body, &body) != nil {
			continue
		}
		placed[body.Name] = append(placed[body.Name], r.CallID)
	}
	var twice []string
	for key, ids := range placed {
		if len(ids) > 1 {
			v.placedTwice++
			twice = append(twice, fmt.Sprintf("attempt %s placed calls %s", key, strings.Join(ids, ", ")))
		}
	}
	if len(twice) > 0 {
		sort.Strings(twice)
		v.fail("attempts placed twice", twice)
	}
}

// checkResults: every call the simulator made belongs to an attempt, and a call that dialed
// someone has ended and has its result recorded with the simulator's ended reason; every
// counted attempt is such a call.
func checkResults(v *verdict, calls []vapitest.CallRecord, attempts []attemptRow) {
	byCall := map[string]attemptRow{}
	for _, a := range attempts {
		if a.callID != "" {
			byCall[a.callID] = a
		}
	}
	simCalls := map[string]vapitest.CallRecord{}
	var missing []string
	for _, c := range calls {
		simCalls[c.ID] = c
		a, ok := byCall[c.ID]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("call %s of %s (%s) has no attempt", c.ID, c.Number, c.EndedReason))
		case blocked(c):
		case c.Status != vapi.CallStatusEnded:
			missing = append(missing, fmt.Sprintf("call %s of %s is %s", c.ID, c.Number, c.Status))
		case !a.reported:
			missing = append(missing, fmt.Sprintf("call %s of %s (attempt %s, %s) has no recorded result", c.ID, c.Number, a.key, a.state))
		case a.endedReason != c.EndedReason:
			missing = append(missing, fmt.Sprintf("call %s of %s: recorded %q, simulator %q", c.ID, c.Number, a.endedReason, c.EndedReason))
		}
	}
	v.resultsMissing = len(missing)
	if len(missing) > 0 {
		v.fail("results missing", missing)
	}
	var unmatched []string
	for _, a := range attempts {
		if a.state == string(campaign.AttemptNotCreated) {
			continue
		}
		if c, ok := simCalls[a.callID]; !ok || blocked(c) {
			unmatched = append(unmatched, fmt.Sprintf("attempt %s (%s, %s) counts, but call %q dialed nobody", a.key, a.phone, a.state, a.callID))
		}
	}
	v.unmatchedAttempts = len(unmatched)
	if len(unmatched) > 0 {
		v.fail("counted attempts without a dialed call", unmatched)
	}
}

// checkAnalytics: the simulator's POST /analytics count and sum of cost of its calls match the
// attempts that hold a call id.
func (d *driver) checkAnalytics(ctx context.Context, v *verdict, calls []vapitest.CallRecord) error {
	err := d.pool.QueryRow(ctx, `SELECT count(a.vapi_call_id)::int, coalesce(sum(a.cost), 0)::float8
		FROM attempt a JOIN campaign c ON c.id = a.campaign_id WHERE c.name = $1`, campaignName).
		Scan(&v.localCount, &v.localCost)
	if err != nil {
		return fmt.Errorf("attempt totals: %w", err)
	}
	now := d.sim.Config().Clock.Now()
	start := now
	for _, c := range calls {
		if c.CreatedAt.Before(start) {
			start = c.CreatedAt
		}
	}
	client, err := vapi.NewClient(d.sim.Config().APIKey, &vapi.Config{BaseURL: d.simURL})
	if err != nil {
		return err
	}
	q := &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{
		Table: vapi.AnalyticsTableCall, Name: "chaos totals",
		Operations: []vapi.AnalyticsOperation{
			{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"},
			{Operation: vapi.AnalyticsSum, Column: "cost", Alias: "cost"},
		},
		TimeRange: &vapi.TimeRange{Start: start.Add(-time.Hour), End: now.Add(time.Hour)},
	}}}
	var res []vapi.AnalyticsQueryResult
	for try := 1; ; try++ {
		if res, err = client.Analytics(ctx, q); err == nil {
			break
		}
		// The simulator's 429 bursts hit this request too: wait as told and ask again.
		var apiErr *vapi.APIError
		if try == 10 || vapi.Classify(err) != vapi.ErrorClassRateLimited || !errors.As(err, &apiErr) {
			return fmt.Errorf("POST /analytics: %w", err)
		}
		select {
		case <-time.After(max(apiErr.RetryAfter, 100*time.Millisecond)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(res) == 1 && len(res[0].Result) == 1 {
		row := res[0].Result[0]
		n, _ := row["calls"].(float64)
		v.simCount = int(n)
		v.simCost, _ = row["cost"].(float64)
	}
	if v.simCount != v.localCount || math.Abs(v.simCost-v.localCost) > 1e-4 {
		v.fail("analytics", []string{fmt.Sprintf("attempts with a call: %d costing %.4f; simulator's POST /analytics: %d costing %.4f",
			v.localCount, v.localCost, v.simCount, v.simCost)})
	}
	return nil
}
