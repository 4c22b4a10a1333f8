// Package quota keeps the sync within its request budget (docs/quota.md).
// Every request is reserved in a Postgres ledger before it is sent, in
// small blocks, so restarts, crashes and replicas never reset or under-count
// it; the caps come from the configuration, less the reserve left for the
// key's other users, and are tightened by what the server reports. With
// Limits.PaceMonth a day's cap is also an even share of what is left of the
// month's allowance, and Budget.Month projects the month to its end.
package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"strconv"
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

// Limits are the configured caps (the quota keys, docs/configuration.md).
type Limits struct {
	Daily, Monthly int64   // 0 = no cap
	PerMinute      int     // 0 = no client-side limit
	Reserve        float64 // share of each cap left for the key's other users
	// PaceMonth (quota.pace: month) caps each day at an even share of what is left of the
	// month's allowance, when one is known (PacedDayCap).
	PaceMonth bool
}

// EffectiveDaily is the daily cap in effect: Daily × (1 − Reserve), 0 = none.
func (l Limits) EffectiveDaily() int64 { return shrink(l.Daily, l.Reserve) }

// EffectiveMonthly is the monthly cap in effect, 0 = none.
func (l Limits) EffectiveMonthly() int64 { return shrink(l.Monthly, l.Reserve) }

// EffectivePerMinute is the per-minute rate in effect, 0 = none.
func (l Limits) EffectivePerMinute() int { return int(shrink(int64(l.PerMinute), l.Reserve)) }

// shrink is floor(n × (1 − reserve)) for a cap n, at least 1 so that a cap never turns into
// "no cap"; 0 stays 0.
func shrink(n int64, reserve float64) int64 {
	if n <= 0 {
		return 0
	}
	return max(1, n-reserveShare(n, reserve))
}

// reserveShare is the part of n left to the key's other users: ceil(n × reserve), computed
// exactly on the decimal the configuration gave (in float64, 100 × (1 − 0.34) is
// 65.99999999999999, which would cost the cap a request). reserve is clamped to [0, 1].
func reserveShare(n int64, reserve float64) int64 {
	if n <= 0 || !(reserve > 0) {
		return 0
	}
	if reserve >= 1 {
		return n
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(reserve, 'g', -1, 64))
	if !ok {
		return 0
	}
	r.Mul(r, new(big.Rat).SetInt64(n))
	share, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		share.Add(share, big.NewInt(1))
	}
	return share.Int64()
}

// PacedDayCap is the month's pace: an even share of what is left of allowance (less the
// reserve, as shrink computes it) after spentBefore (the month's requests before today), over
// the days left in the month of day, today included — floored, never negative. allowance 0
// (unknown) paces nothing: the result is -1.
func PacedDayCap(allowance, spentBefore int64, reserve float64, day time.Time) int64 {
	if allowance <= 0 {
		return -1
	}
	return max(0, (shrink(allowance, reserve)-spentBefore)/DaysLeft(day))
}

// DaysLeft is the number of UTC days left in t's month, t's day included.
func DaysLeft(t time.Time) int64 {
	day, month := Periods(t)
	return int64(nextMonth(month).Sub(day).Hours()+0.5) / 24
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
	sentBy    map[string]int64
	server    serverView
	exhausted string // why the budget is spent, once it is
	pace      pace   // the day cap in effect, computed once a day and when the allowance changes
}

// pace is the daily cap in effect on day, for the month's allowance as it was known.
type pace struct {
	day       time.Time
	allowance int64
	dayCap    int64 // 0 = none
	paced     bool  // the month's pace, not quota.daily_requests, sets dayCap
}

// serverView is what the server last said about the account's month.
type serverView struct {
	known            bool
	monthlyLimit     int64 // 0 = not reported
	monthlyRemaining int64
	month            time.Time // UTC month of the report: the allowance resets with the calendar month
	sentAt           int64     // Budget.sent when it was reported
}

// serverLeft is what the server's last report leaves in month, less the reserve's share and
// the requests permitted since; ok is false when no report of month binds.
func (b *Budget) serverLeft(month time.Time) (left int64, ok bool) {
	v := b.server
	if !v.known || !v.month.Equal(month) {
		return 0, false
	}
	return v.monthlyRemaining - reserveShare(v.monthlyLimit, b.limits.Reserve) - (b.sent - v.sentAt), true
}

// allowance is the month's allowance the pace divides: quota.monthly_requests, else the
// monthly limit the server reported this month; 0 = unknown. from names where it came from.
func (b *Budget) allowance(month time.Time) (n int64, from string) {
	if b.limits.Monthly > 0 {
		return b.limits.Monthly, AllowanceFromConfig
	}
	if v := b.server; v.known && v.month.Equal(month) && v.monthlyLimit > 0 {
		return v.monthlyLimit, AllowanceFromServer
	}
	return 0, ""
}

// Where a month's allowance came from (Status.AllowanceFrom, MonthProjection.AllowanceFrom).
const (
	AllowanceFromConfig = "quota.monthly_requests"
	AllowanceFromServer = "Affinity"
)

// dayCap is the daily cap in effect on day: EffectiveDaily, or less when the month's pace
// (Limits.PaceMonth) binds. It reads the ledger once a day and again when the allowance
// changes; "spent before today" is the month's count less today's, so the cap does not shrink
// as today spends. The caller holds b.mu.
func (b *Budget) dayCap(ctx context.Context, day, month time.Time) (pace, error) {
	daily := b.limits.EffectiveDaily()
	allowance, _ := b.allowance(month)
	if !b.limits.PaceMonth || allowance == 0 {
		return pace{day: day, dayCap: daily}, nil
	}
	if b.pace.day.Equal(day) && b.pace.allowance == allowance {
		return b.pace, nil
	}
	dayUsed, monthUsed, err := b.ledger.Spent(ctx, day, month)
	if err != nil {
		return pace{}, fmt.Errorf("read the ledger: %w", err)
	}
	b.pace = paceOf(b.limits, day, allowance, monthUsed-dayUsed)
	return b.pace, nil
}

// paceOf is the day cap in effect on day for allowance, after spentBefore requests this month.
func paceOf(l Limits, day time.Time, allowance, spentBefore int64) pace {
	p := pace{day: day, allowance: allowance, dayCap: l.EffectiveDaily()}
	paced := PacedDayCap(allowance, spentBefore, l.Reserve, day)
	if paced >= 0 && (p.dayCap == 0 || paced < p.dayCap) {
		p.dayCap, p.paced = paced, true
	}
	return p
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
// client calls before every attempt (affinity.WithReserve). The request counts
// for the label of ctx (affinity.WithLabel) in SentBy.
func (b *Budget) Reserve(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	day, month := Periods(now)
	if !day.Equal(b.day) {
		b.newDay(ctx, day)
	}
	// The server's count binds when it says less is left than the ledger believes: never
	// use the reserve's share of what is left. It is checked before every request, so a
	// report that tightens the budget takes effect at once, even inside a block.
	serverLeft, serverBinds := b.serverLeft(month)
	if serverBinds && serverLeft <= 0 {
		return b.spent("the account's monthly allowance reported by Affinity is used up, less the reserve", nextMonth(month))
	}
	if b.block == 0 {
		want := int64(blockSize)
		if serverBinds {
			want = min(want, serverLeft)
		}
		if err := b.refill(ctx, day, month, want); err != nil {
			return err
		}
	}
	b.block--
	b.sent++
	if b.sentBy == nil {
		b.sentBy = map[string]int64{}
	}
	b.sentBy[affinity.LabelOf(ctx)]++
	return nil
}

// newDay starts the local block afresh on day. The unused rest of the old block was
// counted on the old day and month; it is given back there (on failure the ledger merely
// over-counts).
func (b *Budget) newDay(ctx context.Context, day time.Time) {
	if b.block > 0 {
		_, oldMonth := Periods(b.day)
		if err := b.ledger.Release(ctx, b.day, oldMonth, b.block); err != nil {
			b.log.Warn("give back the unused requests of the previous day", "day", b.day, "requests", b.block, "error", err)
		}
	}
	b.day, b.block, b.exhausted = day, 0, ""
}

// spentToday is the reason of a refusal by the day cap p.
func spentToday(p pace, dayUsed int64) string {
	if p.paced {
		return fmt.Sprintf("today's even share of the month's allowance left (%d of %d used; quota.pace: month)", dayUsed, p.dayCap)
	}
	return fmt.Sprintf("%d of %d requests of today (UTC) used", dayUsed, p.dayCap)
}

func (b *Budget) refill(ctx context.Context, day, month time.Time, want int64) error {
	monthCap := b.limits.EffectiveMonthly()
	p, err := b.dayCap(ctx, day, month)
	if err != nil {
		return err
	}
	var got int64
	if !p.paced || p.dayCap > 0 { // a paced cap of 0 is "nothing today", not "no cap"
		if got, err = b.ledger.Reserve(ctx, day, month, want, p.dayCap, monthCap); err != nil {
			return fmt.Errorf("reserve requests in the ledger: %w", err)
		}
	}
	if got == 0 {
		dayUsed, monthUsed, err := b.ledger.Spent(ctx, day, month)
		if err != nil {
			return fmt.Errorf("read the ledger: %w", err)
		}
		if p.dayCap > 0 && dayUsed >= p.dayCap || p.paced && p.dayCap == 0 {
			return b.spent(spentToday(p, dayUsed), day.AddDate(0, 0, 1))
		}
		return b.spent(fmt.Sprintf("%d of %d requests of this month (UTC) used", monthUsed, monthCap), nextMonth(month))
	}
	b.block, b.exhausted = got, ""
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
	b.observe(h.OrgLimit, h.OrgRemaining)
}

// ObserveRateLimit takes the answer of GET /rate-limit into account.
func (b *Budget) ObserveRateLimit(rl affinity.RateLimit) {
	b.observe(rl.OrgMonthly.Limit, rl.OrgMonthly.Remaining)
}

// observe records the account's monthly allowance as the server reports it: "unlimited"
// clears what is known, a missing or unreadable remaining count changes nothing.
func (b *Budget) observe(limit, remaining affinity.Count) {
	if !remaining.Known {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if remaining.Unlimited || limit.Unlimited {
		b.server = serverView{}
		return
	}
	_, month := Periods(b.now())
	b.server = serverView{known: true, monthlyRemaining: remaining.N, month: month, sentAt: b.sent}
	if limit.Known {
		b.server.monthlyLimit = limit.N
	}
}

// Sent is how many requests this Budget permitted.
func (b *Budget) Sent() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}

// SentBy splits Sent by the label of the contexts the requests were reserved with
// (affinity.WithLabel; "" for none): its counts add up to Sent.
func (b *Budget) SentBy() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.sentBy)
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
	ServerMonthlyRemaining *int64 // as last reported by Affinity this month, when limited
	ServerMonthlyLimit     *int64 // nil when not reported
	// DayPaced says DayCap is the month's pace (quota.pace: month): an even share of what is
	// left of Allowance over the days left in the month, below quota.daily_requests.
	DayPaced bool
	// Allowance is the month's allowance the pace divides (before the reserve), 0 = unknown;
	// AllowanceFrom says where it came from (AllowanceFromConfig, AllowanceFromServer).
	Allowance     int64
	AllowanceFrom string
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
	b.mu.Lock()
	allowance, from := b.allowance(month)
	b.mu.Unlock()
	st := Status{DayUsed: dayUsed, MonthUsed: monthUsed, DayCap: b.limits.EffectiveDaily(), MonthCap: b.limits.EffectiveMonthly(),
		DayLeft: -1, MonthLeft: -1, DayResets: day.AddDate(0, 0, 1), MonthResets: nextMonth(month),
		Allowance: allowance, AllowanceFrom: from}
	if b.limits.PaceMonth && allowance > 0 {
		p := paceOf(b.limits, day, allowance, monthUsed-dayUsed)
		st.DayCap, st.DayPaced = p.dayCap, p.paced
	}
	if st.DayCap > 0 || st.DayPaced {
		st.DayLeft = max(0, st.DayCap-dayUsed)
	}
	if st.MonthCap > 0 {
		st.MonthLeft = max(0, st.MonthCap-monthUsed)
	}
	b.mu.Lock()
	server := b.server
	serverLeft, serverBinds := b.serverLeft(month)
	b.mu.Unlock()
	if serverBinds {
		rem := server.monthlyRemaining
		st.ServerMonthlyRemaining = &rem
		if server.monthlyLimit > 0 {
			lim := server.monthlyLimit
			st.ServerMonthlyLimit = &lim
		}
		left := max(0, serverLeft)
		if st.MonthLeft < 0 || left < st.MonthLeft {
			st.MonthLeft = left
		}
	}
	return st, nil
}

// IsSpent reports whether err means the budget is spent.
func IsSpent(err error) bool { return errors.Is(err, affinity.ErrBudgetSpent) }
