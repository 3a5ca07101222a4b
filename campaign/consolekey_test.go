package campaign_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// TestConsoleKey: the first of several concurrent calls makes the key and every call, then and
// later, gets that one; another database has another.
func TestConsoleKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := store.ConsoleKey(ctx)
			require.NoError(t, err)
			keys[i] = k
		}()
	}
	wg.Wait()
	require.Len(t, keys[0], 32)
	for _, k := range keys {
		require.Equal(t, keys[0], k, "one key for every process on the database")
	}
	again, err := store.ConsoleKey(ctx)
	require.NoError(t, err)
	require.Equal(t, keys[0], again)
	other, err := campaign.NewStore(testdb.Pool(t)).ConsoleKey(ctx)
	require.NoError(t, err)
	require.NotEqual(t, keys[0], other)
}
