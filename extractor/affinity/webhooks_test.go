package affinity

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

func TestSubscribeWebhookAgainstFake(t *testing.T) {
	t.Parallel()
	fake := affinitytest.NewServer(affinitytest.Generate(affinitytest.DefaultConfig()), affinitytest.WithAPIKey(testKey))
	var reserved atomic.Int32
	var posts atomic.Int32
	c, _ := newTestClient(t, fake,
		WithReserve(func(context.Context) error { reserved.Add(1); return nil }),
		WithObserver(func(info RequestInfo) {
			if info.Method == http.MethodPost {
				posts.Add(1)
			}
		}))
	ctx := t.Context()

	subs, err := c.Webhooks(ctx)
	require.NoError(t, err)
	require.Empty(t, subs)

	const url = "https://sync.example/webhooks/affinity?token=s3cret-token"
	for i := range MaxWebhookSubscriptions {
		sub, err := c.SubscribeWebhook(ctx, url, []string{"person.updated", "list_entry.deleted"})
		require.NoError(t, err, "subscription %d", i+1)
		require.Equal(t, url, sub.WebhookURL)
		require.Equal(t, []string{"person.updated", "list_entry.deleted"}, sub.Subscriptions)
	}
	subs, err = c.Webhooks(ctx)
	require.NoError(t, err)
	require.Len(t, subs, MaxWebhookSubscriptions)

	_, err = c.SubscribeWebhook(ctx, url, nil)
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr), "got %v", err)
	require.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
	require.Equal(t, http.MethodPost, apiErr.Method)
	require.NotContains(t, err.Error(), "s3cret-token")

	_, err = c.SubscribeWebhook(ctx, url, []string{"no.such_event"})
	require.Error(t, err)
	require.Equal(t, MaxWebhookSubscriptions+2, fake.Requests()["POST /webhook/subscribe"], "a refused POST is sent once, never retried")
	require.Equal(t, int32(5), posts.Load())
	require.Equal(t, int32(7), reserved.Load(), "every request, POSTs included, is reserved")
	require.Len(t, fake.Webhooks(), MaxWebhookSubscriptions)
}

func TestScrubURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, msg string }{
		{"https://x.example/h?token=abc123", "POST /webhook/subscribe: status 422: bad url https://x.example/h?token=abc123"},
		{"https://x.example/h?token=a%2Fb", "echo token=a%2Fb and a/b"},
	} {
		err := scrubURL(errors.New(tc.msg), tc.url)
		require.NotContains(t, err.Error(), "abc123")
		require.NotContains(t, err.Error(), "a/b")
		require.True(t, strings.Contains(err.Error(), redactedText), err.Error())
	}
	plain := errors.New("nothing secret")
	require.Same(t, plain, scrubURL(plain, "https://x.example/h?token=zzz"))
}
