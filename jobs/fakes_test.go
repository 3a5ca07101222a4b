package jobs_test

import (
	"context"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
)

// fakeStore is a hand-written fake of the store, for the workers' views of it (jobs.DialStore,
// jobs.ReconcileStore, jobs.RecordStore). Each method calls its …Func field:
// a test sets those its code under test may call, and a call to one left nil panics.
type fakeStore struct {
	CampaignFunc          func(ctx context.Context, id int64) (*campaign.Campaign, error)
	ContactFunc           func(ctx context.Context, id int64) (*campaign.Contact, error)
	RequeueContactFunc    func(ctx context.Context, contactID int64, at, now time.Time) error
	UseAccountFunc        func(ctx context.Context, campaignID int64, account string) error
	BeginAttemptFunc      func(ctx context.Context, contactID int64, now time.Time) (campaign.DialGrant, error)
	DialRoomFunc          func(ctx context.Context, campaignID int64) (int, error)
	CallCreatedFunc       func(ctx context.Context, attemptID int64, callID string, callCreatedAt, now time.Time) error
	CallNotCreatedFunc    func(ctx context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, now time.Time) error
	DelayDialsFunc        func(ctx context.Context, campaignID int64, until time.Time) error
	LearnAccountLimitFunc func(ctx context.Context, account string, attemptID int64, l campaign.AccountLimits, now time.Time) error
	PredialIneligibleFunc func(ctx context.Context, contactID int64, reason string, now time.Time) error
	PredialFailedFunc     func(ctx context.Context, contactID int64, detail string, retryAt, now time.Time) (bool, error)
	PredialPassedFunc     func(ctx context.Context, contactID int64) error
	StaleAttemptsFunc     func(ctx context.Context, campaignID int64, reportCutoff, creatingCutoff time.Time, limit int) ([]campaign.Attempt, error)
	NoteLookupFunc        func(ctx context.Context, attemptID int64, now time.Time) (int, error)
	ApplyResultFunc       func(ctx context.Context, r campaign.CallResult, now time.Time) (bool, error)
	CampaignSecretFunc    func(ctx context.Context, campaignID int64) (string, error)
	RecordEventsFunc      func(ctx context.Context, events []campaign.RecordedEvent, now time.Time) ([]campaign.EventRecord, error)
	SaveEventFunc         func(ctx context.Context, e campaign.WebhookEvent) (int64, error)
	ApplyEventFunc        func(ctx context.Context, id int64, ch campaign.EventChange, now time.Time) (bool, error)
	// CompactTalliesFunc may be nil: the reconciler's tests then fold nothing.
	CompactTalliesFunc func(ctx context.Context) (int, error)
}

// compile-time checks that the fake is the store of the dial worker, the reconciler and the
// recorder (the hopper, which needs a River client, is tested end to end).
var (
	_ jobs.DialStore      = (*fakeStore)(nil)
	_ jobs.ReconcileStore = (*fakeStore)(nil)
	_ jobs.RecordStore    = (*fakeStore)(nil)
)

func (s *fakeStore) Campaign(ctx context.Context, id int64) (*campaign.Campaign, error) {
	return s.CampaignFunc(ctx, id)
}

func (s *fakeStore) Contact(ctx context.Context, id int64) (*campaign.Contact, error) {
	return s.ContactFunc(ctx, id)
}

func (s *fakeStore) RequeueContact(ctx context.Context, contactID int64, at, now time.Time) error {
	return s.RequeueContactFunc(ctx, contactID, at, now)
}

func (s *fakeStore) UseAccount(ctx context.Context, campaignID int64, account string) error {
	return s.UseAccountFunc(ctx, campaignID, account)
}

func (s *fakeStore) BeginAttempt(ctx context.Context, contactID int64, now time.Time) (campaign.DialGrant, error) {
	return s.BeginAttemptFunc(ctx, contactID, now)
}

func (s *fakeStore) DialRoom(ctx context.Context, campaignID int64) (int, error) {
	return s.DialRoomFunc(ctx, campaignID)
}

func (s *fakeStore) CallCreated(ctx context.Context, attemptID int64, callID string, callCreatedAt, now time.Time) error {
	return s.CallCreatedFunc(ctx, attemptID, callID, callCreatedAt, now)
}

func (s *fakeStore) CallNotCreated(ctx context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, now time.Time) error {
	return s.CallNotCreatedFunc(ctx, attemptID, kind, callID, detail, retryAt, now)
}

func (s *fakeStore) DelayDials(ctx context.Context, campaignID int64, until time.Time) error {
	return s.DelayDialsFunc(ctx, campaignID, until)
}

func (s *fakeStore) LearnAccountLimit(ctx context.Context, account string, attemptID int64, l campaign.AccountLimits, now time.Time) error {
	return s.LearnAccountLimitFunc(ctx, account, attemptID, l, now)
}

func (s *fakeStore) PredialIneligible(ctx context.Context, contactID int64, reason string, now time.Time) error {
	return s.PredialIneligibleFunc(ctx, contactID, reason, now)
}

func (s *fakeStore) PredialFailed(ctx context.Context, contactID int64, detail string, retryAt, now time.Time) (bool, error) {
	return s.PredialFailedFunc(ctx, contactID, detail, retryAt, now)
}

func (s *fakeStore) PredialPassed(ctx context.Context, contactID int64) error {
	return s.PredialPassedFunc(ctx, contactID)
}

func (s *fakeStore) StaleAttempts(ctx context.Context, campaignID int64, reportCutoff, creatingCutoff time.Time, limit int) ([]campaign.Attempt, error) {
	return s.StaleAttemptsFunc(ctx, campaignID, reportCutoff, creatingCutoff, limit)
}

func (s *fakeStore) NoteLookup(ctx context.Context, attemptID int64, now time.Time) (int, error) {
	return s.NoteLookupFunc(ctx, attemptID, now)
}

func (s *fakeStore) ApplyResult(ctx context.Context, r campaign.CallResult, now time.Time) (bool, error) {
	return s.ApplyResultFunc(ctx, r, now)
}

func (s *fakeStore) CompactTallies(ctx context.Context) (int, error) {
	if s.CompactTalliesFunc == nil {
		return 0, nil
	}
	return s.CompactTalliesFunc(ctx)
}

func (s *fakeStore) CampaignSecret(ctx context.Context, campaignID int64) (string, error) {
	return s.CampaignSecretFunc(ctx, campaignID)
}

func (s *fakeStore) RecordEvents(ctx context.Context, events []campaign.RecordedEvent, now time.Time) ([]campaign.EventRecord, error) {
	return s.RecordEventsFunc(ctx, events, now)
}

func (s *fakeStore) SaveEvent(ctx context.Context, e campaign.WebhookEvent) (int64, error) {
	return s.SaveEventFunc(ctx, e)
}

func (s *fakeStore) ApplyEvent(ctx context.Context, id int64, ch campaign.EventChange, now time.Time) (bool, error) {
	return s.ApplyEventFunc(ctx, id, ch, now)
}

// fakeVapi is a hand-written fake of jobs.VapiClient; each method calls its …Func field.
type fakeVapi struct {
	CreateCallFunc func(ctx context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error)
	GetCallFunc    func(ctx context.Context, id string) (*vapi.Call, error)
	ListCallsFunc  func(ctx context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error)
}

var _ jobs.VapiClient = (*fakeVapi)(nil)

func (v *fakeVapi) CreateCall(ctx context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error) {
	return v.CreateCallFunc(ctx, req)
}

func (v *fakeVapi) GetCall(ctx context.Context, id string) (*vapi.Call, error) {
	return v.GetCallFunc(ctx, id)
}

func (v *fakeVapi) ListCalls(ctx context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error) {
	return v.ListCallsFunc(ctx, p)
}
