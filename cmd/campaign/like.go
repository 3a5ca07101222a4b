package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// likeSource is the campaign that `campaign run --like NAME` copies: its settings, and, when the
// run has no FILE, its accepted contacts.
type likeSource struct {
	campaign *campaign.Campaign
	// contacts are the source's contacts as a CSV in its own columns and delimiter: the phone,
	// name and variables of each, never its state, outcome or attempts. Nil when the run has a
	// FILE.
	contacts []byte
}

// fileOnlyFlags are the run flags that describe FILE's columns: a run --like without FILE
// re-imports the source's contacts in the source's own columns, so they have nothing to say.
var fileOnlyFlags = []string{"phone-column", "name-column", "timezone-column", "external-id-column", "overrides-column", "target-column", "delimiter", "phone-number-column"}

// checkLikeArgs checks the argument and flags of a run --like before anything is read: without
// FILE the contacts are the source's, so the flags of FILE's columns do not apply.
func (o *runOptions) checkLikeArgs(changed func(flag string) bool) error {
	if o.Like == "" {
		if o.File == "" {
			return usageErrorf("accepts 1 arg(s), received 0: give the CSV FILE (or - for stdin), or --like CAMPAIGN to copy a campaign")
		}
		return nil
	}
	if o.File != "" {
		return nil
	}
	for _, flag := range fileOnlyFlags {
		if changed(flag) {
			return usageErrorf("--%s applies to FILE: without FILE, --like %s copies the contacts of campaign %s in their own columns",
				flag, o.Like, o.Like)
		}
	}
	return nil
}

// loadLike reads the campaign named or numbered by --like and takes its settings into the
// options (applyLike), and its contacts when the run has no FILE. The campaign is read once: a
// later change to it does not reach the copy.
func (o *runOptions) loadLike(ctx context.Context, a *app, changed func(flag string) bool, getenv func(string) string) error {
	pool, store, src, err := a.openCampaign(ctx, dbWrite, o.Like)
	if err != nil {
		return err
	}
	defer pool.Close()
	if o.Name == src.Name {
		return usageErrorf("--name %s is the name of the campaign --like copies: give the copy another --name (or none, for a default one)", o.Name)
	}
	like := &likeSource{campaign: src}
	if o.File == "" {
		contacts, err := store.Contacts(ctx, src.ID, math.MaxInt32)
		if err != nil {
			return fmt.Errorf("copy the contacts of campaign %s: %w", src.Name, err)
		}
		if len(contacts) == 0 {
			return usageErrorf("campaign %s has no contacts to copy: give --like %s a FILE", src.Name, o.Like)
		}
		if like.contacts, err = contactsCSV(src, contacts); err != nil {
			return fmt.Errorf("copy the contacts of campaign %s: %w", src.Name, err)
		}
	}
	o.applyLike(like, changed)
	if err := o.validate(); err != nil {
		return err
	}
	if err := o.likeSchedule(changed, a.now()); err != nil {
		return err
	}
	if o.DryRun || o.Simulate {
		return nil
	}
	return o.checkRouting(getenv)
}

// applyLike takes the settings of the source campaign into the options, except those whose flag
// was given on the command line (changed): flags given override the copy; environment defaults
// do not (as with resume, a campaign's stored settings change only through flags given). With
// --simulate the simulator brings its own assistant, phone number and webhook address, and the
// simulation calls at any hour and once unless --window, --retry or --max-attempts say
// otherwise, as a simulated run of a file does. The settings without a flag (the overrides JSON
// among them) are copied with the whole Settings struct in importCampaign.
func (o *runOptions) applyLike(like *likeSource, changed func(flag string) bool) {
	o.like = like
	s := like.campaign.Settings
	copyIf := func(flag string, apply func()) {
		if !changed(flag) {
			apply()
		}
	}
	if !o.Simulate {
		if !changed("assistant-id") && !changed("squad-id") && !changed("workflow-id") && !changed("assistant") {
			o.AssistantID, o.SquadID, o.WorkflowID, o.Assistant = s.AssistantID, s.SquadID, s.WorkflowID, s.Assistant
		}
		if !changed("phone-number-id") && !changed("phone-numbers-file") {
			o.setCallerNumbers(s.CallerNumbers())
		}
		copyIf("public-url", func() { o.PublicURL = s.PublicURL })
		copyIf("window", func() { o.Window = s.WindowSpec })
		if !changed("retry") && !changed("max-attempts") {
			o.Retry, o.MaxAttempts = s.RetryPolicy, s.MaxAttempts
		}
	}
	copyIf("webhooks", func() { o.Webhooks = string(s.Webhooks) })
	copyIf("timezone", func() { o.TimeZone = s.DefaultTimeZone })
	copyIf("default-region", func() { o.DefaultRegion = s.DefaultRegion })
	copyIf("rate", func() { o.Rate = s.RatePerSecond })
	copyIf("max-concurrent", func() { o.MaxConcurrent = s.MaxConcurrent })
	copyIf("max-cost", func() {
		o.MaxCost = noMaxCost
		if s.MaxCostUSD != nil {
			o.MaxCost = strconv.FormatFloat(*s.MaxCostUSD, 'f', -1, 64)
		}
	})
	copyIf("callback-key", func() { o.CallbackKey = s.CallbackKey })
	copyIf("do-not-call-key", func() { o.DoNotCallKey = s.DoNotCallKey })
	copyIf("predial-url", func() { o.PredialURL = s.PredialURL })
	copyIf("notify-url", func() { o.NotifyURL = s.NotifyURL })
	copyIf("notify-spike", func() { o.NotifySpike = cmp.Or(s.NotifySpike, campaign.DefaultNotifySpike) })
	copyIf("number-strategy", func() { o.NumberStrategy = string(s.NumberStrategy) })
	copyIf("per-number-max-concurrent", func() { o.PerNumberMaxConcurrent = s.PerNumberMaxConcurrent })
	copyIf("per-number-daily-cap", func() { o.PerNumberDailyCap = s.PerNumberDailyCap })
	copyIf("same-number-on-retry", func() { o.SameNumberOnRetry = !s.NewNumberOnRetry })
	if o.CallbackKey == "" {
		o.CallbackKey = campaign.DefaultCallbackAtKey
	}
	if o.DoNotCallKey == "" {
		o.DoNotCallKey = campaign.DefaultDoNotCallKey
	}
	if o.Webhooks == "" {
		o.Webhooks = string(campaign.WebhooksAuto)
	}
}

// likeSchedule copies the source's --start-at and --end-by, each unless its flag was given and
// only while it is still ahead at now: a time gone by is the source's history, not a setting for
// the copy. The schedule is then checked as a run's.
func (o *runOptions) likeSchedule(changed func(flag string) bool, now time.Time) error {
	s := o.like.campaign.Settings
	if !changed("start-at") && s.StartAt != nil && s.StartAt.After(now) {
		o.startAt = s.StartAt
	}
	if !changed("end-by") && s.EndBy != nil && s.EndBy.After(now) {
		o.endBy = s.EndBy
	}
	return checkLaunchSchedule(o.startAt, o.endBy, now)
}

// likeSettings are the settings of the campaign a run imports. With --like they start as a copy
// of the source's whole Settings struct, so that settings added later (and those without a
// flag) come along without a change here; the options, which hold the source's values unless a
// flag was given (applyLike), then set those that run has flags for. Without --like they start
// empty. Never copied: the webhook secret (the new campaign gets its own, or
// VAPI_WEBHOOK_SECRET), the pre-flight's decisions (KeepServer, ServerMessages: the copy's own
// pre-flight makes them again) and the retry time scale (the run's mode sets it).
func (o *runOptions) likeSettings() campaign.Settings {
	if o.like == nil {
		return campaign.Settings{}
	}
	s := o.like.campaign.Settings // a struct copy: new fields come along
	s.WebhookSecret = ""
	s.KeepServer, s.ServerMessages = false, nil
	return s
}

// contactsCSV writes contacts as a CSV in the columns and delimiter of their campaign c: the
// header, then each contact's original row. Re-read with c's columns, it gives the same phone,
// name, time zone and variables.
func contactsCSV(c *campaign.Campaign, contacts []campaign.Contact) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if c.Delimiter != 0 {
		w.Comma = c.Delimiter
	}
	if err := w.Write(c.Columns); err != nil {
		return nil, err
	}
	for i := range contacts {
		if err := w.Write(contacts[i].Fields); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
