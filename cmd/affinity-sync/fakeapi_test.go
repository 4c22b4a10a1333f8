package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// startFakeAPI runs `fake-api args...` in a goroutine and returns the base URL
// from its first stdout line, and a function that stops it and returns its
// exit code and whatever else it printed on stdout.
func startFakeAPI(t *testing.T, args ...string) (baseURL string, stop func() (code int, rest string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	pr, pw := io.Pipe()
	var errOut syncBuffer
	codes := make(chan int, 1)
	go func() {
		codes <- run(ctx, append([]string{"fake-api"}, args...), pw, &errOut, envOf(nil))
		_ = pw.Close()
	}()

	out := bufio.NewReader(pr)
	first, err := out.ReadString('\n')
	require.NoError(t, err, "stderr: %s", errOut.String())
	m := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:(\d+))\n$`).FindStringSubmatch(first)
	require.NotNil(t, m, "first line %q", first)
	require.NotEqual(t, "0", m[2], "port 0 must be replaced by the bound port")

	restCh := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(out)
		restCh <- string(b)
	}()
	return m[1], func() (int, string) {
		cancel()
		code := <-codes
		return code, <-restCh
	}
}

func getJSON(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.SetBasicAuth("", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	}
	return resp.StatusCode, body
}

func TestFakeAPIServesUntilCancelled(t *testing.T) {
	t.Parallel()
	base, stop := startFakeAPI(t, "--addr", "127.0.0.1:0")

	code, _ := getJSON(t, base+"/persons", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = getJSON(t, base+"/persons", "wrong")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := getJSON(t, base+"/persons", "demo-key")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, body["persons"])

	exit, rest := stop()
	require.Equal(t, exitOK, exit)
	require.Empty(t, rest, "fake-api prints exactly one line on stdout")

	// Stopped means stopped: the port no longer answers.
	_, err := http.Get(base + "/persons")
	require.Error(t, err)
}

func TestFakeAPIKeyAndSeed(t *testing.T) {
	t.Parallel()
	firstPage := func(args ...string) string {
		base, stop := startFakeAPI(t, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
		defer func() {
			code, rest := stop()
			require.Equal(t, exitOK, code)
			require.Empty(t, rest)
		}()
		code, _ := getJSON(t, base+"/persons", "demo-key")
		require.Equal(t, http.StatusUnauthorized, code, "only the key given by --key is accepted")
		code, body := getJSON(t, base+"/persons", "k2")
		require.Equal(t, http.StatusOK, code)
		b, err := json.Marshal(body["persons"])
		require.NoError(t, err)
		return string(b)
	}
	a := firstPage("--key", "k2", "--seed", "7", "--persons", "25")
	b := firstPage("--key", "k2", "--seed", "7", "--persons", "25")
	c := firstPage("--key", "k2", "--seed", "8", "--persons", "25")
	require.Equal(t, a, b, "the same seed gives the same workspace")
	require.NotEqual(t, a, c)
	require.True(t, strings.HasPrefix(a, "["), a)
}

func TestFakeAPIAddressInUse(t *testing.T) {
	t.Parallel()
	base, stop := startFakeAPI(t, "--addr", "127.0.0.1:0")
	defer stop()
	addr := strings.TrimPrefix(base, "http://")
	code, stdout, stderr := runCLI(t, nil, "fake-api", "--addr", addr)
	require.Equal(t, exitFailed, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, addr)
}

func TestFakeAPIV2Flags(t *testing.T) {
	t.Parallel()
	v2Status := func(args ...string) (int, string) {
		base, stop := startFakeAPI(t, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
		defer func() {
			code, rest := stop()
			require.Equal(t, exitOK, code)
			require.Empty(t, rest)
		}()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v2/persons?limit=1", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer demo-key")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := v2Status()
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"nextUrl":"http://127.0.0.1:`)
	code, body = v2Status("--v2", "403")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, `"code":"authorization"`)
	code, body = v2Status("--v2", "404", "--v2-disagree")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `"code":"not-found"`)
}

func TestFakeAPIV2ChangesFlag(t *testing.T) {
	t.Parallel()
	status := func(args ...string) map[string]int {
		base, stop := startFakeAPI(t, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
		defer func() {
			code, rest := stop()
			require.Equal(t, exitOK, code)
			require.Empty(t, rest)
		}()
		out := map[string]int{}
		for _, p := range []string{"/v2/field-value-changes?limit=1", "/v2/persons?limit=1"} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+p, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer demo-key")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			out[strings.Split(p, "?")[0]] = resp.StatusCode
		}
		return out
	}
	for _, c := range []struct {
		mode string
		feed int
	}{{"ok", http.StatusOK}, {"403", http.StatusForbidden}, {"404", http.StatusNotFound}, {"disagree", http.StatusOK}} {
		got := status("--v2-changes", c.mode)
		require.Equal(t, map[string]int{"/v2/field-value-changes": c.feed, "/v2/persons": http.StatusOK}, got, "--v2-changes %s", c.mode)
	}
}
