package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/campaign-run/campaign/campaign"
)

// The workers' views of the store: each declares the few methods of *campaign.Store it calls, so
// that its decisions are tested with a fake and no database. *campaign.Store satisfies them all.

// DialStore is what DialWorker needs of the store.
type DialStore interface {
	Campaign(ctx context.Context, id int64) (*campaign.Campaign, error)
	Contact(ctx context.Context, id int64) (*campaign.Contact, error)
	RequeueContact(ctx context.Context, contactID int64, at, now time.Time) error
	UseAccount(ctx context.Context, campaignID int64, account string) error
	BeginAttempt(ctx context.Context, contactID int64, now time.Time) (campaign.DialGrant, error)
	DialRoom(ctx context.Context, campaignID int64) (int, error)
	CallCreated(ctx context.Context, attemptID int64, callID string, callCreatedAt, now time.Time) error
	CallNotCreated(ctx context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, now time.Time) error
	DelayDials(ctx context.Context, campaignID int64, until time.Time) error
	LearnAccountLimit(ctx context.Context, account string, attemptID int64, l campaign.AccountLimits, now time.Time) error
	PredialIneligible(ctx context.Context, contactID int64, reason string, now time.Time) error
	PredialFailed(ctx context.Context, contactID int64, detail string, retryAt, now time.Time) (ended bool, err error)
	PredialPassed(ctx context.Context, contactID int64) error
}

// ReconcileStore is what ReconcileWorker needs of the store.
type ReconcileStore interface {
	StaleAttempts(ctx context.Context, campaignID int64, reportCutoff, creatingCutoff time.Time, limit int) ([]campaign.Attempt, error)
	Campaign(ctx context.Context, id int64) (*campaign.Campaign, error)
	CallCreated(ctx context.Context, attemptID int64, callID string, callCreatedAt, now time.Time) error
	CallNotCreated(ctx context.Context, attemptID int64, kind campaign.NotCreatedKind, callID, detail string, retryAt, now time.Time) error
	NoteLookup(ctx context.Context, attemptID int64, now time.Time) (lookups int, err error)
	ApplyResult(ctx context.Context, r campaign.CallResult, now time.Time) (applied bool, err error)
	CompactTallies(ctx context.Context) (folded int, err error)
}

// RecordStore is what Recorder needs of the store.
type RecordStore interface {
	CampaignSecret(ctx context.Context, campaignID int64) (string, error)
	EventBatchRecorder
	SaveEvent(ctx context.Context, e campaign.WebhookEvent) (int64, error)
	ApplyEvent(ctx context.Context, id int64, ch campaign.EventChange, now time.Time) (applied bool, err error)
}

// HopperStore is what HopperWorker needs of the store.
type HopperStore interface {
	RunningCampaigns(ctx context.Context, mode campaign.Mode) ([]int64, error)
	Campaign(ctx context.Context, id int64) (*campaign.Campaign, error)
	QueueDue(ctx context.Context, campaignID int64, now time.Time, limit int, decide func(*campaign.Contact) campaign.Decision,
		enqueue func(ctx context.Context, tx pgx.Tx, contactIDs []int64) error) (int, error)
	CompleteIfDone(ctx context.Context, campaignID int64, now time.Time) (bool, error)
	StartScheduled(ctx context.Context, mode campaign.Mode, campaignID int64, now time.Time) ([]int64, error)
	ExpireContacts(ctx context.Context, campaignID int64, now time.Time) (int, error)
}

// compile-time checks that the store is every worker's store.
var (
	_ DialStore      = (*campaign.Store)(nil)
	_ ReconcileStore = (*campaign.Store)(nil)
	_ RecordStore    = (*campaign.Store)(nil)
	_ HopperStore    = (*campaign.Store)(nil)
)
