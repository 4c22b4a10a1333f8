package schedule_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/affinity-sync/affinity-sync/schedule"
)

// processLock is a Locker for a single replica. The binary uses a Postgres session advisory
// lock instead, so that replicas never run at the same time.
type processLock struct{ mu sync.Mutex }

func (l *processLock) TryLock(context.Context) (func(), bool, error) {
	if !l.mu.TryLock() {
		return nil, false, nil
	}
	return l.mu.Unlock, true, nil
}

func ExampleDaemon() {
	ran := make(chan string, 1)
	fullPass := func(ctx context.Context) error { // e.g. every stream
		ran <- "full pass"
		return nil
	}
	changeFeed := func(ctx context.Context) error { return nil } // e.g. field value changes
	d, err := schedule.New([]schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: fullPass, Coalesce: true},
		{Name: "changes", Spec: "*/30 * * * *", Run: changeFeed},
	}, &processLock{}, schedule.Options{
		// The warehouse has no complete pass yet: run one now rather than at 02:00 UTC.
		RunAtStart: func(context.Context) (string, bool, error) { return "sync", true, nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-ran, "at start")

	// On SIGTERM: stop scheduling, cancel the run in flight, wait for it.
	if err := d.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output: full pass at start
}
