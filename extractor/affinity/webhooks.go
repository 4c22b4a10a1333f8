package affinity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
	err = c.send(ctx, request{method: http.MethodPost, endpoint: "/webhook/subscribe", path: "/webhook/subscribe",
		body: payload, once: true}, func(body io.Reader) error {
		return json.NewDecoder(body).Decode(&out)
	})
	if err != nil {
		return WebhookSubscription{}, scrubURL(err, webhookURL)
	}
	return out, nil
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
