package vapi

import (
	"context"
	"errors"
	"time"
)

// RetryRead runs read, which must only read (GetAssistant, GetCall, ListCalls, Analytics),
// up to attempts times while it fails with ErrorClassRetryable or ErrorClassRateLimited.
// Between tries it waits the Retry-After Vapi sent, else 500 ms doubling each time, never more
// than maxWait. It returns read's last error, or ctx's error if ctx ends while waiting.
//
// Never wrap CreateCall: a repeated POST /call can dial a customer twice (see
// [Client.CreateCall]).
func RetryRead(ctx context.Context, attempts int, maxWait time.Duration, read func() error) error {
	backoff := 500 * time.Millisecond
	for try := 1; ; try++ {
		err := read()
		class := Classify(err)
		if err == nil || try >= attempts || (class != ErrorClassRetryable && class != ErrorClassRateLimited) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		wait := backoff
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
			wait = apiErr.RetryAfter
		}
		wait = min(wait, maxWait)
		backoff *= 2
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(err, ctx.Err())
		case <-timer.C:
		}
	}
}
