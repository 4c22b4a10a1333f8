package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// cmdReset clears the named streams' checkpoints (and, for the per-entity
// streams, their freshness) so the next run re-reads them from the start.
func cmdReset(ctx context.Context, e env, args []string) error {
	fs := newFlags("reset", e)
	streamsFlag := fs.String("streams", "", "comma-separated streams to start over (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("reset: unexpected argument %q", fs.Arg(0))
	}
	if *streamsFlag == "" {
		return usagef("reset: name the streams to start over with --streams")
	}
	streams, _, err := effectiveStreams(*streamsFlag, nil)
	if err != nil {
		return err
	}
	cfg, log, err := e.commandConfig(false)
	if err != nil {
		return err
	}
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := extractor.ResetStreams(ctx, store, streams); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "reset %s: the next run re-reads them from the start\n", strings.Join(extractor.NamesOf(streams), ", "))
	return nil
}
