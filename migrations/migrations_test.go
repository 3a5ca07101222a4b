package migrations_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/migrations"
)

func TestUpTwiceAndCheck(t *testing.T) {
	ctx := context.Background()
	pool := testdb.EmptyPool(t)

	err := migrations.Check(ctx, pool)
	require.ErrorIs(t, err, migrations.ErrSchemaBehind)

	first, err := migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	require.NotEmpty(t, first.AppApplied)
	require.NotEmpty(t, first.RiverApplied)

	second, err := migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	require.Empty(t, second.AppApplied, "a second run applies nothing")
	require.Empty(t, second.RiverApplied)

	require.NoError(t, migrations.Check(ctx, pool))

	// The tables later code relies on exist.
	for _, table := range []string{"campaign", "contact", "attempt", "webhook_event", "suppression", "river_job"} {
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists))
		require.True(t, exists, table)
	}
}

func TestUpConcurrently(t *testing.T) {
	ctx := context.Background()
	pool := testdb.EmptyPool(t)

	const runners = 4
	var wg sync.WaitGroup
	results := make([]migrations.Result, runners)
	errs := make([]error, runners)
	for i := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.Up(ctx, pool, nil)
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	// Exactly one runner applied each migration; the others found nothing to do.
	appliers := 0
	for _, r := range results {
		if len(r.AppApplied) > 0 {
			appliers++
		}
	}
	require.Equal(t, 1, appliers)
	require.NoError(t, migrations.Check(ctx, pool))
}
