package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

// cmdWebhook handles "webhook subscribe --url URL [--events a,b]": it registers the daemon's
// webhook endpoint with Affinity (POST /webhook/subscribe), refusing when the workspace
// already has Affinity's limit of three subscriptions (GET /webhook). Both requests count in
// the ledger.
func cmdWebhook(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "subscribe" {
		return usagef("webhook: usage: webhook subscribe --url URL [--events a,b]")
	}
	fs := newFlags("webhook subscribe", e)
	target := fs.String("url", "", "the daemon's public webhook URL, e.g. https://sync.example.com/webhooks/affinity (the token is added from webhook.token)")
	eventsFlag := fs.String("events", "", "comma-separated event names (default: every event)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("webhook subscribe: unexpected argument %q", fs.Arg(0))
	}
	cfg, log, err := e.commandConfig(true)
	if err != nil {
		return err
	}
	hookURL, err := webhookURL(*target, cfg.Webhook.Token.reveal())
	if err != nil {
		return err
	}
	events := splitList(*eventsFlag)
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	budget := quota.New(store, cfg.limits(), time.Now, log)
	defer closeBudget(ctx, budget, log)
	client, err := newClient(cfg, log, budget)
	if err != nil {
		return err
	}
	subs, err := client.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("list webhook subscriptions: %w", err)
	}
	bare := stripQuery(hookURL)
	for _, s := range subs {
		if stripQuery(s.WebhookURL) == bare {
			fmt.Fprintf(e.stdout, "already subscribed: subscription %d delivers to %s\n", s.ID, bare)
			return nil
		}
	}
	if len(subs) >= affinity.MaxWebhookSubscriptions {
		ids := make([]string, len(subs))
		for i, s := range subs {
			ids[i] = fmt.Sprintf("%d (%s)", s.ID, stripQuery(s.WebhookURL))
		}
		return fmt.Errorf("webhook subscribe: the workspace already has %d subscriptions, Affinity's limit: %s; delete one in Affinity first",
			len(subs), strings.Join(ids, ", "))
	}
	sub, err := client.SubscribeWebhook(ctx, hookURL, events)
	if err != nil {
		return fmt.Errorf("webhook subscribe: %w", err)
	}
	what := "every event"
	if len(sub.Subscriptions) > 0 {
		what = strings.Join(sub.Subscriptions, ", ")
	}
	fmt.Fprintf(e.stdout, "subscribed: subscription %d delivers %s to %s\n", sub.ID, what, bare)
	return nil
}

// webhookURL checks the daemon's public URL and adds the token as the token query parameter.
func webhookURL(raw, token string) (string, error) {
	if raw == "" {
		return "", usagef("webhook subscribe: --url is required")
	}
	if token == "" {
		return "", usagef("webhook subscribe: no webhook token: set AFFINITY_WEBHOOK_TOKEN or webhook.token (the daemon refuses deliveries without it)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", usagef("webhook subscribe: --url must be an absolute http(s) URL")
	}
	if u.Query().Has("token") {
		return "", usagef("webhook subscribe: --url must not carry the token; it is added from webhook.token")
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// stripQuery drops a URL's query (where the token is), for printing and comparing.
func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable url)"
	}
	u.RawQuery = ""
	return u.String()
}

// cmdHealthcheck asks the daemon's /healthz (or --url) and exits 0 only on a 200: the
// container image has no shell or curl, so compose's healthcheck runs the binary itself.
func cmdHealthcheck(ctx context.Context, e env, args []string) error {
	fs := newFlags("healthcheck", e)
	target := fs.String("url", "http://127.0.0.1:9464/healthz", "the URL to ask")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usagef("healthcheck: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", stripQuery(*target), resp.StatusCode)
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
