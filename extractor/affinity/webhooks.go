package affinity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxWebhookSubscriptions is how many webhook subscriptions Affinity allows per instance.
const MaxWebhookSubscriptions = 3

// WebhookSubscription is a webhook subscription (GET /webhook). An empty Subscriptions means
// every event.
type WebhookSubscription struct {
	ID            int64    `json:"id"`
	WebhookURL    string   `json:"webhook_url"`
	Subscriptions []string `json:"subscriptions"`
	Disabled      bool     `json:"disabled"`
	CreatedBy     *int64   `json:"created_by"`
}

// Webhooks lists the instance's webhook subscriptions (GET /webhook).
func (c *Client) Webhooks(ctx context.Context) ([]WebhookSubscription, error) {
	return getArray[WebhookSubscription](ctx, c, request{endpoint: "/webhook", path: "/webhook"})
}

// SubscribeWebhook creates a subscription that delivers events (nil = every event) to
// webhookURL (POST /webhook/subscribe). It is the client's only write: it is sent once and
// never retried, so a failure never leaves two subscriptions behind. webhookURL usually
// carries a secret token: it is removed from every error this call returns.
func (c *Client) SubscribeWebhook(ctx context.Context, webhookURL string, events []string) (WebhookSubscription, error) {
	if events == nil {
		events = []string{}
	}
	payload, err := json.Marshal(struct {
		URL    string   `json:"webhook_url"`
		Events []string `json:"subscriptions"`
	}{webhookURL, events})
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("POST /webhook/subscribe: encode body: %w", err)
	}
	var out WebhookSubscription
	err = c.post(ctx, request{endpoint: "/webhook/subscribe", path: "/webhook/subscribe"}, payload, &out)
	if err != nil {
		return WebhookSubscription{}, scrubURL(err, webhookURL)
	}
	return out, nil
}

// post sends one JSON POST: limiter, reservation, auth and observer as for a GET, but a single
// attempt, decoded into out.
func (c *Client) post(ctx context.Context, r request, payload []byte, out any) error {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("POST %s: wait for rate limiter: %w", r.path, err)
		}
	}
	if c.reserve != nil {
		if err := c.reserve(ctx); err != nil {
			return fmt.Errorf("POST %s: reserve request: %w", r.path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+r.path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("POST %s: build request: %w", r.path, c.redact.err(err))
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	info := RequestInfo{Method: http.MethodPost, Endpoint: r.endpoint, Path: r.path, Attempt: 1}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.redact.err(err)
		info.Err, info.Duration = err, time.Since(start)
		c.report(info)
		return fmt.Errorf("POST %s: %w", r.path, err)
	}
	defer resp.Body.Close()
	info.Status = resp.StatusCode
	info.RateLimit = ParseRateLimitHeaders(resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err = c.statusError(r, resp)
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			apiErr.Method = http.MethodPost
		}
	} else if derr := json.NewDecoder(resp.Body).Decode(out); derr != nil {
		err = &DecodeError{Endpoint: r.endpoint, Path: r.path, Err: c.redact.err(derr)}
	}
	info.Duration = time.Since(start)
	c.report(info)
	return err
}

// scrubURL removes a webhook URL (and its query, which holds the token) from an error's text.
type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.err }

func scrubURL(err error, webhookURL string) error {
	msg := err.Error()
	forms := []string{webhookURL}
	if u, perr := url.Parse(webhookURL); perr == nil && u.RawQuery != "" {
		forms = append(forms, u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				if v != "" {
					forms = append(forms, v, url.QueryEscape(v))
				}
			}
		}
	}
	for _, f := range forms {
		msg = strings.ReplaceAll(msg, f, redactedText)
	}
	if msg == err.Error() {
		return err
	}
	return scrubbed{msg: msg, err: err}
}
