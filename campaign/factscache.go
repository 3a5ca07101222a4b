package campaign

import (
	"context"
	"sync"
	"time"
)

// FactsCache holds the campaign page's dear reads, a campaign's Progress and ReportFacts, for
// at most a given age each, and reads each of a campaign at most once at a time however many
// pages ask. On a million contacts Progress reads every contact and ReportFacts every call
// (BENCHMARKS.md, "Console queries"): far over what a page refreshing itself every few seconds,
// in several browsers, may cost the database. A read is served for the cache's age, or for
// readCostFactor times what it took if that is longer, so that however long a read takes, the
// cache spends at most 1/readCostFactor of one database connection's time on a campaign's
// reads of each kind. Its methods are safe for concurrent use.
type FactsCache struct {
	maxAge   time.Duration
	now      func() time.Time
	progress func(ctx context.Context, campaignID int64) (Progress, error)
	facts    func(ctx context.Context, campaignID int64) (*ReportFacts, error)

	mu      sync.Mutex
	entries map[factsKey]*factsEntry
}

// factsLoadTimeout bounds one read of FactsCache.
const factsLoadTimeout = time.Minute

// readCostFactor: a read that took d is served for at least readCostFactor × d (5% of a
// connection's time at most; a 15 s read of a million-contact report is served for 5 minutes).
const readCostFactor = 20

// factsKey names one read of one campaign.
type factsKey struct {
	campaignID int64
	report     bool // ReportFacts, else Progress
}

// factsEntry is one read, done or under way (done is closed when it is over).
type factsEntry struct {
	done     chan struct{}
	at       time.Time
	took     time.Duration // how long the read took, once done
	progress Progress
	facts    *ReportFacts
	err      error
}

// NewFactsCache returns a cache of store's reads that serves each for up to maxAge after it
// began, with now as the clock.
func NewFactsCache(store *Store, maxAge time.Duration, now func() time.Time) *FactsCache {
	return &FactsCache{maxAge: maxAge, now: now, progress: store.Progress, facts: store.ReportFacts,
		entries: map[factsKey]*factsEntry{}}
}

// Progress returns the campaign's Progress as read at most the cache's age ago (longer for a
// read that took long: see FactsCache), and when it was read (the time the read began).
func (c *FactsCache) Progress(ctx context.Context, campaignID int64) (Progress, time.Time, error) {
	e, err := c.get(ctx, factsKey{campaignID: campaignID}, func(ctx context.Context, e *factsEntry) error {
		p, err := c.progress(ctx, campaignID)
		e.progress = p
		return err
	})
	if err != nil {
		return Progress{}, time.Time{}, err
	}
	return e.progress, e.at, nil
}

// ReportFacts returns the campaign's ReportFacts as read at most the cache's age ago (longer for
// a read that took long: see FactsCache), and when they were read (the time the read began).
// The facts are shared: the caller must not change them.
func (c *FactsCache) ReportFacts(ctx context.Context, campaignID int64) (*ReportFacts, time.Time, error) {
	e, err := c.get(ctx, factsKey{campaignID: campaignID, report: true}, func(ctx context.Context, e *factsEntry) error {
		f, err := c.facts(ctx, campaignID)
		e.facts = f
		return err
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return e.facts, e.at, nil
}

// get returns the entry of k: a fresh one, the one being read (waiting for it), or a new read
// by load. A failed read is returned to those waiting for it and forgotten; entries past their
// age are dropped as others are read.
func (c *FactsCache) get(ctx context.Context, k factsKey, load func(context.Context, *factsEntry) error) (*factsEntry, error) {
	c.mu.Lock()
	now := c.now()
	for key, e := range c.entries {
		select {
		case <-e.done:
			if now.Sub(e.at) >= max(c.maxAge, readCostFactor*e.took) {
				delete(c.entries, key)
			}
		default:
		}
	}
	e, ok := c.entries[k]
	if !ok {
		e = &factsEntry{done: make(chan struct{}), at: now}
		c.entries[k] = e
		c.mu.Unlock()
		// Others may wait for this read: it goes on if the caller that began it goes away.
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), factsLoadTimeout)
		e.err = load(loadCtx, e)
		cancel()
		c.mu.Lock()
		e.took = c.now().Sub(e.at)
		if e.err != nil && c.entries[k] == e {
			delete(c.entries, k)
		}
		close(e.done)
		c.mu.Unlock()
		return e, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Forget drops what the cache holds of a campaign: the next reads of it go to the store (a read
// under way still serves those already waiting for it).
func (c *FactsCache) Forget(campaignID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, report := range []bool{false, true} {
		delete(c.entries, factsKey{campaignID: campaignID, report: report})
	}
}
