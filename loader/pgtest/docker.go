package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startDocker runs postgres:15 through testcontainers-go. It is only called when an engine
// seems present; a panic inside the library becomes an error, and the whole start is bounded.
func startDocker(ctx context.Context, logger *slog.Logger) (srv *server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, "postgres:15",
		testcontainers.WithEnv(map[string]string{
			"POSTGRES_HOST_AUTH_METHOD": "trust",
			"POSTGRES_INITDB_ARGS":      "--encoding=UTF8 --no-locale",
		}),
		testcontainers.WithCmd("postgres", "-c", "fsync=off", "-c", "max_connections=200"),
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithWaitStrategy(
			// The entrypoint starts the server twice (init, then for real).
			wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
			wait.ForListeningPort("5432/tcp"),
		),
	)
	if err != nil {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
		return nil, fmt.Errorf("run postgres:15 container: %w", err)
	}
	endpoint, err := ctr.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("postgres container endpoint: %w", err)
	}
	logger.Info("pgtest: postgres container started", "endpoint", endpoint)
	return &server{
		adminURL: "postgres://postgres@" + endpoint + "/postgres?sslmode=disable",
		how:      "docker",
		stop:     func() error { return testcontainers.TerminateContainer(ctr) },
	}, nil
}
