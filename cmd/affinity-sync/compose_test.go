package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestComposeFile checks what compose.yaml relies on (CI has no Docker engine to start it):
// the two services, the daemon's environment variables and secret file, a config the daemon
// accepts that listens where the port mapping and the healthcheck look, and a Dockerfile that
// runs the daemon by default.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			User        string            `yaml:"user"`
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Configs []struct {
				Source, Target string
			} `yaml:"configs"`
			Ports       []string `yaml:"ports"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
		Configs map[string]struct {
			Content string `yaml:"content"`
		} `yaml:"configs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	require.ElementsMatch(t, []string{"postgres", "affinity-sync"}, slices.Collect(maps.Keys(compose.Services)))

	pg := compose.Services["postgres"]
	require.True(t, strings.HasPrefix(pg.Image, "postgres:"))
	require.Equal(t, "affinity_sync", pg.Environment["POSTGRES_USER"])
	require.Equal(t, "affinity", pg.Environment["POSTGRES_DB"])
	require.Contains(t, strings.Join(pg.Healthcheck.Test, " "), "pg_isready")

	d := compose.Services["affinity-sync"]
	require.NotNil(t, d.Build, "built from the Dockerfile")
	require.Equal(t, "service_healthy", d.DependsOn["postgres"].Condition)
	require.Equal(t, "daemon", d.Command[len(d.Command)-1])
	require.Regexp(t, `^postgres://affinity_sync:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/affinity(\?|$)`, d.Environment["DATABASE_URL"])
	require.Equal(t, "/run/secrets/affinity_api_key", d.Environment["AFFINITY_API_KEY_FILE"])
	require.Contains(t, d.Environment, "AFFINITY_WEBHOOK_TOKEN")
	require.NotContains(t, d.Environment, "AFFINITY_API_KEY", "the key comes from the secret file, never the compose file")
	require.Equal(t, []string{"affinity_api_key"}, d.Secrets)
	require.NotEmpty(t, compose.Secrets["affinity_api_key"].File)
	require.Equal(t, []string{"127.0.0.1:9464:9464"}, d.Ports)
	require.Equal(t, []string{"CMD", "/usr/local/bin/affinity-sync", "healthcheck", "--url", "http://127.0.0.1:9464/healthz"}, d.Healthcheck.Test)

	// The mounted config is one the daemon accepts, and it listens where the port and the
	// healthcheck look.
	require.Len(t, d.Configs, 1)
	require.Equal(t, "/etc/affinity-sync/config.yaml", d.Configs[0].Target)
	require.Equal(t, []string{"--config", d.Configs[0].Target, "daemon"}, d.Command)
	content := compose.Configs[d.Configs[0].Source].Content
	cfg := defaultConfig()
	require.NoError(t, parseConfig([]byte(content), &cfg))
	require.NoError(t, cfg.validate())
	require.Equal(t, "0.0.0.0:9464", cfg.Server.Addr)

	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	require.NoError(t, err)
	requireReadableSecret(t, string(dockerfile), d.User, compose.Secrets["affinity_api_key"].File)
	require.Regexp(t, regexp.MustCompile(`(?m)^CMD \["daemon"\]$`), string(dockerfile))
	require.Regexp(t, regexp.MustCompile(`(?m)^COPY --from=build /out/affinity-sync /usr/local/bin/affinity-sync$`), string(dockerfile))
	require.Regexp(t, regexp.MustCompile(`(?m)^EXPOSE 9464$`), string(dockerfile))
}

// requireReadableSecret checks what makes the key readable inside the container. Compose
// without Swarm bind-mounts a file secret with the host file's owner and mode (the short form
// `secrets: [name]` is all it honours; uid/gid/mode are ignored), so the steps of the README
// must give the file to the uid the image runs as: the Dockerfile's USER, which the service
// does not override.
func requireReadableSecret(t *testing.T, dockerfile, serviceUser, secretFile string) {
	t.Helper()
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, user, "the Dockerfile names its user by number, so the README can chown to it")
	uid := user[1]
	require.Equal(t, "65532", uid, "distroless's nonroot")
	require.Empty(t, serviceUser, "compose runs the image's user, the one the key file is given to")

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	file := strings.TrimPrefix(secretFile, "./")
	steps := string(readme)
	require.Contains(t, steps, "chmod 600 "+file)
	require.Contains(t, steps, "chown "+uid+":"+user[2]+" "+file,
		"the README gives the secret file to the image's uid, or the daemon cannot read its key")
	require.Contains(t, steps, "printf '%s' \"$YOUR_AFFINITY_KEY\" > "+file)

	raw, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(raw), "chown "+uid+":"+user[2]+" "+file, "compose.yaml says why the key file needs its owner")
}
