package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
)

// statusRateWindow is the span over which `campaign status` measures the rate achieved.
const statusRateWindow = 5 * time.Minute

// statusTopErrors is how many attempt error texts `campaign status` shows.
const statusTopErrors = 5

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// contactStates are the contact states in the order status shows them.
var contactStates = []campaign.ContactState{campaign.ContactPending, campaign.ContactQueued, campaign.ContactInCall,
	campaign.ContactCompleted, campaign.ContactFailed, campaign.ContactCancelled, campaign.ContactDoNotCall}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return usageErrorf("--format %q: want text or json", format)
	}
	return nil
}

// listItem is one campaign of `campaign list --format json`.
type listItem struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Contacts  int       `json:"contacts"`
	Final     int       `json:"final"`
	LiveCalls int       `json:"live_calls"`
	CreatedAt time.Time `json:"created_at"`
	CostUSD   float64   `json:"cost_usd"`
	// PausedReason (only for a campaign paused by its budget cap): "budget".
	PausedReason string `json:"paused_reason,omitempty"`
	// Orphaned (only when true): running with no runner; NoRunnerSince is when one was last seen.
	Orphaned      bool       `json:"orphaned,omitempty"`
	NoRunnerSince *time.Time `json:"no_runner_since,omitempty"`
}

// statusText is a campaign status for people: "paused (budget)" for a campaign its budget cap
// paused.
func statusText(status campaign.Status, reason campaign.PauseReason) string {
	if status == campaign.StatusPaused && reason != campaign.PauseOperator {
		return fmt.Sprintf("%s (%s)", status, reason)
	}
	return string(status)
}

// pausedReason is the JSON paused_reason of a campaign: its reason when paused, else "".
func pausedReason(status campaign.Status, reason campaign.PauseReason) string {
	if status != campaign.StatusPaused {
		return ""
	}
	return string(reason)
}

// listOptions are the flags of `campaign list`.
type listOptions struct {
	Format string
}

// newListCmd returns `campaign list`; runF, when not nil, gets the checked options instead of
// runList (tests).
func newListCmd(a *app, runF func(*listOptions) error) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every campaign, newest first, with its progress and cost so far",
		Args:  usageArgs(cobra.ExactArgs(0)),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues("text", "json"))
	return cmd
}

// runList prints every campaign, as a table or as JSON, and says which are orphaned.
func runList(ctx context.Context, a *app, opts *listOptions) error {
	pool, err := a.openDB(ctx, dbReadOnly)
	if err != nil {
		return err
	}
	defer pool.Close()
	list, err := campaign.NewStore(pool).ListCampaigns(ctx)
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		items := make([]listItem, len(list))
		for i, c := range list {
			items[i] = listItem{ID: c.ID, Name: c.Name, Status: string(c.Status), Contacts: c.Contacts,
				Final: c.Final, LiveCalls: c.Live, CreatedAt: c.CreatedAt.UTC(), CostUSD: roundCost(c.Cost),
				PausedReason: pausedReason(c.Status, c.PausedReason), Orphaned: campaign.Orphaned(c.Status, c.Runner), NoRunnerSince: orphanSince(c.Status, c.Runner)}
		}
		return writeJSONLine(a.out, items)
	}
	if len(list) == 0 {
		fmt.Fprintln(a.out, "No campaigns yet.")
		return nil
	}
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tCONTACTS\tFINAL\tLIVE\tCREATED\tCOST")
	var orphans []string
	for _, c := range list {
		status := statusText(c.Status, c.PausedReason)
		if campaign.Orphaned(c.Status, c.Runner) {
			status += " (orphaned)"
			orphans = append(orphans, c.Name+": "+orphanText(&campaign.Campaign{ID: c.ID, Name: c.Name, Mode: c.Mode}, c.Runner))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\t$%.2f\n", c.ID, c.Name, status, c.Contacts, c.Final,
			c.Live, formatTime(c.CreatedAt), c.Cost)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range orphans {
		fmt.Fprintln(a.out, o)
	}
	return nil
}

// statusReport is a campaign's status, as `campaign status --format json` prints it.
type statusReport struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// PausedReason (only for a campaign paused by its budget cap): "budget".
	PausedReason string    `json:"paused_reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	Contacts     struct {
		Total   int            `json:"total"`
		Final   int            `json:"final"`
		ByState map[string]int `json:"by_state"`
		// Expired counts the contacts the campaign's end (--end-by) came before (outcome expired).
		Expired int `json:"expired"`
	} `json:"contacts"`
	Outcomes       map[string]int `json:"outcomes"`
	LiveCalls      int            `json:"live_calls"`
	AttemptsPlaced int            `json:"attempts_placed"`
	CostUSD        float64        `json:"cost_usd"`
	// RateAchieved is calls created per second over the last five minutes.
	RateAchieved float64 `json:"rate_achieved"`
	// RateLastMinute is calls created per second over the last minute.
	RateLastMinute float64 `json:"rate_last_minute"`
	// NextWindow is "now" when contacts are due, else when the next one is (RFC 3339), else
	// "" (no contact waits).
	NextWindow string `json:"next_window"`
	Errors     struct {
		Attempts []statusError `json:"attempts"`
		// AttemptsTotal counts the attempts with an error, all texts included.
		AttemptsTotal int `json:"attempts_total"`
		// PermanentFailures counts the contacts failed for good (outcome failed_permanent: a bad
		// number, an account or assistant problem), whether or not an attempt has an error text.
		PermanentFailures int `json:"permanent_failures"`
		WebhookEvents     int `json:"webhook_events"`
		// RejectedWebhookEvents counts the webhook events never applied because they named a
		// call they may not change (e.g. another campaign's): a campaign secret may have leaked.
		RejectedWebhookEvents int `json:"rejected_webhook_events"`
	} `json:"errors"`
	Settings struct {
		RatePerSecond float64 `json:"rate_per_second"`
		MaxConcurrent int     `json:"max_concurrent"`
		// AccountLimit is the concurrency limit learned for the campaign's Vapi account; nil
		// when none is known.
		AccountLimit *int   `json:"account_concurrency_limit,omitempty"`
		Window       string `json:"window"`
		AssistantID  string `json:"assistant_id"`
		// SquadID, WorkflowID and InlineAssistant name what places the calls when it is not a
		// saved assistant (see reports.CampaignInfo).
		SquadID         string `json:"squad_id,omitempty"`
		WorkflowID      string `json:"workflow_id,omitempty"`
		InlineAssistant string `json:"inline_assistant,omitempty"`
		PhoneNumberID   string `json:"phone_number_id"`
		// MaxCostUSD is the budget cap; absent when there is none.
		MaxCostUSD *float64 `json:"max_cost_usd,omitempty"`
		// NotifyURL is where notifications go, masked (campaign.MaskURL: a Slack webhook URL's
		// path is its token); absent when nowhere. NotifySpike is the failure-spike rule.
		NotifyURL   string `json:"notify_url,omitempty"`
		NotifySpike string `json:"notify_spike,omitempty"`
		// TargetColumn is the CSV column naming each contact's own assistant or squad; absent
		// when there is none.
		TargetColumn string `json:"target_column,omitempty"`
		// StartAt and EndBy are the schedule (--start-at, --end-by); absent when none.
		StartAt *time.Time `json:"start_at,omitempty"`
		EndBy   *time.Time `json:"end_by,omitempty"`
		// PhoneNumberIDs is the pool of numbers (PhoneNumberID is its first), NumberStrategy how
		// each call's is chosen, SameNumberOnRetry whether a contact keeps its number: absent
		// for a campaign of one number without per-number limits. The limits are absent when
		// there are none.
		PhoneNumberIDs         []string `json:"phone_number_ids,omitempty"`
		NumberStrategy         string   `json:"number_strategy,omitempty"`
		PerNumberMaxConcurrent int      `json:"per_number_max_concurrent,omitempty"`
		PerNumberDailyCap      int      `json:"per_number_daily_cap,omitempty"`
		SameNumberOnRetry      *bool    `json:"same_number_on_retry,omitempty"`
		// PhoneNumberColumn is the CSV column naming each contact's own caller number; absent
		// when there is none.
		PhoneNumberColumn string `json:"phone_number_column,omitempty"`
	} `json:"settings"`
	// Notifications counts the campaign's notifications; absent when it has none.
	Notifications *statusNotifications `json:"notifications,omitempty"`
	// Budget is what the budget cap sees; absent when there is no cap.
	Budget *statusBudget `json:"budget,omitempty"`
	Import struct {
		RowsRead int `json:"rows_read"`
		Accepted int `json:"accepted"`
		Rejected int `json:"rejected"`
	} `json:"import"`
	// Orphaned (only when true): running with no runner; NoRunnerSince is when one was last seen.
	Orphaned      bool       `json:"orphaned,omitempty"`
	NoRunnerSince *time.Time `json:"no_runner_since,omitempty"`
	// nextDue is NextWindow as a time, for the text form.
	nextDue *time.Time
	// runner says who runs the campaign, for the text form ("" when nobody and that is fine).
	runner string
	// continueCmd is the command that continues the campaign if its budget cap paused it, for
	// the text form.
	continueCmd string
}

// statusBudget is the budget of a campaign with a cap (campaign.BudgetUse, rounded).
type statusBudget struct {
	// SpentUSD sums the recorded cost of the campaign's calls.
	SpentUSD float64 `json:"spent_usd"`
	// ExpectedUSD adds the expected cost of its calls not yet priced (at the mean cost so far).
	ExpectedUSD float64 `json:"expected_usd"`
	// UnpricedCalls counts those calls: live, or ended with their report still to come.
	UnpricedCalls int `json:"unpriced_calls"`
}

// statusNotifications are a campaign's notifications by where they stand (see
// campaign.NotificationCounts).
type statusNotifications struct {
	Pending   int `json:"pending"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	// LastError is the error of the newest notification not delivered (retrying or given up).
	LastError string `json:"last_error,omitempty"`
}

type statusError struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// statusOptions are the argument and flags of `campaign status`.
type statusOptions struct {
	// Ref names or numbers the campaign.
	Ref      string
	Format   string
	Watch    bool
	Interval time.Duration
}

// newStatusCmd returns `campaign status`; runF, when not nil, gets the checked options instead of
// runStatus (tests).
func newStatusCmd(a *app, runF func(*statusOptions) error) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status CAMPAIGN",
		Short: "Show a campaign's progress, pace, errors and settings (--watch: keep it on screen)",
		Example: `  campaign status nov-reminders
  campaign status nov-reminders --watch --interval 5s
  campaign status 12 --format json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := checkFormat(opts.Format); err != nil {
				return err
			}
			if opts.Interval <= 0 {
				return usageErrorf("--interval must be more than 0")
			}
			if runF != nil {
				return runF(opts)
			}
			return runStatus(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "text", "output format: text or json (with --watch: one JSON object a line)")
	f.BoolVar(&opts.Watch, "watch", false, "redraw every --interval until Ctrl-C")
	f.DurationVar(&opts.Interval, "interval", 2*time.Second, "time between redraws with --watch")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues("text", "json"))
	return cmd
}

// runStatus shows the campaign's status once or, with --watch, every --interval until ctx is
// done.
func runStatus(ctx context.Context, a *app, opts *statusOptions) error {
	pool, err := a.openDB(ctx, dbReadOnly)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := campaign.NewStore(pool)
	c, err := findCampaign(ctx, store, opts.Ref)
	if err != nil {
		return err
	}
	render := func() error {
		r, err := buildStatus(ctx, store, c.ID, a.now())
		if err != nil {
			return err
		}
		if opts.Format == "json" {
			return writeJSONLine(a.out, r)
		}
		if opts.Watch && a.isTerminal {
			fmt.Fprint(a.out, clearScreen)
		} else if opts.Watch {
			fmt.Fprintf(a.out, "--- %s\n", formatTime(a.now()))
		}
		return writeStatusText(a.out, r, a.now())
	}
	if !opts.Watch {
		return render()
	}
	for {
		if err := render(); err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C during a redraw
			}
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// buildStatus reads a campaign's status: settings and import figures from the campaign row,
// counts from Progress and StatusExtras.
func buildStatus(ctx context.Context, store *campaign.Store, id int64, now time.Time) (*statusReport, error) {
	c, err := store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := store.Progress(ctx, id)
	if err != nil {
		return nil, err
	}
	x, err := store.StatusExtras(ctx, id, now, statusRateWindow, statusTopErrors)
	if err != nil {
		return nil, err
	}
	runners, live, err := store.Runners(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &statusReport{ID: c.ID, Name: c.Name, Status: string(p.Status), CreatedAt: c.CreatedAt.UTC(),
		PausedReason: pausedReason(p.Status, p.PausedReason),
		Orphaned:     campaign.Orphaned(p.Status, runners), NoRunnerSince: orphanSince(p.Status, runners)}
	switch {
	case r.Orphaned:
		r.runner = orphanText(c, runners)
	case len(live) > 0:
		r.runner = runnerText(live)
	}
	r.Contacts.Total, r.Contacts.Final = p.Total, p.FinalCount()
	r.Contacts.ByState = make(map[string]int, len(contactStates))
	for _, s := range contactStates {
		r.Contacts.ByState[string(s)] = p.ByState[s]
	}
	r.Outcomes = make(map[string]int, len(p.ByOutcome))
	for o, n := range p.ByOutcome {
		if o != "" && n > 0 {
			r.Outcomes[string(o)] = n
		}
	}
	r.LiveCalls, r.AttemptsPlaced, r.CostUSD = p.Live, p.Attempts, roundCost(p.Cost)
	r.RateAchieved, r.RateLastMinute = roundRate(x.RecentRate), roundRate(x.LastMinuteRate)
	switch due, isNow := campaign.NextDial(c, p, x, now); {
	case isNow:
		r.NextWindow = "now"
	case due != nil:
		r.nextDue = due
		r.NextWindow = due.UTC().Format(time.RFC3339)
	}
	r.Errors.Attempts = make([]statusError, len(x.Errors))
	for i, e := range x.Errors {
		r.Errors.Attempts[i] = statusError{Error: e.Error, Count: e.Count}
	}
	r.Errors.AttemptsTotal, r.Errors.WebhookEvents = x.ErroredAttempts, x.EventErrors
	r.Errors.RejectedWebhookEvents = x.RejectedEvents
	r.Errors.PermanentFailures = p.ByOutcome[campaign.OutcomeFailedPermanent]
	r.Settings.RatePerSecond, r.Settings.MaxConcurrent = c.RatePerSecond, c.MaxConcurrent
	if r.Settings.AccountLimit, err = store.AccountLimit(ctx, c.ID); err != nil {
		return nil, err
	}
	r.Settings.Window, r.Settings.AssistantID, r.Settings.PhoneNumberID = c.WindowSpec, c.AssistantID, c.PhoneNumberID
	r.Settings.SquadID, r.Settings.WorkflowID = c.SquadID, c.WorkflowID
	r.Settings.PerNumberMaxConcurrent, r.Settings.PerNumberDailyCap = c.PerNumberMaxConcurrent, c.PerNumberDailyCap
	if len(c.CallerNumbers()) > 1 || c.PerNumberMaxConcurrent > 0 || c.PerNumberDailyCap > 0 {
		same := !c.NewNumberOnRetry
		r.Settings.PhoneNumberIDs, r.Settings.SameNumberOnRetry = c.CallerNumbers(), &same
		r.Settings.NumberStrategy = string(cmp.Or(c.NumberStrategy, campaign.StrategyRoundRobin))
	}
	if kind, _ := c.Target(); kind == campaign.TargetInlineAssistant {
		r.Settings.InlineAssistant = reports.InlineAssistantName(c.Assistant)
	}
	if c.TargetColumn != nil {
		r.Settings.TargetColumn = columnName(c, *c.TargetColumn)
	}
	if c.PhoneNumberColumn != nil {
		r.Settings.PhoneNumberColumn = columnName(c, *c.PhoneNumberColumn)
	}
	if c.MaxCostUSD != nil {
		r.Settings.MaxCostUSD = c.MaxCostUSD
		b, err := store.Budget(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		r.Budget = &statusBudget{SpentUSD: roundCost(b.SpentUSD), ExpectedUSD: roundCost(b.Expected(0)),
			UnpricedCalls: b.Unpriced}
	}
	r.Settings.NotifyURL = campaign.MaskURL(c.NotifyURL)
	if c.NotifyURL != "" {
		r.Settings.NotifySpike = c.NotifySpike
	}
	n, err := store.NotificationCounts(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if n != (campaign.NotificationCounts{}) {
		r.Notifications = &statusNotifications{Pending: n.Pending, Delivered: n.Delivered, Failed: n.Failed, LastError: n.LastError}
	}
	r.Settings.StartAt, r.Settings.EndBy = utcTime(c.StartAt), utcTime(c.EndBy)
	r.Contacts.Expired = p.ByOutcome[campaign.OutcomeExpired]
	r.continueCmd = campaign.BudgetContinueCommand(c)
	r.Import.RowsRead, r.Import.Accepted, r.Import.Rejected = c.ImportStats.RowsRead, c.ImportStats.Accepted,
		c.ImportStats.RejectedTotal()
	return r, nil
}

// writeStatusText writes the text form of a status.
func writeStatusText(w io.Writer, r *statusReport, now time.Time) error {
	var b strings.Builder
	status := statusText(campaign.Status(r.Status), campaign.PauseReason(r.PausedReason))
	if r.Orphaned {
		status += " (orphaned)"
	}
	fmt.Fprintf(&b, "Campaign %s (id %d): %s, created %s\n", r.Name, r.ID, status, formatTime(r.CreatedAt))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if r.runner != "" {
		fmt.Fprintf(tw, "  runner:\t%s\n", r.runner)
	}
	states := make([]string, len(contactStates))
	for i, s := range contactStates {
		states[i] = fmt.Sprintf("%s %d", strings.ReplaceAll(string(s), "_", " "), r.Contacts.ByState[string(s)])
	}
	fmt.Fprintf(tw, "  contacts:\t%d total, %d final (%s)\n", r.Contacts.Total, r.Contacts.Final, strings.Join(states, ", "))
	fmt.Fprintf(tw, "  outcomes:\t%s\n", outcomeText(r.Outcomes))
	fmt.Fprintf(tw, "  calls:\t%d live, %d placed, cost $%.2f\n", r.LiveCalls, r.AttemptsPlaced, r.CostUSD)
	if r.Budget != nil {
		fmt.Fprintf(tw, "  budget:\t$%.2f spent of %s, $%.2f expected with %d calls not yet priced\n",
			r.Budget.SpentUSD, maxCostText(r.Settings.MaxCostUSD), r.Budget.ExpectedUSD, r.Budget.UnpricedCalls)
	}
	if r.PausedReason == string(campaign.PauseBudget) {
		fmt.Fprintf(tw, "\tpaused: the next call could pass the cap; continue with a higher cap: %s\n", r.continueCmd)
	}
	fmt.Fprintf(tw, "  rate:\t%s calls/s over the last minute, %s over the last %s (limit %s)\n",
		strconv.FormatFloat(r.RateLastMinute, 'f', -1, 64), strconv.FormatFloat(r.RateAchieved, 'f', -1, 64),
		shortDuration(statusRateWindow), rateText(r.Settings.RatePerSecond))
	next := "none (no contact waiting)"
	switch {
	case r.NextWindow == "now":
		next = "now"
	case r.nextDue != nil:
		next = fmt.Sprintf("%s (in %s)", formatTime(*r.nextDue), r.nextDue.Sub(now).Round(time.Minute))
	}
	fmt.Fprintf(tw, "  next window:\t%s\n", next)
	if sched := scheduleText(r.Settings.StartAt, r.Settings.EndBy); sched != "" || r.Contacts.Expired > 0 {
		if r.Contacts.Expired > 0 {
			sched = strings.TrimPrefix(fmt.Sprintf("%s; %d contacts expired", sched, r.Contacts.Expired), "; ")
		}
		fmt.Fprintf(tw, "  schedule:\t%s\n", sched)
	}
	if len(r.Errors.Attempts) == 0 && r.Errors.WebhookEvents == 0 && r.Errors.PermanentFailures == 0 &&
		r.Errors.RejectedWebhookEvents == 0 {
		fmt.Fprintf(tw, "  errors:\tnone\n")
	} else {
		fmt.Fprintf(tw, "  errors:\t%d attempts failed, %d contacts failed for good, %d webhook events not applied\n",
			r.Errors.AttemptsTotal, r.Errors.PermanentFailures, r.Errors.WebhookEvents)
		if n := r.Errors.RejectedWebhookEvents; n > 0 {
			fmt.Fprintf(tw, "\t%d webhook events rejected: they named calls they may not change (has a campaign secret leaked?)\n", n)
		}
		for _, e := range r.Errors.Attempts {
			fmt.Fprintf(tw, "\t%d× %s\n", e.Count, e.Error)
		}
	}
	window := r.Settings.Window
	if window == "" {
		window = "always"
	}
	account := ""
	if l := r.Settings.AccountLimit; l != nil {
		account = fmt.Sprintf(" (account allows %d)", *l)
	}
	target := reports.CampaignInfo{AssistantID: r.Settings.AssistantID, SquadID: r.Settings.SquadID,
		WorkflowID: r.Settings.WorkflowID, InlineAssistant: r.Settings.InlineAssistant, TargetColumn: r.Settings.TargetColumn}.Target()
	number := "phone number " + orNone(r.Settings.PhoneNumberID)
	if col := r.Settings.PhoneNumberColumn; col != "" {
		number = fmt.Sprintf("number per row from column %q", col)
		if r.Settings.PhoneNumberID != "" {
			number += ", else " + r.Settings.PhoneNumberID
		}
	}
	fmt.Fprintf(tw, "  settings:\trate %s, max concurrent %d%s, window %q, %s, %s\n",
		rateText(r.Settings.RatePerSecond), r.Settings.MaxConcurrent, account, window, target, number)
	if r.Settings.NotifyURL != "" || r.Notifications != nil {
		fmt.Fprintf(tw, "  notifications:\t%s\n", notificationsText(r))
	}
	if r.Settings.SameNumberOnRetry != nil { // a pool, or per-number limits
		retry := "same number on retry"
		if !*r.Settings.SameNumberOnRetry {
			retry = "any number on retry"
		}
		fmt.Fprintf(tw, "  numbers:\t%s (%s); per number: max concurrent %s, daily cap %s (UTC); %s\n",
			strings.Join(r.Settings.PhoneNumberIDs, ", "), r.Settings.NumberStrategy,
			perNumberLimitText(r.Settings.PerNumberMaxConcurrent), perNumberLimitText(r.Settings.PerNumberDailyCap), retry)
	}
	fmt.Fprintf(tw, "  import:\t%d rows read, %d accepted, %d rejected\n", r.Import.RowsRead, r.Import.Accepted, r.Import.Rejected)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// notificationsText is the notifications line of a status: where they go (masked), the
// failure-spike rule and how many stand where.
func notificationsText(r *statusReport) string {
	to := "to " + r.Settings.NotifyURL
	if r.Settings.NotifyURL == "" {
		to = "no notify URL (campaign serve --notify-url delivers a service campaign's)"
	} else {
		to += ", failure spikes at " + r.Settings.NotifySpike
	}
	n := r.Notifications
	if n == nil {
		return to + "; none sent yet"
	}
	text := fmt.Sprintf("%s; %d delivered, %d pending, %d failed", to, n.Delivered, n.Pending, n.Failed)
	if n.LastError != "" {
		text += " (last: " + n.LastError + ")"
	}
	return text
}

// orphanSince is when an orphaned campaign's runner was last seen (nil: not orphaned, or unknown).
func orphanSince(status campaign.Status, runners campaign.RunnerState) *time.Time {
	if !campaign.Orphaned(status, runners) || runners.LastSeen == nil {
		return nil
	}
	t := runners.LastSeen.UTC()
	return &t
}

// orphanText says that nothing runs a campaign, since when, and what gets it going again.
func orphanText(c *campaign.Campaign, runners campaign.RunnerState) string {
	since := "no runner"
	if runners.LastSeen != nil {
		since = "no runner since " + formatTime(*runners.LastSeen)
	}
	return since + ", nothing dials it; continue with: " + campaign.ContinueCommand(c, true)
}

// runnerText describes the live runners of a campaign.
func runnerText(live []campaign.Runner) string {
	parts := make([]string, len(live))
	for i, r := range live {
		what := string(r.Mode)
		if r.CampaignID == 0 {
			what = "campaign serve"
		}
		parts[i] = fmt.Sprintf("%s, pid %d on %s, since %s", what, r.PID, r.Host, formatTime(r.StartedAt))
	}
	return strings.Join(parts, "; ")
}

func outcomeText(outcomes map[string]int) string {
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, outcomes[k])
	}
	if len(parts) == 0 {
		return "no results yet"
	}
	return strings.Join(parts, ", ")
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(rate, 'f', -1, 64) + "/s"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func shortDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}

// formatTime is how status and list show an instant: local time, to the minute.
func formatTime(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04 MST")
}

// roundCost rounds a cost in USD to a hundredth of a cent.
func roundCost(usd float64) float64 { return math.Round(usd*10000) / 10000 }

// roundRate rounds a rate to a thousandth of a call per second.
func roundRate(r float64) float64 { return math.Round(r*1000) / 1000 }

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
