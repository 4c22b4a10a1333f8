package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// guard bounds every wait in these tests so a bug fails the test instead of hanging it. It is
// never the thing asserted: nothing in the package depends on real time except StopTimeout.
const guard = 10 * time.Second

// fakeClock is a manual clock: After channels fire only when Advance moves the time past
// their deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	armed   chan struct{} // poked whenever a waiter is added
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, armed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return ch
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// waitArmed blocks until some goroutine is waiting on the clock. The daemon's loop keeps
// exactly one waiter while idle and adds it only after it has handled the previous wake, so
// a pending waiter means the loop is done with everything the clock has fired so far.
func (c *fakeClock) waitArmed(t *testing.T) {
	t.Helper()
	deadline := time.After(guard)
	for c.pending() == 0 {
		select {
		case <-c.armed:
		case <-deadline:
			t.Fatal("nothing waits on the fake clock")
		}
	}
}

// advanceTo waits for the loop to be armed, then moves the clock to at and fires every
// waiter whose deadline has passed.
func (c *fakeClock) advanceTo(t *testing.T, at time.Time) {
	t.Helper()
	c.waitArmed(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.Before(c.now) {
		t.Fatalf("fake clock cannot go back from %s to %s", c.now, at)
	}
	c.now = at
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(at) {
			kept = append(kept, w)
			continue
		}
		w.ch <- at
	}
	c.waiters = kept
}

// suspend models a suspended machine: the wall clock moves on by d, but the waiters, which
// like real timers count monotonic time, are pushed back by the same d and do not fire.
func (c *fakeClock) suspend(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for i := range c.waiters {
		c.waiters[i].at = c.waiters[i].at.Add(d)
	}
}

// fakeLocker is a Locker whose answer the test sets; it counts acquisitions and releases.
type fakeLocker struct {
	mu       sync.Mutex
	refuse   bool
	err      error
	held     bool
	acquired int
	released int
}

func (l *fakeLocker) TryLock(context.Context) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, false, l.err
	}
	if l.refuse || l.held {
		return nil, false, nil
	}
	l.held = true
	l.acquired++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.held = false
			l.released++
		})
	}, true, nil
}

func (l *fakeLocker) set(refuse bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refuse, l.err = refuse, err
}

func (l *fakeLocker) counts() (acquired, released int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acquired, l.released
}
