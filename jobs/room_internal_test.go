package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// roomFunc is a roomReader.
type roomFunc func(ctx context.Context, campaignID int64) (int, error)

func (f roomFunc) DialRoom(ctx context.Context, campaignID int64) (int, error) {
	return f(ctx, campaignID)
}

// waitResult is what one roomWatch.wait returned.
type waitResult struct {
	woken bool
	err   error
}

// startWaiting starts a dial waiting for room of campaign id and returns once it is in the
// queue, so that the dials a test starts wait in the order it starts them.
func startWaiting(ctx context.Context, t *testing.T, w *roomWatch, store roomReader, id int64) <-chan waitResult {
	t.Helper()
	w.mu.Lock()
	before := len(w.waiting[id])
	w.mu.Unlock()
	done := make(chan waitResult, 1)
	go func() {
		woken, err := w.wait(ctx, store, id, time.Minute)
		done <- waitResult{woken, err}
	}()
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.waiting[id]) == before+1
	}, 10*time.Second, time.Millisecond)
	return done
}

// requirePollerStopped waits until the poller of campaign id has stopped.
func requirePollerStopped(t *testing.T, w *roomWatch, id int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, polling := w.waiting[id]
		return !polling
	}, 10*time.Second, time.Millisecond)
}

// TestRoomWatchWakesAsManyAsThereIsRoom: each read of the room wakes that many of the waiting
// dials, oldest first, and no more; a dial whose context ends stops waiting, unwoken; the poller
// stops when none waits.
func TestRoomWatchWakesAsManyAsThereIsRoom(t *testing.T) {
	t.Parallel()
	rooms := make(chan int) // each read takes the next room the test sends
	store := roomFunc(func(ctx context.Context, id int64) (int, error) {
		if id != 5 {
			return 0, fmt.Errorf("room of campaign %d read, want 5", id)
		}
		select {
		case r := <-rooms:
			return r, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	var w roomWatch
	ctx := context.Background()
	first := startWaiting(ctx, t, &w, store, 5)
	second := startWaiting(ctx, t, &w, store, 5)
	thirdCtx, cancelThird := context.WithCancel(ctx)
	third := startWaiting(thirdCtx, t, &w, store, 5)

	rooms <- 2
	require.Equal(t, waitResult{woken: true}, <-first)
	require.Equal(t, waitResult{woken: true}, <-second)
	// Two more reads with no room: the second is taken only once the first is handled.
	rooms <- 0
	rooms <- 0
	select {
	case r := <-third:
		t.Fatalf("the third dial returned %+v with no room", r)
	default:
	}
	cancelThird()
	require.Equal(t, waitResult{woken: false, err: context.Canceled}, <-third)

	rooms <- 1 // the poller's last read: nobody waits, so it stops
	requirePollerStopped(t, &w, 5)
}

// TestRoomWatchBoundsWaitersAndWakesAllOnError: beyond maxRoomWaiters of one campaign a dial does
// not wait (it snoozes), and a failed read of the room wakes every waiting dial, for BeginAttempt
// to decide.
func TestRoomWatchBoundsWaitersAndWakesAllOnError(t *testing.T) {
	t.Parallel()
	fail := make(chan struct{})
	store := roomFunc(func(ctx context.Context, _ int64) (int, error) {
		select {
		case <-fail:
			return 0, errors.New("connection reset")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	var w roomWatch
	ctx := context.Background()
	var waiting []<-chan waitResult
	for range maxRoomWaiters {
		waiting = append(waiting, startWaiting(ctx, t, &w, store, 9))
	}
	woken, err := w.wait(ctx, store, 9, time.Minute)
	require.NoError(t, err)
	require.False(t, woken, "one dial more than maxRoomWaiters waited")

	close(fail)
	for _, done := range waiting {
		require.Equal(t, waitResult{woken: true}, <-done)
	}
}

// TestRoomWatchGivesUpAfterItsWait: a dial with no room in its wait returns unwoken when the wait
// passes.
func TestRoomWatchGivesUpAfterItsWait(t *testing.T) {
	t.Parallel()
	var reads int
	store := roomFunc(func(context.Context, int64) (int, error) {
		reads++ // only the poller reads, one read at a time
		return 0, nil
	})
	var w roomWatch
	woken, err := w.wait(context.Background(), store, 3, 10*roomPoll)
	require.NoError(t, err)
	require.False(t, woken)
	requirePollerStopped(t, &w, 3)
	require.Positive(t, reads)
}
