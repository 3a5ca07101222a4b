package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
)

// countingObserver counts the results it is told of.
type countingObserver struct{ results []campaign.Outcome }

func (o *countingObserver) ObserveCreateCall(time.Duration, *vapi.Call, error) {}

func (o *countingObserver) ObservePredial(time.Duration, jobs.PredialResult) {}

func (o *countingObserver) ObserveResult(outcome campaign.Outcome) {
	o.results = append(o.results, outcome)
}

// reconcileBundle is a ReconcileWorker on fakes that record every store and Vapi call, in
// order. The store lists the attempts of stale; a test sets the answers it is about.
type reconcileBundle struct {
	store    *fakeStore
	vapi     *fakeVapi
	worker   *jobs.ReconcileWorker
	observer countingObserver
	stale    []campaign.Attempt
	calls    []string
}

func (b *reconcileBundle) record(format string, args ...any) {
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

// reconcileConfig is the reconciler's patience in these tests: a call is taken to not exist
// after 3 lookups that found nothing, the last at least 2 minutes after the attempt began.
var reconcileConfig = jobs.ReconcileConfig{ReportGrace: 30 * time.Second, CreatingGrace: 20 * time.Second,
	SureAbsentLookups: 3, SureAbsentAfter: 2 * time.Minute}

func setupReconcile(t *testing.T) *reconcileBundle {
	t.Helper()
	b := &reconcileBundle{}
	c := testCampaign()
	b.store = &fakeStore{
		StaleAttemptsFunc: func(_ context.Context, campaignID int64, reportCutoff, creatingCutoff time.Time, limit int) ([]campaign.Attempt, error) {
			b.record("StaleAttempts(%d, reports before %s, creating before %s, %d)", campaignID, at(reportCutoff), at(creatingCutoff), limit)
			return b.stale, nil
		},
		CampaignFunc: func(_ context.Context, id int64) (*campaign.Campaign, error) {
			require.Equal(t, c.ID, id)
			return c, nil
		},
		CallCreatedFunc: func(_ context.Context, attemptID int64, callID string, callCreatedAt, _ time.Time) error {
			b.record("CallCreated(%d, %s, created %s)", attemptID, callID, at(callCreatedAt))
			return nil
		},
		CallNotCreatedFunc: func(_ context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, _ time.Time) error {
			b.record("CallNotCreated(%d, %s, call %q, %q, retry %s)", attemptID, kind, callID, detail, at(retryAt))
			return nil
		},
		NoteLookupFunc: func(_ context.Context, attemptID int64, _ time.Time) (int, error) {
			b.record("NoteLookup(%d)", attemptID)
			return 1, nil
		},
		ApplyResultFunc: func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
			b.record("ApplyResult(%s, %s, %s)", r.CallID, r.AttemptKey, r.EndedReason)
			return true, nil
		},
	}
	b.vapi = &fakeVapi{
		GetCallFunc: func(_ context.Context, id string) (*vapi.Call, error) {
			b.record("vapi GetCall(%s)", id)
			return &vapi.Call{ID: id, Name: campaign.AttemptKey(42, 7, 1), Status: vapi.CallStatusEnded,
				EndedReason: "customer-did-not-answer"}, nil
		},
		ListCallsFunc: func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
			b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
			return nil, nil
		},
	}
	b.worker = &jobs.ReconcileWorker{Store: b.store, Vapi: b.vapi, Config: reconcileConfig,
		Now: func() time.Time { return fakeNow }, Logger: slog.New(slog.DiscardHandler), Observer: &b.observer}
	return b
}

// TestReconcileOnFakes covers the reconciler's decisions with no database: a call read from
// Vapi that has ended is applied, one still live only noted, and a 404 never taken for "ended";
// an attempt left "creating" adopts the call it finds, and is given up (its contact dialed
// again) only after enough lookups over enough time.
func TestReconcileOnFakes(t *testing.T) {
	t.Parallel()
	key := campaign.AttemptKey(42, 7, 1)
	const pn = "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64"
	created := campaign.Attempt{ID: 9, CampaignID: 42, ContactID: 7, Number: 1, Key: key,
		State: campaign.AttemptCreated, VapiCallID: "call-1", CreatedAt: fakeNow.Add(-10 * time.Minute)}
	creating := created
	creating.State, creating.VapiCallID = campaign.AttemptCreating, ""
	recent := creating
	recent.CreatedAt = fakeNow.Add(-time.Minute)
	list := "StaleAttempts(0, reports before -30s, creating before -20s, 200)"
	lookupSince := "vapi ListCalls(" + pn + ", since -12m0s)"
	lookups := func(n int) func(*reconcileBundle) {
		return func(b *reconcileBundle) {
			b.store.NoteLookupFunc = func(_ context.Context, attemptID int64, _ time.Time) (int, error) {
				b.record("NoteLookup(%d)", attemptID)
				return n, nil
			}
		}
	}
	getCall := func(call *vapi.Call, err error) func(*reconcileBundle) {
		return func(b *reconcileBundle) {
			b.vapi.GetCallFunc = func(_ context.Context, id string) (*vapi.Call, error) {
				b.record("vapi GetCall(%s)", id)
				return call, err
			}
		}
	}
	notFound := &vapi.APIError{Op: vapi.OperationGetCall, Method: http.MethodGet, Path: "/call/call-1", StatusCode: http.StatusNotFound}
	unavailable := &vapi.APIError{Op: vapi.OperationGetCall, Method: http.MethodGet, Path: "/call/call-1", StatusCode: http.StatusServiceUnavailable}

	cases := []struct {
		name    string
		stale   []campaign.Attempt
		tweak   func(*reconcileBundle)
		want    []string
		outcome riverOutcome
		// results are the outcomes the observer is told of.
		results []campaign.Outcome
	}{
		{name: "nothing stale", want: []string{list}, outcome: outcomeComplete},
		{name: "found ended: the result is applied", stale: []campaign.Attempt{created},
			want:    []string{list, "vapi GetCall(call-1)", "ApplyResult(call-1, " + key + ", customer-did-not-answer)"},
			outcome: outcomeComplete, results: []campaign.Outcome{campaign.OutcomeNoAnswer}},
		{name: "found ended, already applied: nobody told twice", stale: []campaign.Attempt{created},
			tweak: func(b *reconcileBundle) {
				b.store.ApplyResultFunc = func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
					b.record("ApplyResult(%s)", r.CallID)
					return false, nil
				}
			},
			want:    []string{list, "vapi GetCall(call-1)", "ApplyResult(call-1)"},
			outcome: outcomeComplete},
		{name: "found still live: the look is noted", stale: []campaign.Attempt{created},
			tweak:   getCall(&vapi.Call{ID: "call-1", Status: vapi.CallStatusInProgress}, nil),
			want:    []string{list, "vapi GetCall(call-1)", "NoteLookup(9)"},
			outcome: outcomeComplete},
		{name: "404 is never ended: noted, looked at again later", stale: []campaign.Attempt{created},
			tweak:   getCall(nil, notFound),
			want:    []string{list, "vapi GetCall(call-1)", "NoteLookup(9)"},
			outcome: outcomeComplete},
		{name: "Vapi unavailable: noted, River retries", stale: []campaign.Attempt{created},
			tweak:   getCall(nil, unavailable),
			want:    []string{list, "vapi GetCall(call-1)", "NoteLookup(9)"},
			outcome: outcomeRetry},
		{name: "applying fails: River retries", stale: []campaign.Attempt{created},
			tweak: func(b *reconcileBundle) {
				b.store.ApplyResultFunc = func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
					b.record("ApplyResult(%s)", r.CallID)
					return false, errors.New("database down")
				}
			},
			want:    []string{list, "vapi GetCall(call-1)", "ApplyResult(call-1)"},
			outcome: outcomeRetry},
		{name: "creating, the call is found: adopted, then read", stale: []campaign.Attempt{creating},
			tweak: func(b *reconcileBundle) {
				b.vapi.ListCallsFunc = func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
					b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
					return []vapi.Call{{ID: "call-found", Name: key, CreatedAt: fakeNow.Add(-9 * time.Minute)}}, nil
				}
			},
			want: []string{list, lookupSince, "CallCreated(9, call-found, created -9m0s)", "vapi GetCall(call-found)",
				"ApplyResult(call-found, " + key + ", customer-did-not-answer)"},
			outcome: outcomeComplete, results: []campaign.Outcome{campaign.OutcomeNoAnswer}},
		{name: "creating, not found after 1 lookup: looked for again", stale: []campaign.Attempt{creating},
			tweak:   lookups(1),
			want:    []string{list, lookupSince, "NoteLookup(9)"},
			outcome: outcomeComplete},
		{name: "creating, not found after 3 lookups in 1 minute: looked for again", stale: []campaign.Attempt{recent},
			tweak:   lookups(3),
			want:    []string{list, "vapi ListCalls(" + pn + ", since -3m0s)", "NoteLookup(9)"},
			outcome: outcomeComplete},
		{name: "creating, not found after 3 lookups in 10 minutes: no call exists, the contact is dialed again",
			stale: []campaign.Attempt{creating},
			tweak: lookups(3),
			want: []string{list, lookupSince, "NoteLookup(9)",
				`CallNotCreated(9, retryable, call "", "no call found after 3 lookups", retry +5s)`},
			outcome: outcomeComplete},
		{name: "creating, the lookup fails: River retries", stale: []campaign.Attempt{creating},
			tweak: func(b *reconcileBundle) {
				b.vapi.ListCallsFunc = func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
					b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
					return nil, errors.New("vapi down")
				}
			},
			want:    []string{list, lookupSince},
			outcome: outcomeRetry},
		{name: "creating, its campaign deleted: nothing to settle", stale: []campaign.Attempt{creating},
			tweak: func(b *reconcileBundle) {
				b.store.CampaignFunc = func(context.Context, int64) (*campaign.Campaign, error) {
					return nil, fmt.Errorf("campaign 42: %w", campaign.ErrNotFound)
				}
			},
			want:    []string{list},
			outcome: outcomeComplete},
		{name: "one attempt failing does not stop the others", stale: []campaign.Attempt{created, func() campaign.Attempt {
			a := created
			a.ID, a.VapiCallID = 10, "call-2"
			return a
		}()},
			tweak: func(b *reconcileBundle) {
				b.vapi.GetCallFunc = func(_ context.Context, id string) (*vapi.Call, error) {
					b.record("vapi GetCall(%s)", id)
					if id == "call-1" {
						return nil, unavailable
					}
					return &vapi.Call{ID: id, Name: key, Status: vapi.CallStatusEnded, EndedReason: "customer-busy"}, nil
				}
			},
			want: []string{list, "vapi GetCall(call-1)", "NoteLookup(9)", "vapi GetCall(call-2)",
				"ApplyResult(call-2, " + key + ", customer-busy)"},
			outcome: outcomeRetry, results: []campaign.Outcome{campaign.OutcomeBusy}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupReconcile(t)
			b.stale = tc.stale
			if tc.tweak != nil {
				tc.tweak(b)
			}
			err := b.worker.Work(context.Background(), &river.Job[jobs.ReconcileArgs]{})
			outcome, _ := riverOutcomeOf(err)
			require.Equal(t, tc.outcome, outcome, "error: %v", err)
			require.Equal(t, tc.want, b.calls)
			require.Equal(t, tc.results, b.observer.results)
		})
	}
}

// TestReconcileCompactsTallies: every run folds the tally deltas first; a compaction that fails
// does not keep the run from reconciling, and its error is the run's.
func TestReconcileCompactsTallies(t *testing.T) {
	t.Parallel()
	b := setupReconcile(t)
	failed := errors.New("compaction failed")
	b.store.CompactTalliesFunc = func(context.Context) (int, error) {
		b.record("CompactTallies")
		return 0, failed
	}
	err := b.worker.Work(context.Background(), &river.Job[jobs.ReconcileArgs]{})
	require.ErrorIs(t, err, failed)
	require.Equal(t, []string{"CompactTallies", "StaleAttempts(0, reports before -30s, creating before -20s, 200)"}, b.calls)
}
