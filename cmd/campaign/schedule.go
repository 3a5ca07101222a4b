package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// The schedule flags, --start-at and --end-by, of run (at launch), set and resume (changes).

// noSchedule is the --start-at or --end-by value of set and resume that removes it ("" too).
const noSchedule = "none"

// Help of the schedule flags.
const (
	startAtHelp = `start no earlier than this: RFC 3339, "2026-12-08 09:00", "09:00" (today) or "+2h"; till then the campaign is scheduled`
	endByHelp   = `begin no call from this time on (same forms as --start-at); contacts not reached by then end "expired"`
)

// parseScheduleFlag reads the value of a schedule flag in zone loc at now (see
// campaign.ParseScheduleTime); a bad value is a usage error.
func parseScheduleFlag(flag, value string, loc *time.Location, now time.Time) (time.Time, error) {
	t, err := campaign.ParseScheduleTime(value, loc, now)
	if err != nil {
		return time.Time{}, usageErrorf("--%s: %v", flag, err)
	}
	return t, nil
}

// checkLaunchSchedule checks the schedule of a campaign launched at now: neither time in the
// past, and the end after the start.
func checkLaunchSchedule(startAt, endBy *time.Time, now time.Time) error {
	if startAt != nil && startAt.Before(now) {
		return usageErrorf("--start-at %s is in the past: leave it out to start now", scheduleTime(*startAt))
	}
	if endBy != nil && !endBy.After(now) {
		return usageErrorf("--end-by %s is in the past: no call could be placed", scheduleTime(*endBy))
	}
	if err := campaign.CheckSchedule(startAt, endBy); err != nil {
		return usageErrorf("--end-by %s is not after --start-at %s: the end must come after the start",
			scheduleTime(*endBy), scheduleTime(*startAt))
	}
	return nil
}

// scheduleTime writes a schedule time for people, in this machine's zone: "2026-12-08 09:00:00
// CET (UTC+01:00)"; the offset only when the zone's name does not already say it:
// "2026-12-08 09:00:00 UTC", "2026-12-08 09:00:00 +03".
func scheduleTime(t time.Time) string {
	return scheduleTimeIn(t, time.Local)
}

// scheduleTimeIn is scheduleTime in zone loc.
func scheduleTimeIn(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	s := t.Format("2006-01-02 15:04:05 MST")
	name, offset := t.Zone()
	if strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") || (offset == 0 && (name == "UTC" || name == "GMT")) {
		return s
	}
	return s + " (UTC" + t.Format("-07:00") + ")"
}

// scheduleText is a campaign's schedule for people: "from … until …", "" when it has none.
func scheduleText(startAt, endBy *time.Time) string {
	var parts []string
	if startAt != nil {
		parts = append(parts, "starts at "+scheduleTime(*startAt))
	}
	if endBy != nil {
		parts = append(parts, "ends by "+scheduleTime(*endBy))
	}
	return strings.Join(parts, ", ")
}

// scheduleOrNone is scheduleTime, or "none".
func scheduleOrNone(t *time.Time) string {
	if t == nil {
		return noSchedule
	}
	return scheduleTime(*t)
}

// scheduleWaitPoll is how often a run waiting for its campaign's start reads it again: a start
// moved or removed with campaign set, or a cancel, is seen within it.
const scheduleWaitPoll = time.Second

// waitForStart waits, in a run or resume in the foreground, while its campaign is scheduled:
// it says once until when, then starts the campaign when its start comes (StartScheduled: of
// several processes exactly one starts it). A start changed by campaign set meanwhile is
// followed. Ctrl-C (ctx done) leaves the campaign scheduled and returns an error saying how to
// continue. A campaign that is not scheduled returns at once.
func waitForStart(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign) error {
	said := false
	for {
		now := a.now()
		cur, err := store.Campaign(ctx, c.ID)
		if err != nil {
			return err
		}
		if cur.Status != campaign.StatusScheduled {
			return nil
		}
		if cur.StartAt == nil || !cur.StartAt.After(now) {
			if _, err := store.StartScheduled(ctx, "", c.ID, now); err != nil {
				return err
			}
			continue
		}
		if !said {
			fmt.Fprintf(a.errOut, "scheduled: starts at %s in %s; Ctrl-C leaves it scheduled; continue with: %s\n",
				scheduleTime(*cur.StartAt), cur.StartAt.Sub(now).Round(time.Second), campaign.ContinueCommand(cur, false))
			said = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: campaign %s stays scheduled (starts at %s); continue with: %s",
				c.Name, scheduleTime(*cur.StartAt), campaign.ContinueCommand(cur, false))
		case <-time.After(min(cur.StartAt.Sub(now), scheduleWaitPoll)):
		}
	}
}

// maxTime is the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// parseRFC3339 reads a time a report wrote in RFC 3339; nil for "" (none).
func parseRFC3339(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}

// utcTime is t in UTC, nil for nil: how JSON output writes times.
func utcTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
