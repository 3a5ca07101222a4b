package campaign_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

func TestDefaultCampaignName(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 30, 12, 0, time.FixedZone("EST", -5*3600))
	for _, tt := range []struct{ file, want string }{
		{"customers.csv", "customers-20261122-203012"},
		{"/data/nov/customers.final.csv", "customers.final-20261122-203012"},
		{"stdin", "stdin-20261122-203012"},
		{"list", "list-20261122-203012"},
	} {
		require.Equal(t, tt.want, campaign.DefaultCampaignName(tt.file, at), tt.file)
	}
}

// fileImport is a FileImport of csv from source at now, with rejects going to the returned buffer.
func fileImport(t *testing.T, source, csv string, now time.Time) (campaign.FileImport, *bytes.Buffer) {
	t.Helper()
	r, err := campaign.NewReader(strings.NewReader(csv), campaign.ReaderOptions{DefaultRegion: "US", DefaultTimeZone: "UTC"})
	require.NoError(t, err)
	rejects := &bytes.Buffer{}
	return campaign.FileImport{
		Reader: r, Source: source, Now: now, Rejects: rejects, RejectsPath: "/tmp/rejects.csv",
		Settings: campaign.Settings{WindowSpec: "mon-fri 09:00-17:00", DefaultTimeZone: "UTC", DefaultRegion: "US",
			MaxConcurrent: 1, MaxAttempts: 1, RetryPolicy: "none"},
	}, rejects
}

func TestImportFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	// Sunday 2026-11-22 23:30 UTC: Monday 09:00 opens first in Tokyo, then in New York.
	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)

	f, rejects := fileImport(t, "/in/customers.csv", "phone,tz\n+14155550100,America/New_York\n+14155550101,Asia/Tokyo\n"+
		"+14155550102,America/New_York\nnot a number,UTC\n", now)
	c, err := store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, "customers-20261122-233000", c.Name, "a default name")
	require.Equal(t, "/in/customers.csv", c.SourceFile)
	require.Equal(t, campaign.StatusDraft, c.Status)
	require.Len(t, c.WebhookSecret, 48, "a secret of the campaign's own")
	require.Equal(t, 3, c.ImportStats.Accepted)
	require.Equal(t, "/tmp/rejects.csv", c.ImportStats.RejectsFile)
	require.Contains(t, rejects.String(), "not a number", "rejects written and flushed")

	openings, err := store.ZoneOpenings(ctx, c, campaign.ParseCallingHours(c.WindowSpec), now)
	require.NoError(t, err)
	require.Len(t, openings, 2)
	require.Equal(t, []string{"America/New_York"}, openings[0].TimeZones, "largest first")
	require.Equal(t, 2, openings[0].Contacts)
	require.Equal(t, time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC), openings[0].FirstCallable.UTC())
	require.Equal(t, "America/New_York", openings[0].Location.String())
	require.False(t, openings[0].CallableNow)
	require.Empty(t, openings[0].Fail)
	require.Equal(t, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), openings[1].FirstCallable.UTC())
	opened, err := store.ZoneOpenings(ctx, c, campaign.ParseCallingHours(c.WindowSpec), openings[1].FirstCallable)
	require.NoError(t, err)
	require.True(t, opened[1].CallableNow, "Tokyo at 09:00 on Monday")

	// The same base name and time, another file: the next free name; the given secret is kept;
	// nothing rejected, nothing written.
	f, rejects = fileImport(t, "/other/customers.csv", "phone\n+14155550199\n", now)
	f.Settings.WebhookSecret = "given"
	c, err = store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, "customers-20261122-233000-2", c.Name)
	require.Equal(t, "given", c.WebhookSecret)
	require.Empty(t, c.ImportStats.RejectsFile)
	require.Empty(t, rejects.String())

	// A name asked for and taken by a campaign of another file.
	f, _ = fileImport(t, "/third.csv", "phone\n+14155550198\n", now)
	f.Name = "customers-20261122-233000-2"
	_, err = store.ImportFile(ctx, f)
	require.ErrorIs(t, err, campaign.ErrNameTaken)

	f, _ = fileImport(t, "stdin", "phone\n\n", now)
	_, err = store.ImportFile(ctx, f)
	require.ErrorIs(t, err, campaign.ErrNoDataRows)
	require.EqualError(t, err, "stdin: the file has a header but no data rows; nothing was imported")
}
