package server

import (
	"context"
	"sync/atomic"
)

// limiter bounds inference: at most cap(slots) requests decode and analyse at once, at most
// maxWaiting more wait for a slot, and any further request is refused at once so that a
// burst answers 503 quickly instead of piling up memory and latency.
type limiter struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

func newLimiter(slots, maxWaiting int) *limiter {
	return &limiter{slots: make(chan struct{}, slots), maxWaiting: int64(maxWaiting)}
}

// acquire takes a slot, waiting in the bounded queue if none is free. It returns errQueueFull
// when the queue is full and ctx.Err() when ctx ends while waiting. release must be called
// exactly once after a successful acquire.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-l.slots }
	select {
	case l.slots <- struct{}{}:
		return release, nil
	default:
	}
	if l.waiting.Add(1) > l.maxWaiting {
		l.waiting.Add(-1)
		return nil, errQueueFull
	}
	defer l.waiting.Add(-1)
	select {
	case l.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// inFlight returns the number of requests holding a slot.
func (l *limiter) inFlight() int { return len(l.slots) }

// queued returns the number of requests waiting for a slot.
func (l *limiter) queued() int { return int(l.waiting.Load()) }
