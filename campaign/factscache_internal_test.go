package campaign

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFactsCache: one read at a time per campaign and kind whatever the callers, served until
// it is maxAge old, a failed read forgotten, a caller that gives up not ending the read others
// wait for.
func TestFactsCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var (
		clockMu       sync.Mutex
		progressReads atomic.Int32
		factsReads    atomic.Int32
		release       = make(chan struct{})
		fail          atomic.Bool
	)
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	c := &FactsCache{maxAge: 10 * time.Second, now: clock, entries: map[factsKey]*factsEntry{},
		progress: func(ctx context.Context, id int64) (Progress, error) {
			n := progressReads.Add(1)
			<-release
			if fail.Load() {
				return Progress{}, errors.New("database down")
			}
			return Progress{Total: int(id)*1000 + int(n)}, nil
		},
		facts: func(ctx context.Context, id int64) (*ReportFacts, error) {
			factsReads.Add(1)
			return &ReportFacts{}, ctx.Err()
		},
	}
	ctx := context.Background()

	// Eight pages at once, one read.
	var wg sync.WaitGroup
	got := make([]Progress, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, at, err := c.Progress(ctx, 7)
			require.NoError(t, err)
			require.Equal(t, clock(), at)
			got[i] = p
		}()
	}
	// A caller that gives up while the read is under way gets its own error; the read goes on.
	waitFor(t, func() bool { return progressReads.Load() == 1 })
	gaveUp, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err := c.Progress(gaveUp, 7)
	require.ErrorIs(t, err, context.Canceled)
	close(release)
	wg.Wait()
	for _, p := range got {
		require.Equal(t, 7001, p.Total)
	}
	require.EqualValues(t, 1, progressReads.Load())

	// Fresh until maxAge; another campaign and the other kind are reads of their own.
	advance(9 * time.Second)
	p, _, err := c.Progress(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, 7001, p.Total)
	p, _, err = c.Progress(ctx, 8)
	require.NoError(t, err)
	require.Equal(t, 8002, p.Total)
	_, _, err = c.ReportFacts(ctx, 7)
	require.NoError(t, err)
	_, _, err = c.ReportFacts(ctx, 7)
	require.NoError(t, err)
	require.EqualValues(t, 1, factsReads.Load())
	advance(time.Second)
	p, at, err := c.Progress(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, 7003, p.Total, "read again at maxAge")
	require.Equal(t, clock(), at)

	// A failed read is not kept.
	advance(10 * time.Second)
	fail.Store(true)
	_, _, err = c.Progress(ctx, 7)
	require.ErrorContains(t, err, "database down")
	fail.Store(false)
	p, _, err = c.Progress(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, 7005, p.Total)
}

// waitFor waits for cond, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not met in 10 s")
		time.Sleep(time.Millisecond)
	}
}

// TestFactsCacheForget: a campaign forgotten is read again at once; another campaign's reads
// stay cached.
func TestFactsCacheForget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	reads := map[int64]int{}
	c := &FactsCache{maxAge: time.Hour, now: func() time.Time { return now }, entries: map[factsKey]*factsEntry{},
		progress: func(_ context.Context, id int64) (Progress, error) {
			reads[id]++
			return Progress{Total: reads[id]}, nil
		},
		facts: func(_ context.Context, id int64) (*ReportFacts, error) {
			reads[-id]++
			return &ReportFacts{}, nil
		},
	}
	ctx := context.Background()
	for _, id := range []int64{1, 2} {
		_, _, err := c.Progress(ctx, id)
		require.NoError(t, err)
		_, _, err = c.ReportFacts(ctx, id)
		require.NoError(t, err)
	}
	c.Forget(1)
	for _, id := range []int64{1, 2} {
		p, _, err := c.Progress(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 3-int(id), p.Total, "campaign %d's progress", id)
		_, _, err = c.ReportFacts(ctx, id)
		require.NoError(t, err)
	}
	require.Equal(t, map[int64]int{1: 2, -1: 2, 2: 1, -2: 1}, reads, "campaign 1 read again, campaign 2 not")
}

// TestFactsCacheServesSlowReadsLonger: a read that took long is served for readCostFactor times
// what it took when that is longer than the cache's age, so slow reads take a bounded share of
// the database's time; a quick read is served for the cache's age alone.
func TestFactsCacheServesSlowReadsLonger(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	var reads atomic.Int32
	readTakes := 2 * time.Second
	c := &FactsCache{maxAge: 10 * time.Second, now: clock, entries: map[factsKey]*factsEntry{},
		facts: func(context.Context, int64) (*ReportFacts, error) {
			reads.Add(1)
			advance(readTakes)
			return &ReportFacts{}, nil
		},
	}
	ctx := context.Background()
	read := func() {
		_, _, err := c.ReportFacts(ctx, 1)
		require.NoError(t, err)
	}

	read() // took 2 s: served for 40 s from its start
	advance(36 * time.Second)
	read()
	require.EqualValues(t, 1, reads.Load(), "38 s after a 2 s read began, it is still served")
	advance(2 * time.Second)
	read()
	require.EqualValues(t, 2, reads.Load(), "40 s after it began, it is read again")

	readTakes = 100 * time.Millisecond // quick: served for the cache's age, 10 s
	c.Forget(1)
	read()
	require.EqualValues(t, 3, reads.Load())
	advance(9 * time.Second)
	read()
	require.EqualValues(t, 3, reads.Load(), "9.1 s after a quick read began, it is still served")
	advance(time.Second)
	read()
	require.EqualValues(t, 4, reads.Load(), "10.1 s after it began, it is read again")
}
