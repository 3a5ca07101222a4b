package console_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
)

// fakeStore is a console.Store whose methods call the …Func fields; a nil one fails the call.
type fakeStore struct {
	ListCampaignsPageFunc func(ctx context.Context, p campaign.ListPage) ([]campaign.CampaignSummary, error)
	CampaignFunc          func(ctx context.Context, id int64) (*campaign.Campaign, error)
}

var errNotFaked = errors.New("not faked")

func (f *fakeStore) ListCampaignsPage(ctx context.Context, p campaign.ListPage) ([]campaign.CampaignSummary, error) {
	if f.ListCampaignsPageFunc == nil {
		return nil, errNotFaked
	}
	return f.ListCampaignsPageFunc(ctx, p)
}

func (f *fakeStore) Campaign(ctx context.Context, id int64) (*campaign.Campaign, error) {
	if f.CampaignFunc == nil {
		return nil, errNotFaked
	}
	return f.CampaignFunc(ctx, id)
}

func (f *fakeStore) Progress(context.Context, int64) (campaign.Progress, error) {
	return campaign.Progress{}, errNotFaked
}

func (f *fakeStore) StatusExtras(context.Context, int64, time.Time, time.Duration, int) (campaign.StatusExtras, error) {
	return campaign.StatusExtras{}, errNotFaked
}

func (f *fakeStore) Runners(context.Context, int64) (campaign.RunnerState, []campaign.Runner, error) {
	return campaign.RunnerState{}, nil, errNotFaked
}

func (f *fakeStore) ReportFacts(context.Context, int64) (*campaign.ReportFacts, error) {
	return nil, errNotFaked
}

func (f *fakeStore) Pause(context.Context, int64, time.Time) error { return errNotFaked }

func (f *fakeStore) Resume(context.Context, int64, campaign.ResumeOptions, time.Time) (int, error) {
	return 0, errNotFaked
}

func (f *fakeStore) Cancel(context.Context, int64, time.Time) (int, error) { return 0, errNotFaked }

func (f *fakeStore) SetPacing(context.Context, int64, campaign.Pacing, time.Time) error {
	return errNotFaked
}

// TestStoreErrors checks what a page answers when the store fails: 500 with no word of the
// error (it may name the database), which goes to the log; 404 for a campaign that is not there.
func TestStoreErrors(t *testing.T) {
	t.Parallel()
	dbErr := errors.New("failed to connect to host=db.internal user=campaign password=hunter2")
	store := &fakeStore{
		ListCampaignsPageFunc: func(context.Context, campaign.ListPage) ([]campaign.CampaignSummary, error) { return nil, dbErr },
		CampaignFunc: func(_ context.Context, id int64) (*campaign.Campaign, error) {
			if id == 404 {
				return nil, fmt.Errorf("campaign 404: %w", campaign.ErrNotFound)
			}
			return nil, dbErr
		},
	}
	var logs bytes.Buffer
	h, err := console.New(console.Config{Store: store, Users: mustUsers(t, console.RoleViewer, "audit:"+viewerPassword), Key: testKey,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return t0 },
		Export: func(context.Context, *campaign.Campaign, io.Writer) error { return nil }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := &testBundle{srv: srv}
	c := b.client(t)
	c.login("audit", viewerPassword)
	for path, want := range map[string]int{"/console/": 500, "/console/campaigns/7": 500, "/console/campaigns/404": 404,
		"/console/campaigns/404/live": 404, "/console/campaigns/x": 404, "/console/campaigns/7/export.csv": 500} {
		res, body := c.get(path)
		require.Equal(t, want, res.StatusCode, path)
		require.NotContains(t, body, "hunter2", path)
		require.NotContains(t, body, "db.internal", path)
	}
	require.Contains(t, logs.String(), "db.internal", "the error is logged")
}

// testKey is the signing key of the consoles of tests with no database.
var testKey = []byte("0123456789abcdef0123456789abcdef")
