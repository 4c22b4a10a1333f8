// Package quota keeps the sync within its request budget (design.md section
// 5). Every request is reserved in a Postgres ledger before it is sent, in
// small blocks, so restarts, crashes and replicas never reset or under-count
// it; the caps come from the configuration, less the reserve left for the
// key's other users, and are tightened by what the server reports.
package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

// Ledger stores the requests reserved per UTC day and month; the loader
// implements it.
type Ledger interface {
	// Reserve adds up to n requests to the day's and the month's counts,
	// never past the caps (0 = no cap), and returns how many it added.
	Reserve(ctx context.Context, day, month time.Time, n, dayCap, monthCap int64) (int64, error)
	// Release gives back n requests that were reserved but never sent.
	Release(ctx context.Context, day, month time.Time, n int64) error
	// Spent returns the counts of the day and the month.
	Spent(ctx context.Context, day, month time.Time) (dayUsed, monthUsed int64, err error)
}

// Limits are the configured caps (design.md section 3, quota keys).
type Limits struct {
	Daily, Monthly int64   // 0 = no cap
	PerMinute      int     // 0 = no client-side limit
	Reserve        float64 // share of each cap left for the key's other users
}

// EffectiveDaily is the daily cap in effect: Daily × (1 − Reserve), 0 = none.
func (l Limits) EffectiveDaily() int64 { return shrink(l.Daily, l.Reserve) }

// EffectiveMonthly is the monthly cap in effect, 0 = none.
func (l Limits) EffectiveMonthly() int64 { return shrink(l.Monthly, l.Reserve) }

// EffectivePerMinute is the per-minute rate in effect, 0 = none.
func (l Limits) EffectivePerMinute() int {
	if l.PerMinute <= 0 {
		return 0
	}
	return max(1, int(float64(l.PerMinute)*(1-l.Reserve)))
}

func shrink(n int64, reserve float64) int64 {
	if n <= 0 {
		return 0
	}
	return max(1, int64(float64(n)*(1-reserve)))
}

// blockSize is how many requests are reserved in the ledger at a time: small,
// so a crash over-counts little, large enough to keep ledger writes rare.
const blockSize = 10

// Budget hands out permission for one request at a time. It is safe for
// concurrent use.
type Budget struct {
	ledger Ledger
	limits Limits
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	day       time.Time // UTC day of the local block
	block     int64     // requests reserved in the ledger and not yet used
	sent      int64     // requests permitted by this Budget
	server    serverView
	exhausted string // why the budget is spent, once it is
}

// serverView is what the server last said about the account's month.
type serverView struct {
	known            bool
	monthlyLimit     int64 // 0 = unlimited or unknown
	monthlyRemaining int64
	at               time.Time
}

// New returns a Budget over ledger.
func New(ledger Ledger, limits Limits, now func() time.Time, log *slog.Logger) *Budget {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Budget{ledger: ledger, limits: limits, now: now, log: log}
}

// SpentError says why no request may be sent now; it wraps
// affinity.ErrBudgetSpent.
type SpentError struct {
	Reason string
	Resets time.Time // when budget is next available
}

func (e *SpentError) Error() string {
	return fmt.Sprintf("%s: %s (more after %s)", affinity.ErrBudgetSpent, e.Reason, e.Resets.UTC().Format(time.RFC3339))
}

func (e *SpentError) Unwrap() error { return affinity.ErrBudgetSpent }

// Periods returns the UTC day and month that t falls in.
func Periods(t time.Time) (day, month time.Time) {
	t = t.UTC()
	day = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	month = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return day, month
}

// Reserve permits one request, or returns a *SpentError. It is what the
// client calls before every attempt (affinity.WithReserve).
func (b *Budget) Reserve(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	day, month := Periods(now)
	if !day.Equal(b.day) {
		// A new day: the old block was counted on the old day and is gone.
		b.day, b.block, b.exhausted = day, 0, ""
	}
	if b.block == 0 {
		if err := b.refill(ctx, day, month); err != nil {
			return err
		}
	}
	b.block--
	b.sent++
	return nil
}

func (b *Budget) refill(ctx context.Context, day, month time.Time) error {
	monthCap := b.limits.EffectiveMonthly()
	want := int64(blockSize)
	if b.server.known && b.server.monthlyLimit > 0 {
		// The server's count binds when it says less is left than the
		// ledger believes: never use the reserve's share of what is left.
		left := b.server.monthlyRemaining - int64(float64(b.server.monthlyLimit)*b.limits.Reserve)
		if left <= 0 {
			return b.spent("the account's monthly allowance reported by Affinity is used up, less the reserve", nextMonth(month))
		}
		want = min(want, left)
	}
	got, err := b.ledger.Reserve(ctx, day, month, want, b.limits.EffectiveDaily(), monthCap)
	if err != nil {
		return fmt.Errorf("reserve requests in the ledger: %w", err)
	}
	if got == 0 {
		dayUsed, monthUsed, err := b.ledger.Spent(ctx, day, month)
		if err != nil {
			return fmt.Errorf("read the ledger: %w", err)
		}
		if dc := b.limits.EffectiveDaily(); dc > 0 && dayUsed >= dc {
			return b.spent(fmt.Sprintf("%d of %d requests of today (UTC) used", dayUsed, dc), day.AddDate(0, 0, 1))
		}
		return b.spent(fmt.Sprintf("%d of %d requests of this month (UTC) used", monthUsed, monthCap), nextMonth(month))
	}
	b.block = got
	return nil
}

func (b *Budget) spent(reason string, resets time.Time) error {
	if b.exhausted == "" {
		b.log.Warn("request budget spent", "reason", reason, "resets", resets)
	}
	b.exhausted = reason
	return &SpentError{Reason: reason, Resets: resets}
}

func nextMonth(month time.Time) time.Time { return month.AddDate(0, 1, 0) }

// Observe reads the rate-limit headers of every response (affinity.WithObserver).
func (b *Budget) Observe(info affinity.RequestInfo) {
	h := info.RateLimit
	if !h.OrgRemaining.Known {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if h.OrgRemaining.Unlimited || h.OrgLimit.Unlimited {
		b.server = serverView{}
		return
	}
	b.server = serverView{known: true, monthlyRemaining: h.OrgRemaining.N, at: b.now()}
	if h.OrgLimit.Known {
		b.server.monthlyLimit = h.OrgLimit.N
	}
}

// ObserveRateLimit takes the answer of GET /rate-limit into account.
func (b *Budget) ObserveRateLimit(rl affinity.RateLimit) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := rl.OrgMonthly
	if m.Limit.Unlimited || m.Remaining.Unlimited || !m.Remaining.Known {
		b.server = serverView{}
		return
	}
	b.server = serverView{known: true, monthlyLimit: m.Limit.N, monthlyRemaining: m.Remaining.N, at: b.now()}
}

// Sent is how many requests this Budget permitted.
func (b *Budget) Sent() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}

// Close gives the unused part of the current block back to the ledger.
func (b *Budget) Close(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.block == 0 {
		return nil
	}
	_, month := Periods(b.day)
	if err := b.ledger.Release(ctx, b.day, month, b.block); err != nil {
		return fmt.Errorf("release unused requests: %w", err)
	}
	b.block = 0
	return nil
}

// Status is the budget as status and plan print it.
type Status struct {
	DayUsed, MonthUsed     int64
	DayCap, MonthCap       int64 // in effect (after the reserve); 0 = none
	DayLeft, MonthLeft     int64 // -1 = unlimited
	DayResets, MonthResets time.Time
	ServerMonthlyRemaining *int64 // as last reported by Affinity, when limited
	ServerMonthlyLimit     *int64
}

// Left is what may still be spent now: the smaller of what each cap leaves,
// -1 when nothing caps it.
func (s Status) Left() int64 {
	left := int64(-1)
	for _, l := range []int64{s.DayLeft, s.MonthLeft} {
		if l >= 0 && (left < 0 || l < left) {
			left = l
		}
	}
	return left
}

// Status reads the ledger for now.
func (b *Budget) Status(ctx context.Context) (Status, error) {
	now := b.now()
	day, month := Periods(now)
	dayUsed, monthUsed, err := b.ledger.Spent(ctx, day, month)
	if err != nil {
		return Status{}, fmt.Errorf("read the ledger: %w", err)
	}
	st := Status{DayUsed: dayUsed, MonthUsed: monthUsed, DayCap: b.limits.EffectiveDaily(), MonthCap: b.limits.EffectiveMonthly(),
		DayLeft: -1, MonthLeft: -1, DayResets: day.AddDate(0, 0, 1), MonthResets: nextMonth(month)}
	if st.DayCap > 0 {
		st.DayLeft = max(0, st.DayCap-dayUsed)
	}
	if st.MonthCap > 0 {
		st.MonthLeft = max(0, st.MonthCap-monthUsed)
	}
	b.mu.Lock()
	server := b.server
	b.mu.Unlock()
	if server.known && server.monthlyLimit > 0 {
		rem, lim := server.monthlyRemaining, server.monthlyLimit
		st.ServerMonthlyRemaining, st.ServerMonthlyLimit = &rem, &lim
		left := max(0, rem-int64(float64(lim)*b.limits.Reserve))
		if st.MonthLeft < 0 || left < st.MonthLeft {
			st.MonthLeft = left
		}
	}
	return st, nil
}

// IsSpent reports whether err means the budget is spent.
func IsSpent(err error) bool { return errors.Is(err, affinity.ErrBudgetSpent) }
