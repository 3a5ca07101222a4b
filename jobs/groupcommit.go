package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// Bounds of the group commit of webhook events.
const (
	// maxSaveBatch bounds the events one transaction records: 64 reports of 10-30 KB are 1-2 MB,
	// one round trip to store them and one WAL flush.
	maxSaveBatch = 64
	// batchTimeout bounds the recording of one batch, which runs detached from the
	// cancellation of the request that records it, as it carries the others' events too.
	batchTimeout = 30 * time.Second
	// maxSavers bounds the transactions recording events at once: while one waits for its
	// commit's WAL flush, the next batch is sent, and requests arriving meanwhile wait for one
	// of them to finish and form the batch after.
	maxSavers = 2
)

// errSaveAborted answers the requests of a batch whose recording was cut short (a panic).
var errSaveAborted = errors.New("record webhook event: the batch was aborted")

// groupCommit records webhook events (stores them raw and applies them) with group commit: the
// requests that arrive while a batch is being recorded wait together, and the first of them
// records them all in one transaction (campaign.Store.RecordEvents) once a saver is free. No
// timer: at low load a request is recorded at once, alone; under load the batches grow with the
// time a commit takes. A request returns only when its own event is committed (or failed), so
// a 2xx still follows a durable raw event. Its zero value is ready to use.
type groupCommit struct {
	mu      sync.Mutex
	waiting []*pendingSave
	savers  int // batches being saved, at most maxSavers
}

// pendingSave is one request's event waiting to be recorded.
type pendingSave struct {
	event campaign.RecordedEvent
	// record and err are set before saved is closed.
	record campaign.EventRecord
	err    error
	saved  chan struct{}
	// lead receives the batch this request is to save; the batch holds its own event.
	lead chan []*pendingSave
}

// EventBatchRecorder stores and applies webhook events in one transaction
// (campaign.Store.RecordEvents).
type EventBatchRecorder interface {
	RecordEvents(ctx context.Context, events []campaign.RecordedEvent, now time.Time) ([]campaign.EventRecord, error)
}

// record stores and applies e through store, at the time now tells, and returns what became of
// it once it is committed. It waits for its batch whatever becomes of ctx, whose values only
// the batch this request records, if it records one, keeps: a request cut short must not fail
// the others' events. An error fails the whole batch, and nothing of it is stored.
func (g *groupCommit) record(ctx context.Context, store EventBatchRecorder, now func() time.Time, e campaign.RecordedEvent) (campaign.EventRecord, error) {
	p := &pendingSave{event: e, saved: make(chan struct{}), lead: make(chan []*pendingSave, 1)}
	g.mu.Lock()
	g.waiting = append(g.waiting, p)
	if g.savers < maxSavers {
		g.savers++
		p.lead <- g.takeLocked()
	}
	g.mu.Unlock()
	for {
		select {
		case <-p.saved:
			return p.record, p.err
		case batch := <-p.lead:
			g.saveBatch(ctx, store, now, batch)
		}
	}
}

// takeLocked removes the first waiting events, up to maxSaveBatch, and returns them.
func (g *groupCommit) takeLocked() []*pendingSave {
	n := min(len(g.waiting), maxSaveBatch)
	batch := make([]*pendingSave, n)
	copy(batch, g.waiting)
	g.waiting = append(g.waiting[:0], g.waiting[n:]...)
	return batch
}

// saveBatch records batch, answers its requests, then hands the saver over to the first waiting
// request with the batch it is to record, or frees it when none waits.
func (g *groupCommit) saveBatch(ctx context.Context, store EventBatchRecorder, now func() time.Time, batch []*pendingSave) {
	answered := 0
	defer func() {
		for _, p := range batch[answered:] {
			p.err = errSaveAborted
			close(p.saved)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.waiting) == 0 {
			g.savers--
			return
		}
		next := g.takeLocked()
		next[0].lead <- next
	}()
	events := make([]campaign.RecordedEvent, len(batch))
	for i, p := range batch {
		events[i] = p.event
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	records, err := store.RecordEvents(ctx, events, now())
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.record = records[i]
		}
		close(p.saved)
		answered++
	}
}
