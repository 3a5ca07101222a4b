package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/campaign-run/campaign/campaign"
)

// pacingFlags are the flags that change a stored campaign's pacing, calling hours, retry
// rules and pre-dial hook: `campaign set` and `campaign resume` share them. Only flags given change anything.
type pacingFlags struct {
	rate          float64
	maxConcurrent int
	window        string
	retry         string
	maxAttempts   int
	callbackKey   string
	doNotCallKey  string
	maxCost       string
	predialURL    string
	notifyURL     string
	notifySpike   string
	startAt       string
	endBy         string
	// perNumberMaxConcurrent and perNumberDailyCap are the per-number limits (0: none).
	perNumberMaxConcurrent, perNumberDailyCap int
}

// pacingFlagNames lists the flags of pacingFlags, for usage messages.
const pacingFlagNames = "--rate, --max-concurrent, --window, --retry, --max-attempts, --callback-key, --do-not-call-key, --max-cost, --predial-url, --notify-url, --notify-spike, --start-at, --end-by, --per-number-max-concurrent or --per-number-daily-cap"

func addPacingFlags(f *pflag.FlagSet, p *pacingFlags) {
	f.Float64Var(&p.rate, "rate", 0, "calls created per second, at most (0: no limit)")
	f.IntVar(&p.maxConcurrent, "max-concurrent", 0, "live calls at once, at most")
	f.StringVar(&p.window, "window", "", `calling hours in each contact's local time, e.g. "mon-fri 09:00-20:00"`)
	f.StringVar(&p.retry, "retry", "", `retry policy by outcome, e.g. "no_answer=2@4h, busy=2@30m" ("none": no retries)`)
	f.IntVar(&p.maxAttempts, "max-attempts", 0, "calls per contact, at most, retries and callbacks included")
	f.StringVar(&p.callbackKey, "callback-key", "", "structured-data key of a callback time the person asked for")
	f.StringVar(&p.doNotCallKey, "do-not-call-key", "", "structured-data key that says the person asked not to be called")
	f.StringVar(&p.maxCost, "max-cost", "", `budget cap in USD: no new call once it could be passed ("none": remove the cap)`)
	f.StringVar(&p.predialURL, "predial-url", "", `pre-dial eligibility hook asked before each dial ("": none)`)
	f.StringVar(&p.notifyURL, "notify-url", "", `where to POST the campaign's notifications ("": nowhere)`)
	f.StringVar(&p.notifySpike, "notify-spike", "", `failure-spike rule: PERCENT%/CALLS (e.g. 50%/20), or "off"`)
	f.StringVar(&p.startAt, "start-at", "", `start no earlier than this (RFC 3339, "2026-12-08 09:00" or "09:00" in this machine's zone, "+2h"; "none": remove)`)
	f.StringVar(&p.endBy, "end-by", "", `begin no call from this time on; contacts not reached end "expired" (same forms; "none": remove)`)
	f.IntVar(&p.perNumberMaxConcurrent, "per-number-max-concurrent", 0, "live calls from one number at once, at most, across every campaign (0: no limit)")
	f.IntVar(&p.perNumberDailyCap, "per-number-daily-cap", 0, "calls placed from one number per UTC day, at most, across every campaign (0: no limit)")
}

// changes returns the campaign.Pacing of the flags given, checked; a bad value is a usage error.
// Schedule times are read at now, in this machine's zone when they do not say theirs.
func (p *pacingFlags) changes(f *pflag.FlagSet, now time.Time) (campaign.Pacing, error) {
	var c campaign.Pacing
	if f.Changed("rate") {
		if p.rate < 0 {
			return c, usageErrorf("--rate must be 0 (no limit) or more, got %v", p.rate)
		}
		c.RatePerSecond = &p.rate
	}
	if f.Changed("max-concurrent") {
		if p.maxConcurrent < 1 {
			return c, usageErrorf("--max-concurrent must be at least 1, got %d", p.maxConcurrent)
		}
		c.MaxConcurrent = &p.maxConcurrent
	}
	if f.Changed("window") {
		if _, err := campaign.ParseWindow(p.window); err != nil {
			return c, usageErrorf("--window: %v", err)
		}
		c.WindowSpec = &p.window
	}
	if f.Changed("retry") {
		if _, err := campaign.ParseRetryPolicy(p.retry); err != nil {
			return c, usageErrorf("--retry: %v", err)
		}
		c.RetryPolicy = &p.retry
	}
	if f.Changed("max-attempts") {
		if p.maxAttempts < 1 {
			return c, usageErrorf("--max-attempts must be at least 1, got %d", p.maxAttempts)
		}
		c.MaxAttempts = &p.maxAttempts
	}
	if f.Changed("callback-key") {
		if err := checkFollowUpKey("--callback-key", p.callbackKey); err != nil {
			return c, err
		}
		c.CallbackKey = &p.callbackKey
	}
	if f.Changed("do-not-call-key") {
		if err := checkFollowUpKey("--do-not-call-key", p.doNotCallKey); err != nil {
			return c, err
		}
		c.DoNotCallKey = &p.doNotCallKey
	}
	if f.Changed("max-cost") {
		usd, err := parseMaxCost(p.maxCost)
		if err != nil {
			return c, err
		}
		// campaign.Pacing says "no cap" with 0.
		c.MaxCostUSD = new(float64)
		if usd != nil {
			*c.MaxCostUSD = *usd
		}
	}
	if f.Changed("predial-url") {
		if err := checkPredialURL(p.predialURL); err != nil {
			return c, err
		}
		c.PredialURL = &p.predialURL
	}
	if f.Changed("notify-url") {
		if err := checkHookURL("--notify-url", p.notifyURL); err != nil {
			return c, err
		}
		c.NotifyURL = &p.notifyURL
	}
	if f.Changed("notify-spike") {
		rule, err := campaign.ParseSpike(p.notifySpike)
		if err != nil {
			return c, usageErrorf("--notify-spike: %v", err)
		}
		canonical := rule.String()
		c.NotifySpike = &canonical
	}
	for _, sf := range []struct {
		flag, value string
		to          **time.Time
	}{{"start-at", p.startAt, &c.StartAt}, {"end-by", p.endBy, &c.EndBy}} {
		if !f.Changed(sf.flag) {
			continue
		}
		t := time.Time{} // removes it
		if v := strings.TrimSpace(sf.value); v != "" && !strings.EqualFold(v, noSchedule) {
			var err error
			if t, err = parseScheduleFlag(sf.flag, v, time.Local, now); err != nil {
				return c, err
			}
		}
		*sf.to = &t
	}
	if c.EndBy != nil && !c.EndBy.IsZero() && !c.EndBy.After(now) {
		return c, usageErrorf("--end-by %s is in the past: to stop the campaign now, use campaign cancel", scheduleTime(*c.EndBy))
	}
	if c.StartAt != nil && c.EndBy != nil && !c.StartAt.IsZero() && !c.EndBy.IsZero() && !c.EndBy.After(*c.StartAt) {
		return c, usageErrorf("--end-by %s is not after --start-at %s: the end must come after the start",
			scheduleTime(*c.EndBy), scheduleTime(*c.StartAt))
	}
	for _, l := range []struct {
		flag string
		n    *int
		set  **int
	}{{"per-number-max-concurrent", &p.perNumberMaxConcurrent, &c.PerNumberMaxConcurrent}, {"per-number-daily-cap", &p.perNumberDailyCap, &c.PerNumberDailyCap}} {
		if f.Changed(l.flag) {
			if err := checkPerNumberLimit(l.flag, *l.n); err != nil {
				return c, err
			}
			*l.set = l.n
		}
	}
	return c, nil
}

// noMaxCost is the --max-cost value that means no budget cap.
const noMaxCost = campaign.NoMaxCost

// parseMaxCost reads a --max-cost value (campaign.ParseMaxCost); a bad one is a usage error.
func parseMaxCost(s string) (*float64, error) {
	usd, err := campaign.ParseMaxCost(s)
	if err != nil {
		return nil, usageErrorf("--max-cost %v", err)
	}
	return usd, nil
}

// maxCostText is a budget cap for people: "$25.00", or "none".
func maxCostText(usd *float64) string {
	if usd == nil {
		return noMaxCost
	}
	return fmt.Sprintf("$%.2f", *usd)
}

// checkFollowUpKey refuses a structured-data key that cannot be one: empty or padded.
func checkFollowUpKey(flag, key string) error {
	if key == "" || strings.TrimSpace(key) != key {
		return usageErrorf("%s must be a structured-data key without surrounding spaces, got %q", flag, key)
	}
	return nil
}

// writePacingChanges writes, for each setting p gives, its value before → after, or that it
// did not change.
func writePacingChanges(w io.Writer, p campaign.Pacing, before, after *campaign.Campaign) {
	line := func(name, old, new string) {
		if old == new {
			fmt.Fprintf(w, "  %s: %s (unchanged)\n", name, new)
			return
		}
		fmt.Fprintf(w, "  %s: %s → %s\n", name, old, new)
	}
	quote := func(s string) string { return fmt.Sprintf("%q", s) }
	if p.RatePerSecond != nil {
		line("rate", rateText(before.RatePerSecond), rateText(after.RatePerSecond))
	}
	if p.MaxConcurrent != nil {
		line("max concurrent", strconv.Itoa(before.MaxConcurrent), strconv.Itoa(after.MaxConcurrent))
	}
	if p.WindowSpec != nil {
		line("window", quote(before.WindowSpec), quote(after.WindowSpec))
	}
	if p.RetryPolicy != nil {
		line("retry", quote(before.RetryPolicy), quote(after.RetryPolicy))
	}
	if p.MaxAttempts != nil {
		line("max attempts", strconv.Itoa(before.MaxAttempts), strconv.Itoa(after.MaxAttempts))
	}
	if p.CallbackKey != nil {
		line("callback key", quote(before.CallbackKey), quote(after.CallbackKey))
	}
	if p.DoNotCallKey != nil {
		line("do-not-call key", quote(before.DoNotCallKey), quote(after.DoNotCallKey))
	}
	if p.MaxCostUSD != nil {
		line("max cost", maxCostText(before.MaxCostUSD), maxCostText(after.MaxCostUSD))
	}
	if p.PredialURL != nil {
		line("pre-dial URL", quote(before.PredialURL), quote(after.PredialURL))
	}
	if p.NotifyURL != nil {
		line("notify URL", quote(campaign.MaskURL(before.NotifyURL)), quote(campaign.MaskURL(after.NotifyURL)))
	}
	if p.NotifySpike != nil {
		line("failure-spike rule", before.NotifySpike, after.NotifySpike)
	}
	if p.StartAt != nil {
		line("start at", scheduleOrNone(before.StartAt), scheduleOrNone(after.StartAt))
	}
	if p.EndBy != nil {
		line("end by", scheduleOrNone(before.EndBy), scheduleOrNone(after.EndBy))
	}
	if p.PerNumberMaxConcurrent != nil {
		line("per-number max concurrent", perNumberLimitText(before.PerNumberMaxConcurrent),
			perNumberLimitText(after.PerNumberMaxConcurrent))
	}
	if p.PerNumberDailyCap != nil {
		line("per-number daily cap", perNumberLimitText(before.PerNumberDailyCap), perNumberLimitText(after.PerNumberDailyCap))
	}
	if before.Status != after.Status {
		// A start moved ahead takes a running campaign back to scheduled.
		line("status", string(before.Status), string(after.Status))
	}
}
