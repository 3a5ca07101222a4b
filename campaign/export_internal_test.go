package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestExportStructuredPathsAgree checks StructuredPaths' two ways, learning the shape from the calls
// that do not fit it and listing every call's keys, against structured data of every kind.
func TestExportStructuredPathsAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	store := NewStore(pool)
	var csv strings.Builder
	csv.WriteString("phone\n")
	docs := []string{
		`{"will_pay": true, "amount": 12.5, "tags": ["a", {"b": 1}], "note": null}`,
		`{"customer": {"email": "a@b.c", "address": {"city": "Paris", "zip": "75001"}}}`,
		`{"customer": "just a name", "k'quote": 1, "dotted.key": {"x": 1}}`,
		`{"empty": {}, "customer": {}}`,
		`["not", "an", "object"]`,
		`{"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": {"9": {"10": 1}}}}}}}}}}`,
		`{"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": 5}}}}}}}}`,
		`{"1": {"2": {"3": {"4": {"5": {"6": {"7": 7}}}}}}}`,
	}
	for i := range docs {
		fmt.Fprintf(&csv, "+1415555%04d\n", 100+i)
	}
	r, err := NewReader(strings.NewReader(csv.String()), ReaderOptions{})
	require.NoError(t, err)
	c, err := store.Import(ctx, NewCampaign{Name: "shapes", Settings: Settings{WindowSpec: "always", DefaultTimeZone: "UTC",
		DefaultRegion: "US", MaxConcurrent: 10, MaxAttempts: 3, RetryPolicy: "none"}}, ImportInput{Reader: r})
	require.NoError(t, err)
	now := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	require.NoError(t, store.Start(ctx, c.ID, now))
	contacts, err := store.Contacts(ctx, c.ID, len(docs))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE contact SET state = 'queued' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE campaign SET queued_contacts = $2 WHERE id = $1`, c.ID, len(docs))
	require.NoError(t, err)
	for i, ct := range contacts {
		g, err := store.BeginAttempt(ctx, ct.ID, now)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "%+v", g)
		callID := g.Attempt.Key
		require.NoError(t, store.CallCreated(ctx, g.Attempt.ID, callID, now, now))
		_, err = store.ApplyResult(ctx, CallResult{CallID: callID, EndedReason: "customer-ended-call",
			StructuredData: json.RawMessage(docs[i])}, now)
		require.NoError(t, err)
	}

	snap, err := store.BeginResults(ctx, c.ID)
	require.NoError(t, err)
	defer snap.Close(ctx)
	learned, err := snap.StructuredPaths(ctx)
	require.NoError(t, err)
	scanned, err := snap.structuredPathsByScan(ctx)
	require.NoError(t, err)
	sortPaths := func(ps []StructuredPath) {
		slices.SortFunc(ps, func(a, b StructuredPath) int { return slices.Compare(a, b) })
	}
	sortPaths(learned)
	sortPaths(scanned)
	require.Equal(t, scanned, learned)
	require.Contains(t, learned, StructuredPath{"1", "2", "3", "4", "5", "6", "7", "8"})
	require.Contains(t, learned, StructuredPath{"1", "2", "3", "4", "5", "6", "7"})
	require.Contains(t, learned, StructuredPath{"customer"})
	require.Contains(t, learned, StructuredPath{"customer", "address", "zip"})
	require.Contains(t, learned, StructuredPath{"k'quote"})
	require.Contains(t, learned, StructuredPath{"dotted.key", "x"})
}
