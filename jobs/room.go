package jobs

import (
	"context"
	"sync"
	"time"
)

// Waiting for a free slot of a campaign's cap.
const (
	// roomPoll is how often a process reads the room of a campaign that some of its dials wait
	// for (one read per campaign, however many wait).
	roomPoll = 25 * time.Millisecond
	// roomReadTimeout bounds one such read.
	roomReadTimeout = 5 * time.Second
	// maxRoomWaiters bounds the dials of one campaign that wait in one process for a slot
	// while holding a dial worker; the others snooze (capacityRecheck), so that a campaign at
	// its cap does not hold the workers that other campaigns' dials need.
	maxRoomWaiters = 8
)

// roomReader reads how many more calls a campaign's cap allows (campaign.Store.DialRoom).
type roomReader interface {
	DialRoom(ctx context.Context, campaignID int64) (int, error)
}

// roomWatch lets the dials of this process that BeginAttempt refused at a campaign's cap wait for
// a slot inside their job, instead of snoozing for capacityRecheck: the slot a call frees is then
// taken within about roomPoll, not seconds later, which keeps the cap full. One poller per
// campaign reads its room (a read that locks nothing) while dials wait, and wakes as many of them
// as there is room, longest waiting first. A woken dial asks BeginAttempt again, which alone
// decides under the campaign row's lock: the watch only says when asking is worth it, so it
// cannot let the cap be passed.
type roomWatch struct {
	mu sync.Mutex
	// waiting holds, per campaign being polled, its waiting dials' wake channels, oldest first.
	// A campaign is in the map exactly while its poller runs.
	waiting map[int64][]chan struct{}
}

// wait blocks until the poller of campaign id finds room for this dial (true), d passes, or ctx
// ends (false, with ctx's error). It returns false at once when maxRoomWaiters of the campaign's
// dials wait already.
func (w *roomWatch) wait(ctx context.Context, store roomReader, id int64, d time.Duration) (bool, error) {
	wake := make(chan struct{})
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[int64][]chan struct{}{}
	}
	queue, polling := w.waiting[id]
	if len(queue) >= maxRoomWaiters {
		w.mu.Unlock()
		return false, nil
	}
	w.waiting[id] = append(queue, wake)
	w.mu.Unlock()
	if !polling {
		go w.poll(store, id)
	}

	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-wake:
		return true, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	if !w.leave(id, wake) { // woken while giving up: the room is this dial's to try
		return true, ctx.Err()
	}
	return false, ctx.Err()
}

// leave removes a waiting dial's wake channel, reporting whether it was still waiting (not woken).
func (w *roomWatch) leave(id int64, wake chan struct{}) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	queue := w.waiting[id]
	for i, ch := range queue {
		if ch == wake {
			w.waiting[id] = append(queue[:i:i], queue[i+1:]...)
			return true
		}
	}
	return false
}

// poll reads campaign id's room every roomPoll and wakes that many of its waiting dials, oldest
// first, until none waits. A failed read wakes them all: BeginAttempt then meets the same fault,
// or decides.
func (w *roomWatch) poll(store roomReader, id int64) {
	tick := time.NewTicker(roomPoll)
	defer tick.Stop()
	for range tick.C {
		ctx, cancel := context.WithTimeout(context.Background(), roomReadTimeout)
		room, err := store.DialRoom(ctx, id)
		cancel()
		w.mu.Lock()
		queue := w.waiting[id]
		if err != nil || room > len(queue) {
			room = len(queue)
		}
		for _, wake := range queue[:room] {
			close(wake)
		}
		queue = queue[room:]
		if len(queue) == 0 {
			delete(w.waiting, id)
			w.mu.Unlock()
			return
		}
		w.waiting[id] = queue
		w.mu.Unlock()
	}
}
