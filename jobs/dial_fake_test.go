package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
)

// fakeNow is the clock of the tests on fakes: Monday 2026-11-23 18:00 UTC, 10:00 in Los Angeles.
var fakeNow = time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)

// at writes an instant of the fake clock as its distance from fakeNow ("+10s"), "zero" for the
// zero time.
func at(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	if d := t.Sub(fakeNow); d < 0 {
		return d.String()
	}
	return "+" + t.Sub(fakeNow).String()
}

// after is prefix followed by more, in a slice of its own.
func after(prefix []string, more ...string) []string {
	return slices.Concat(prefix, more)
}

// riverOutcome is what River does with a job after its Work returned err.
type riverOutcome string

const (
	outcomeComplete riverOutcome = "complete"
	outcomeSnooze   riverOutcome = "snooze"
	outcomeCancel   riverOutcome = "cancel"
	outcomeRetry    riverOutcome = "retry" // any other error: River retries the job
)

// riverOutcomeOf classifies err as River does, with the snooze's duration.
func riverOutcomeOf(err error) (riverOutcome, time.Duration) {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
		return outcomeComplete, 0
	case errors.As(err, &snooze):
		return outcomeSnooze, snooze.Duration
	case errors.As(err, &cancel):
		return outcomeCancel, 0
	default:
		return outcomeRetry, 0
	}
}

// dialBundle is a DialWorker on fakes that record every store and Vapi call, in order, and
// answer as a campaign whose contact is due, granted its first attempt, and whose call Vapi
// creates. A test changes the answers it is about.
type dialBundle struct {
	store    *fakeStore
	vapi     *fakeVapi
	worker   *jobs.DialWorker
	campaign *campaign.Campaign
	contact  *campaign.Contact
	attempt  *campaign.Attempt
	calls    []string
	logs     bytes.Buffer
}

func (b *dialBundle) record(format string, args ...any) {
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

func setupDial(t *testing.T) *dialBundle {
	t.Helper()
	b := &dialBundle{campaign: testCampaign(), contact: testContact()}
	b.campaign.WindowSpec = "09:00-20:00"
	b.contact.CampaignID = b.campaign.ID
	b.contact.TimeZones = []string{"America/Los_Angeles"}
	b.attempt = &campaign.Attempt{ID: 9, CampaignID: b.campaign.ID, ContactID: b.contact.ID, Number: 1,
		Key: campaign.AttemptKey(b.campaign.ID, b.contact.ID, 1), State: campaign.AttemptCreating, CreatedAt: fakeNow}
	b.store = &fakeStore{
		CampaignFunc: func(_ context.Context, id int64) (*campaign.Campaign, error) {
			require.Equal(t, b.campaign.ID, id)
			return b.campaign, nil
		},
		ContactFunc: func(_ context.Context, id int64) (*campaign.Contact, error) {
			require.Equal(t, b.contact.ID, id)
			return b.contact, nil
		},
		RequeueContactFunc: func(_ context.Context, contactID int64, due, _ time.Time) error {
			b.record("RequeueContact(%d, due %s)", contactID, at(due))
			return nil
		},
		UseAccountFunc: func(_ context.Context, campaignID int64, account string) error {
			b.record("UseAccount(%d, %s)", campaignID, account)
			return nil
		},
		BeginAttemptFunc: func(_ context.Context, contactID int64, _ time.Time) (campaign.DialGrant, error) {
			b.record("BeginAttempt(%d)", contactID)
			return campaign.DialGrant{Attempt: b.attempt}, nil
		},
		CallCreatedFunc: func(_ context.Context, attemptID int64, callID string, callCreatedAt, _ time.Time) error {
			b.record("CallCreated(%d, %s, created %s)", attemptID, callID, at(callCreatedAt))
			return nil
		},
		CallNotCreatedFunc: func(_ context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, _ time.Time) error {
			b.record("CallNotCreated(%d, %s, call %q, %q, retry %s)", attemptID, kind, callID, detail, at(retryAt))
			return nil
		},
		DelayDialsFunc: func(_ context.Context, campaignID int64, until time.Time) error {
			b.record("DelayDials(%d, until %s)", campaignID, at(until))
			return nil
		},
		LearnAccountLimitFunc: func(_ context.Context, account string, attemptID int64, l campaign.AccountLimits, _ time.Time) error {
			b.record("LearnAccountLimit(%s, %d, limit %d, remaining %d, refused %t)", account, attemptID, l.Limit, l.Remaining, l.Refused)
			return nil
		},
	}
	b.vapi = &fakeVapi{
		CreateCallFunc: func(_ context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error) {
			b.record("vapi CreateCall(%s)", req.Name)
			return &vapi.Call{ID: "call-1", Name: req.Name, CreatedAt: fakeNow.Add(time.Second)}, nil
		},
		ListCallsFunc: func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
			b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
			return nil, nil
		},
	}
	b.worker = &jobs.DialWorker{Store: b.store, Vapi: b.vapi, Now: func() time.Time { return fakeNow },
		Logger: slog.New(slog.NewTextHandler(&b.logs, nil)), Account: "acct"}
	return b
}

// work runs one dial job of the bundle's contact.
func (b *dialBundle) work() error {
	return b.worker.Work(context.Background(), &river.Job[jobs.DialArgs]{
		Args: jobs.DialArgs{CampaignID: b.campaign.ID, ContactID: b.contact.ID}})
}

// TestDialSettleOnFakes maps every answer to POST /call (each vapi.ErrorClass, and a call
// created or refused for concurrency) and every refusal of BeginAttempt to the store calls it
// makes and what River does with the job, with no database.
func TestDialSettleOnFakes(t *testing.T) {
	t.Parallel()
	key := campaign.AttemptKey(42, 7, 1)
	const pn = "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64"
	begin := []string{"UseAccount(42, acct)", "BeginAttempt(7)"}
	dial := after(begin, "vapi CreateCall("+key+")")
	refusals := map[campaign.DialRefusal]bool{} // the refusals the cases cover
	refuse := func(grants ...campaign.DialGrant) func(*dialBundle) {
		for _, g := range grants {
			refusals[g.Refusal] = true
		}
		return func(b *dialBundle) {
			b.store.BeginAttemptFunc = func(_ context.Context, contactID int64, _ time.Time) (campaign.DialGrant, error) {
				b.record("BeginAttempt(%d)", contactID)
				g := grants[0]
				grants = grants[1:]
				if g.Refusal == "" {
					g.Attempt = b.attempt
				}
				return g, nil
			}
		}
	}
	// atCapacity is refuse(grants…), the campaign's room (Store.DialRoom) being room at every read.
	atCapacity := func(room int, grants ...campaign.DialGrant) func(*dialBundle) {
		refusing := refuse(grants...)
		return func(b *dialBundle) {
			refusing(b)
			b.store.DialRoomFunc = func(_ context.Context, campaignID int64) (int, error) {
				if campaignID != b.campaign.ID {
					return 0, fmt.Errorf("room of campaign %d asked, want %d", campaignID, b.campaign.ID)
				}
				return room, nil
			}
		}
	}
	rateLimited := &vapi.APIError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		StatusCode: http.StatusTooManyRequests, RetryAfter: 7 * time.Second}
	rateLimitedBare := &vapi.APIError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		StatusCode: http.StatusTooManyRequests}
	overConcurrency := &vapi.APIError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		StatusCode: http.StatusBadRequest, Messages: []string{"Over Concurrency Limit."}}
	badRequest := &vapi.APIError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		StatusCode: http.StatusBadRequest, Messages: []string{"property foo should not exist"}}
	refused := &vapi.RequestError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		MaybeSent: false, Err: errors.New("connection refused")}
	serverError := &vapi.APIError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		StatusCode: http.StatusBadGateway}
	timedOut := &vapi.RequestError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
		MaybeSent: true, Err: context.DeadlineExceeded}
	lookup := "vapi ListCalls(" + pn + ", since -2m0s)"

	cases := []struct {
		name string
		// call and callErr, when either is set, are Vapi's answer to POST /call.
		call    *vapi.Call
		callErr error
		tweak   func(*dialBundle)
		want    []string
		// outcome is what River does with the job; a snooze lasts from snoozeMin to snoozeMax.
		outcome              riverOutcome
		snoozeMin, snoozeMax time.Duration
	}{
		// The answers to POST /call.
		{name: "created",
			call: &vapi.Call{ID: "call-1", CreatedAt: fakeNow.Add(time.Second),
				SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyLimit: 10, RemainingConcurrentCalls: 4}},
			want:    after(dial, "CallCreated(9, call-1, created +1s)", "LearnAccountLimit(acct, 9, limit 10, remaining 4, refused false)"),
			outcome: outcomeComplete},
		{name: "created without limits",
			call:    &vapi.Call{ID: "call-1", CreatedAt: fakeNow.Add(time.Second)},
			want:    after(dial, "CallCreated(9, call-1, created +1s)", "LearnAccountLimit(acct, 9, limit 0, remaining 0, refused false)"),
			outcome: outcomeComplete},
		{name: "a 201 blocked for concurrency: contact put back, not an attempt",
			call: &vapi.Call{ID: "call-1", CreatedAt: fakeNow,
				SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyBlocked: true, ConcurrencyLimit: 10}},
			want: after(dial, `CallNotCreated(9, capacity, call "call-1", "concurrency blocked", retry +10s)`,
				"LearnAccountLimit(acct, 9, limit 10, remaining 0, refused true)"),
			outcome: outcomeComplete},
		{name: "rate limited with Retry-After: every process slows down",
			callErr: rateLimited,
			want: after(dial, "DelayDials(42, until +7s)",
				`CallNotCreated(9, retryable, call "", "rate limited (429)", retry +7s)`),
			outcome: outcomeComplete},
		{name: "rate limited without Retry-After",
			callErr: rateLimitedBare,
			want: after(dial, "DelayDials(42, until +5s)",
				`CallNotCreated(9, retryable, call "", "rate limited (429)", retry +5s)`),
			outcome: outcomeComplete},
		{name: "refused for concurrency",
			callErr: overConcurrency,
			want: after(dial, fmt.Sprintf("CallNotCreated(9, capacity, call \"\", %q, retry +10s)", overConcurrency.Error()),
				"LearnAccountLimit(acct, 9, limit 0, remaining 0, refused true)"),
			outcome: outcomeComplete},
		{name: "permanent: the contact fails, never retried",
			callErr: badRequest,
			want:    after(dial, fmt.Sprintf("CallNotCreated(9, permanent, call \"\", %q, retry zero)", badRequest.Error())),
			outcome: outcomeComplete},
		{name: "retryable: provably never sent, tried again",
			callErr: refused,
			want:    after(dial, fmt.Sprintf("CallNotCreated(9, retryable, call \"\", %q, retry +5s)", refused.Error())),
			outcome: outcomeComplete},
		{name: "ambiguous 5xx, the call is found: adopted",
			callErr: serverError,
			tweak: func(b *dialBundle) {
				b.vapi.ListCallsFunc = func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
					b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
					return []vapi.Call{{ID: "other", Name: "cmp-1-1-1"}, {ID: "call-found", Name: key, CreatedAt: fakeNow}}, nil
				}
			},
			want:    after(dial, lookup, "CallCreated(9, call-found, created +0s)"),
			outcome: outcomeComplete},
		{name: "ambiguous timeout, no call found: left to the reconciler, never redialed",
			callErr: timedOut,
			want:    after(dial, lookup),
			outcome: outcomeComplete},
		{name: "ambiguous, the lookup fails: left to the reconciler",
			callErr: serverError,
			tweak: func(b *dialBundle) {
				b.vapi.ListCallsFunc = func(_ context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
					b.record("vapi ListCalls(%s, since %s)", p.PhoneNumberID, at(p.CreatedAtGe))
					return nil, errors.New("vapi down")
				}
			},
			want:    after(dial, lookup),
			outcome: outcomeComplete},

		// What happens around the answer.
		{name: "a request that cannot be built fails the contact without a call",
			tweak:   func(b *dialBundle) { b.campaign.Overrides = json.RawMessage(`[not an object`) },
			want:    after(begin, `CallNotCreated(9, permanent, call "", "campaign overrides: invalid character 'o' in literal null (expecting 'u')", retry zero)`),
			outcome: outcomeComplete},
		{name: "recording the call fails: River retries",
			tweak: func(b *dialBundle) {
				b.store.CallCreatedFunc = func(_ context.Context, attemptID int64, callID string, _, _ time.Time) error {
					b.record("CallCreated(%d, %s)", attemptID, callID)
					return errors.New("database down")
				}
			},
			want:    after(dial, "CallCreated(9, call-1)"),
			outcome: outcomeRetry},
		{name: "learning the account's limit fails: the call stays recorded",
			tweak: func(b *dialBundle) {
				b.store.LearnAccountLimitFunc = func(context.Context, string, int64, campaign.AccountLimits, time.Time) error {
					b.record("LearnAccountLimit")
					return errors.New("database down")
				}
			},
			want:    after(dial, "CallCreated(9, call-1, created +1s)", "LearnAccountLimit"),
			outcome: outcomeComplete},

		// Refusals of BeginAttempt.
		{name: "rate limited for long: snoozed for the wait",
			tweak:   refuse(campaign.DialGrant{Refusal: campaign.RefuseRateLimited, Wait: 30 * time.Second}),
			want:    begin,
			outcome: outcomeSnooze, snoozeMin: 30 * time.Second, snoozeMax: 30 * time.Second},
		{name: "rate limited for a moment: waits in the job and asks again",
			tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseRateLimited},
				campaign.DialGrant{}),
			want:    after(begin, "BeginAttempt(7)", "vapi CreateCall("+key+")", "CallCreated(9, call-1, created +1s)", "LearnAccountLimit(acct, 9, limit 0, remaining 0, refused false)"),
			outcome: outcomeComplete},
		{name: "at the campaign's capacity with no slot freed while it waits in the job: snoozed 2-3 s",
			tweak:   atCapacity(0, campaign.DialGrant{Refusal: campaign.RefuseAtCapacity}),
			want:    begin,
			outcome: outcomeSnooze, snoozeMin: 2 * time.Second, snoozeMax: 3 * time.Second},
		{name: "at the campaign's capacity, then a slot freed: waits in the job and asks again",
			tweak: atCapacity(1, campaign.DialGrant{Refusal: campaign.RefuseAtCapacity},
				campaign.DialGrant{}),
			want:    after(begin, "BeginAttempt(7)", "vapi CreateCall("+key+")", "CallCreated(9, call-1, created +1s)", "LearnAccountLimit(acct, 9, limit 0, remaining 0, refused false)"),
			outcome: outcomeComplete},
		{name: "at the account's limit: snoozed 2-3 s",
			tweak:   refuse(campaign.DialGrant{Refusal: campaign.RefuseAccountLimit}),
			want:    begin,
			outcome: outcomeSnooze, snoozeMin: 2 * time.Second, snoozeMax: 3 * time.Second},
		{name: "every caller number at its live-call limit: snoozed 2-3 s",
			tweak:   refuse(campaign.DialGrant{Refusal: campaign.RefuseNumbersBusy}),
			want:    begin,
			outcome: outcomeSnooze, snoozeMin: 2 * time.Second, snoozeMax: 3 * time.Second},
		{name: "every caller number at its daily cap: back to pending until the next day",
			tweak:   refuse(campaign.DialGrant{Refusal: campaign.RefuseNumbersBusy, Wait: 5 * time.Hour}),
			want:    after(begin, "RequeueContact(7, due +5h0m0s)"),
			outcome: outcomeComplete},
		{name: "campaign not running: done", tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseNotRunning}),
			want: begin, outcome: outcomeComplete},
		{name: "contact not queued: done", tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseNotQueued}),
			want: begin, outcome: outcomeComplete},
		{name: "number suppressed: done", tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseSuppressed}),
			want: begin, outcome: outcomeComplete},
		{name: "budget cap reached (campaign paused): done", tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseBudget}),
			want: begin, outcome: outcomeComplete},
		{name: "the campaign's end has come (contact expired): done", tweak: refuse(campaign.DialGrant{Refusal: campaign.RefuseExpired}),
			want: begin, outcome: outcomeComplete},
		{name: "the attempt cannot be journaled: River retries",
			tweak: func(b *dialBundle) {
				b.store.BeginAttemptFunc = func(_ context.Context, contactID int64, _ time.Time) (campaign.DialGrant, error) {
					b.record("BeginAttempt(%d)", contactID)
					return campaign.DialGrant{}, errors.New("database down")
				}
			},
			want: begin, outcome: outcomeRetry},

		// Before the attempt.
		{name: "campaign deleted: cancelled",
			tweak: func(b *dialBundle) {
				b.store.CampaignFunc = func(context.Context, int64) (*campaign.Campaign, error) {
					return nil, fmt.Errorf("campaign 42: %w", campaign.ErrNotFound)
				}
			},
			outcome: outcomeCancel},
		{name: "contact deleted: cancelled",
			tweak: func(b *dialBundle) {
				b.store.ContactFunc = func(context.Context, int64) (*campaign.Contact, error) {
					return nil, fmt.Errorf("contact 7: %w", campaign.ErrContactNotFound)
				}
			},
			outcome: outcomeCancel},
		{name: "campaign unreadable: River retries",
			tweak: func(b *dialBundle) {
				b.store.CampaignFunc = func(context.Context, int64) (*campaign.Campaign, error) {
					return nil, errors.New("database down")
				}
			},
			outcome: outcomeRetry},
		{name: "outside the calling hours: back to pending until they open",
			tweak:   func(b *dialBundle) { b.contact.TimeZones = []string{"Asia/Tokyo"} }, // 03:00; 09:00 is 6 h away
			want:    []string{"RequeueContact(7, due +6h0m0s)"},
			outcome: outcomeComplete},
		{name: "a zone that does not load: back to pending due at once, for the hopper to fail it",
			tweak:   func(b *dialBundle) { b.contact.TimeZones = []string{"Mars/Olympus"} },
			want:    []string{"RequeueContact(7, due zero)"},
			outcome: outcomeComplete},
		{name: "no account: none noted",
			tweak:   func(b *dialBundle) { b.worker.Account = "" },
			want:    []string{"BeginAttempt(7)", "vapi CreateCall(" + key + ")", "CallCreated(9, call-1, created +1s)", "LearnAccountLimit(, 9, limit 0, remaining 0, refused false)"},
			outcome: outcomeComplete},
		{name: "the account cannot be noted: River retries",
			tweak: func(b *dialBundle) {
				b.store.UseAccountFunc = func(context.Context, int64, string) error { return errors.New("database down") }
			},
			outcome: outcomeRetry},
	}
	classes := map[vapi.ErrorClass]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupDial(t)
			if tc.call != nil || tc.callErr != nil {
				b.vapi.CreateCallFunc = func(_ context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error) {
					b.record("vapi CreateCall(%s)", req.Name)
					return tc.call, tc.callErr
				}
			}
			if tc.tweak != nil {
				tc.tweak(b)
			}
			err := b.work()
			outcome, snooze := riverOutcomeOf(err)
			require.Equal(t, tc.outcome, outcome, "error: %v", err)
			require.Equal(t, tc.want, b.calls)
			if outcome == outcomeSnooze {
				require.GreaterOrEqual(t, snooze, tc.snoozeMin)
				require.LessOrEqual(t, snooze, tc.snoozeMax)
			}
		})
		if tc.call != nil || tc.callErr != nil {
			classes[vapi.Classify(tc.callErr)] = true
		}
	}
	for _, class := range vapi.ErrorClasses() {
		require.True(t, classes[class], "no case for error class %q", class)
	}
	for _, r := range campaign.DialRefusals() {
		require.True(t, refusals[r], "no case for refusal %q", r)
	}
}

// TestDialNotesTheAccountOnceOnFakes: a worker notes the campaign's account before its first
// dial only.
func TestDialNotesTheAccountOnceOnFakes(t *testing.T) {
	t.Parallel()
	b := setupDial(t)
	require.NoError(t, b.work())
	require.NoError(t, b.work())
	var noted int
	for _, c := range b.calls {
		if c == "UseAccount(42, acct)" {
			noted++
		}
	}
	require.Equal(t, 1, noted, "calls: %v", b.calls)
}

// TestDialSendsTheAttemptsNumberOnFakes: the call comes from the number BeginAttempt recorded on
// the attempt, not the campaign's first, and an ambiguous failure looks the call up among that
// number's calls.
func TestDialSendsTheAttemptsNumberOnFakes(t *testing.T) {
	t.Parallel()
	b := setupDial(t)
	b.campaign.PhoneNumberIDs = []string{b.campaign.PhoneNumberID, "pn-second"}
	b.attempt.PhoneNumberID = "pn-second"
	var sent string
	b.vapi.CreateCallFunc = func(_ context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error) {
		sent = req.PhoneNumberID
		b.record("vapi CreateCall(%s)", req.Name)
		return nil, &vapi.RequestError{Op: vapi.OperationCreateCall, Method: http.MethodPost, Path: "/call",
			MaybeSent: true, Err: context.DeadlineExceeded}
	}
	require.NoError(t, b.work())
	require.Equal(t, "pn-second", sent)
	require.Contains(t, b.calls, "vapi ListCalls(pn-second, since -2m0s)")
}
