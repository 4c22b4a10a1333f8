package schedule

// RunInfo lets the tests read what the loop reports about each run and skipped tick.
type RunInfo = runInfo

// Observe sets a hook that sees every run and every skipped tick, from the loop goroutine.
// Set it before Start.
func (d *Daemon) Observe(f func(RunInfo)) { d.observe = f }
