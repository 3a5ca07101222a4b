// Package reports turns a campaign's figures (campaign.ReportFacts) into a report: the funnel
// from contacts to successful calls, outcomes and ended reasons, the attempts a contact needed,
// cost, duration, calls by local hour and time zone, import rejects and suppressions, progress
// and an estimated finish for a campaign still running, and optionally Vapi's own analytics
// beside the local figures. It writes the report as text, JSON (a stable interface, see
// SchemaVersion), CSV (one figure a row) or one self-contained HTML page.
package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// SchemaVersion is the version of the JSON report's structure. Fields may be added within a
// version; a field renamed, removed or changed in meaning gets a new version.
const SchemaVersion = 1

// DefaultTopReasons is how many ended reasons a report lists before it sums up the rest.
const DefaultTopReasons = 10

// NoOutcome is how a report names the outcome of contacts that have none yet (as the export's
// --filter does).
const NoOutcome = "none"

// Funnel stages, in order.
const (
	StageContacts   = "contacts"
	StageDialed     = "dialed"
	StageConnected  = "connected"
	StageSuccessful = "successful"
)

// Report is a campaign's report. Its JSON form is documented field by field in the README.
// Shares are fractions from 0 to 1 (4 decimals), money is USD (4 decimals), durations are
// seconds (1 decimal), times are RFC 3339 in UTC; a figure that cannot be computed (a share of
// nothing, an estimate without a pace) is null.
type Report struct {
	SchemaVersion      int                `json:"schema_version"`
	GeneratedAt        time.Time          `json:"generated_at"`
	Campaign           CampaignInfo       `json:"campaign"`
	Contacts           ContactsInfo       `json:"contacts"`
	Funnel             []FunnelStage      `json:"funnel"`
	Outcomes           []OutcomeShare     `json:"outcomes"`
	EndedReasons       EndedReasons       `json:"ended_reasons"`
	SuccessEvaluations SuccessEvaluations `json:"success_evaluations"`
	Attempts           []AttemptYield     `json:"attempts"`
	Cost               Cost               `json:"cost"`
	Duration           Duration           `json:"duration"`
	Hours              Hours              `json:"hours"`
	TimeZones          []ZoneFigures      `json:"time_zones"`
	Import             ImportFigures      `json:"import"`
	Suppressions       Suppressions       `json:"suppressions"`
	// Progress is null once the campaign is completed or cancelled.
	Progress *Progress `json:"progress"`
	// Analytics is null unless Vapi's analytics were asked for (--analytics).
	Analytics *Analytics `json:"analytics"`
	// CallerNumbers are the calls by the phone number they came from, in id order.
	CallerNumbers []CallerNumberFigures `json:"caller_numbers"`
}

// CallerNumberFigures are the calls placed from one phone number: how many connected (outcome
// completed, as in the funnel), the connect rate, and their cost.
type CallerNumberFigures struct {
	PhoneNumberID string `json:"phone_number_id"`
	// Number is the E.164 number, "" when unknown.
	Number          string   `json:"number"`
	Calls           int      `json:"calls"`
	ConnectedCalls  int      `json:"connected_calls"`
	SuccessfulCalls int      `json:"successful_calls"`
	ConnectRate     *float64 `json:"connect_rate"`
	CostUSD         float64  `json:"cost_usd"`
	PerCallUSD      *float64 `json:"per_call_usd"`
}

// CampaignInfo says which campaign the report is of and how its calls are placed.
type CampaignInfo struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Mode        string     `json:"mode"`
	SourceFile  string     `json:"source_file"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	AssistantID string     `json:"assistant_id"`
	// SquadID, WorkflowID and InlineAssistant (the transient assistant's name, "(unnamed)"
	// without one) name what places the calls when it is not a saved assistant; only one is set.
	SquadID         string  `json:"squad_id,omitempty"`
	WorkflowID      string  `json:"workflow_id,omitempty"`
	InlineAssistant string  `json:"inline_assistant,omitempty"`
	PhoneNumberID   string  `json:"phone_number_id"`
	Window          string  `json:"window"`
	TimeZone        string  `json:"default_time_zone"`
	RatePerSecond   float64 `json:"rate_per_second"`
	MaxConcurrent   int     `json:"max_concurrent"`
	MaxAttempts     int     `json:"max_attempts"`
	RetryPolicy     string  `json:"retry_policy"`
	// MaxCostUSD is the budget cap (--max-cost); absent when there is none.
	MaxCostUSD *float64 `json:"max_cost_usd,omitempty"`
	// PausedReason is "budget" for a campaign its budget cap paused; absent otherwise.
	PausedReason string `json:"paused_reason,omitempty"`
	// TargetColumn is the CSV column naming each contact's own assistant or squad, used instead
	// of the campaign's target for that contact; absent when there is none.
	TargetColumn string `json:"target_column,omitempty"`
	// StartAt and EndBy are its schedule (--start-at, --end-by); absent when none. Contacts its
	// end came before have the outcome expired.
	StartAt *time.Time `json:"start_at,omitempty"`
	EndBy   *time.Time `json:"end_by,omitempty"`
}

// ContactsInfo counts the contacts: in all, in a final state, and by state (every state, zeros
// included).
type ContactsInfo struct {
	Total   int            `json:"total"`
	Final   int            `json:"final"`
	ByState map[string]int `json:"by_state"`
}

// FunnelStage is one stage of the funnel: how many contacts reached it, as a share of all
// contacts and of the stage before.
type FunnelStage struct {
	Stage           string   `json:"stage"`
	Contacts        int      `json:"contacts"`
	ShareOfContacts *float64 `json:"share_of_contacts"`
	ShareOfPrevious *float64 `json:"share_of_previous"`
}

// OutcomeShare is how many contacts have an outcome (their last call's; NoOutcome when none yet).
type OutcomeShare struct {
	Outcome  string   `json:"outcome"`
	Contacts int      `json:"contacts"`
	Share    *float64 `json:"share"`
}

// EndedReasons are the calls' ended reasons, most frequent first: the top ones, then the rest
// summed up.
type EndedReasons struct {
	Calls int           `json:"calls"`
	Top   []ReasonShare `json:"top"`
	Other *OtherReasons `json:"other"`
}

// ReasonShare is the calls of one ended reason ("" while a call has none yet).
type ReasonShare struct {
	EndedReason        string   `json:"ended_reason"`
	Outcome            string   `json:"outcome"`
	Calls              int      `json:"calls"`
	Share              *float64 `json:"share"`
	CostUSD            float64  `json:"cost_usd"`
	AvgDurationSeconds *float64 `json:"avg_duration_seconds"`
}

// OtherReasons sums up the ended reasons past the top ones.
type OtherReasons struct {
	Reasons int      `json:"reasons"`
	Calls   int      `json:"calls"`
	Share   *float64 `json:"share"`
	CostUSD float64  `json:"cost_usd"`
}

// SuccessEvaluations break the calls down by their success evaluation.
type SuccessEvaluations struct {
	// SuccessValues are the evaluations that count as a success (case aside).
	SuccessValues []string `json:"success_values"`
	Evaluated     int      `json:"evaluated_calls"`
	NotEvaluated  int      `json:"not_evaluated_calls"`
	// Values are the evaluations given, most frequent first; Share is of evaluated calls.
	Values []ValueShare `json:"values"`
}

// ValueShare is how many calls got one evaluation.
type ValueShare struct {
	Value   string   `json:"value"`
	Success bool     `json:"success"`
	Calls   int      `json:"calls"`
	Share   *float64 `json:"share"`
}

// AttemptYield is what the contacts' n-th calls came to: the yield of that attempt, and how
// many contacts it took that many calls to reach.
type AttemptYield struct {
	Attempt         int      `json:"attempt"`
	Calls           int      `json:"calls"`
	ConnectedCalls  int      `json:"connected_calls"`
	SuccessfulCalls int      `json:"successful_calls"`
	Yield           *float64 `json:"yield"`
	SuccessYield    *float64 `json:"success_yield"`
	// FirstConnected counts the contacts first connected on this attempt;
	// CumulativeConnectedShare is the share of dialed contacts connected by this attempt.
	FirstConnected           int      `json:"first_connected_contacts"`
	CumulativeConnectedShare *float64 `json:"cumulative_connected_share"`
	// FirstSuccessful and CumulativeSuccessShare are the same for successful calls.
	FirstSuccessful        int      `json:"first_successful_contacts"`
	CumulativeSuccessShare *float64 `json:"cumulative_success_share"`
}

// Cost is what the campaign's calls cost.
type Cost struct {
	TotalUSD            float64        `json:"total_usd"`
	PerCallUSD          *float64       `json:"per_call_usd"`
	PerConnectedCallUSD *float64       `json:"per_connected_call_usd"`
	PerSuccessUSD       *float64       `json:"per_success_usd"`
	ByComponent         CostComponents `json:"by_component"`
	ByOutcome           []OutcomeCost  `json:"by_outcome"`
}

// CostComponents is Vapi's breakdown of the cost, in USD.
type CostComponents struct {
	TransportUSD float64 `json:"transport_usd"`
	STTUSD       float64 `json:"stt_usd"`
	LLMUSD       float64 `json:"llm_usd"`
	TTSUSD       float64 `json:"tts_usd"`
	VapiUSD      float64 `json:"vapi_usd"`
	AnalysisUSD  float64 `json:"analysis_usd"`
}

// OutcomeCost is the calls of one outcome and what they cost.
type OutcomeCost struct {
	Outcome string   `json:"outcome"`
	Calls   int      `json:"calls"`
	CostUSD float64  `json:"cost_usd"`
	Share   *float64 `json:"share"`
}

// Duration describes how long connected calls lasted.
type Duration struct {
	ConnectedCalls int              `json:"connected_calls"`
	MeanSeconds    *float64         `json:"mean_seconds"`
	P50Seconds     *float64         `json:"p50_seconds"`
	P90Seconds     *float64         `json:"p90_seconds"`
	TotalMinutes   float64          `json:"total_minutes"`
	Histogram      []DurationBucket `json:"histogram"`
}

// DurationBucket counts the connected calls whose duration is in [FromSeconds, ToSeconds)
// (ToSeconds null: no upper bound).
type DurationBucket struct {
	FromSeconds float64  `json:"from_seconds"`
	ToSeconds   *float64 `json:"to_seconds"`
	Calls       int      `json:"calls"`
}

// Hours counts calls by the contact's local hour of day.
type Hours struct {
	// ByHour has 24 entries, hour 0 to 23.
	ByHour []HourCount `json:"by_hour"`
	// UnknownCalls counts calls whose local hour is unknown (a zone the database lacks).
	UnknownCalls int `json:"unknown_calls"`
}

// HourCount counts the calls started in one local hour, and the connected ones.
type HourCount struct {
	Hour      int `json:"hour"`
	Calls     int `json:"calls"`
	Connected int `json:"connected"`
}

// ZoneFigures are the contacts of one time zone and their funnel.
type ZoneFigures struct {
	TimeZone   string `json:"time_zone"`
	Contacts   int    `json:"contacts"`
	Dialed     int    `json:"dialed"`
	Connected  int    `json:"connected"`
	Successful int    `json:"successful"`
	Calls      int    `json:"calls"`
}

// ImportFigures are the figures of the CSV import.
type ImportFigures struct {
	RowsRead            int            `json:"rows_read"`
	Accepted            int            `json:"accepted"`
	Rejected            int            `json:"rejected"`
	RejectedByReason    map[string]int `json:"rejected_by_reason"`
	RejectsFile         string         `json:"rejects_file"`
	NamesCut            int            `json:"names_cut"`
	DefaultTimeZoneRows int            `json:"default_time_zone_rows"`
}

// Suppressions count the numbers the do-not-call list kept from being called.
type Suppressions struct {
	// RejectedAtImport: rows not imported because the number was on the list.
	RejectedAtImport int `json:"rejected_at_import"`
	// StoppedBeforeCall: contacts put on the list after the import, before any call reached them.
	StoppedBeforeCall int `json:"stopped_before_call"`
	// AskedInCall: contacts who asked, in a call, not to be called again.
	AskedInCall int `json:"asked_in_call"`
}

// Progress is where a campaign still under way stands, and when it may finish.
type Progress struct {
	Status     string   `json:"status"`
	Final      int      `json:"final"`
	Remaining  int      `json:"remaining"`
	FinalShare *float64 `json:"final_share"`
	// NeverCalled and AwaitingRetry split the pending contacts; InProgress counts those queued
	// or in a call; LiveCalls the calls not ended.
	NeverCalled   int `json:"never_called"`
	AwaitingRetry int `json:"awaiting_retry"`
	InProgress    int `json:"in_progress"`
	LiveCalls     int `json:"live_calls"`
	// NextDue is the earliest time a pending contact is due (null: due now, or none waits);
	// LastScheduled the latest retry or callback scheduled.
	NextDue       *time.Time `json:"next_due"`
	LastScheduled *time.Time `json:"last_scheduled"`
	// ContactsPerHour is the pace so far: final contacts per hour since the first call.
	ContactsPerHour *float64 `json:"contacts_per_hour"`
	// EstimatedFinish is when the remaining contacts are final at that pace, and not before
	// LastScheduled; null when there is no estimate (EstimateNote says why).
	EstimatedFinish *time.Time `json:"estimated_finish"`
	EstimateNote    string     `json:"estimate_note"`
	// Orphaned (only when true): the campaign is running and no runner runs it (see
	// campaign.Orphaned); NoRunnerSince is when one was last seen; Continue says what gets it
	// dialing again (also for a campaign its budget cap paused).
	Orphaned      bool       `json:"orphaned,omitempty"`
	NoRunnerSince *time.Time `json:"no_runner_since,omitempty"`
	Continue      string     `json:"continue,omitempty"`
	// PausedReason is "budget" when the campaign's budget cap paused it; absent otherwise.
	PausedReason string `json:"paused_reason,omitempty"`
}

// pausedReason is the reason of a paused campaign ("budget"), "" when it is not paused or an
// operator paused it.
func pausedReason(c *campaign.Campaign) string {
	if c.Status != campaign.StatusPaused {
		return ""
	}
	return string(c.PausedReason)
}

// Options configure Build.
type Options struct {
	// Now is the report's time: generated_at, and the clock of the estimate.
	Now time.Time
	// TopReasons is how many ended reasons are listed (0: DefaultTopReasons).
	TopReasons int
}

// Build makes the report of f. It is pure: the same facts and options give the same report.
func Build(f *campaign.ReportFacts, opts Options) *Report {
	if opts.TopReasons <= 0 {
		opts.TopReasons = DefaultTopReasons
	}
	c := f.Campaign
	r := &Report{
		SchemaVersion: SchemaVersion,
		GeneratedAt:   opts.Now.UTC(),
		Campaign: CampaignInfo{
			ID: c.ID, Name: c.Name, Status: string(c.Status), Mode: string(c.Mode), SourceFile: c.SourceFile,
			CreatedAt: c.CreatedAt.UTC(), StartedAt: utcPtr(f.StartedAt), FinishedAt: utcPtr(f.FinishedAt),
			AssistantID: c.AssistantID, PhoneNumberID: c.PhoneNumberID, Window: c.WindowSpec, TimeZone: c.DefaultTimeZone,
			RatePerSecond: c.RatePerSecond, MaxConcurrent: c.MaxConcurrent, MaxAttempts: c.MaxAttempts,
			RetryPolicy: c.RetryPolicy, MaxCostUSD: c.MaxCostUSD, PausedReason: pausedReason(c),
			SquadID: c.SquadID, WorkflowID: c.WorkflowID, InlineAssistant: InlineAssistantName(c.Assistant),
			TargetColumn: targetColumn(c),
			StartAt:      utcPtr(c.StartAt), EndBy: utcPtr(c.EndBy),
		},
	}
	r.Contacts, r.Outcomes, r.Suppressions = contactFigures(f)
	r.Funnel, r.TimeZones = funnel(f)
	r.EndedReasons = endedReasons(f, opts.TopReasons)
	r.SuccessEvaluations = successEvaluations(f)
	r.Attempts = attemptYields(f, r.Funnel[1].Contacts)
	r.Cost = cost(f, r.Funnel[3].Contacts)
	r.Duration = duration(f)
	r.Hours = hours(f)
	r.Import = importFigures(c.ImportStats)
	r.Suppressions.RejectedAtImport = c.ImportStats.Rejected[campaign.RejectSuppressed]
	r.Progress = progress(f, r.Contacts, opts.Now)
	r.CallerNumbers = callerNumbers(f)
	return r
}

func callerNumbers(f *campaign.ReportFacts) []CallerNumberFigures {
	out := make([]CallerNumberFigures, 0, len(f.ByCallerNumber))
	for _, n := range f.ByCallerNumber {
		var perCall *float64
		if n.Calls > 0 {
			v := roundUSD(n.CostUSD / float64(n.Calls))
			perCall = &v
		}
		out = append(out, CallerNumberFigures{PhoneNumberID: n.PhoneNumberID, Number: n.Number, Calls: n.Calls,
			ConnectedCalls: n.Connected, SuccessfulCalls: n.Successful, ConnectRate: share(n.Connected, n.Calls),
			CostUSD: roundUSD(n.CostUSD), PerCallUSD: perCall})
	}
	return out
}

func contactFigures(f *campaign.ReportFacts) (ContactsInfo, []OutcomeShare, Suppressions) {
	info := ContactsInfo{ByState: map[string]int{}}
	for _, s := range campaign.ContactStates() {
		info.ByState[string(s)] = 0
	}
	byOutcome := map[string]int{}
	var sup Suppressions
	for _, cc := range f.Contacts {
		info.Total += cc.Contacts
		info.ByState[string(cc.State)] += cc.Contacts
		if cc.State.Final() {
			info.Final += cc.Contacts
		}
		byOutcome[cmp.Or(cc.Outcome, NoOutcome)] += cc.Contacts
		if cc.State == campaign.ContactDoNotCall {
			if cc.Outcome == "" {
				sup.StoppedBeforeCall += cc.Contacts
			} else {
				sup.AskedInCall += cc.Contacts
			}
		}
	}
	outcomes := make([]OutcomeShare, 0, len(byOutcome))
	for o, n := range byOutcome {
		outcomes = append(outcomes, OutcomeShare{Outcome: o, Contacts: n, Share: share(n, info.Total)})
	}
	slices.SortFunc(outcomes, func(a, b OutcomeShare) int {
		return cmp.Or(cmp.Compare(b.Contacts, a.Contacts), cmp.Compare(a.Outcome, b.Outcome))
	})
	return info, outcomes, sup
}

func funnel(f *campaign.ReportFacts) ([]FunnelStage, []ZoneFigures) {
	var counts [4]int
	zones := make([]ZoneFigures, 0, len(f.Zones))
	for _, z := range f.Zones {
		counts[0] += z.Contacts
		counts[1] += z.Dialed
		counts[2] += z.Connected
		counts[3] += z.Successful
		zones = append(zones, ZoneFigures{TimeZone: z.Zone, Contacts: z.Contacts, Dialed: z.Dialed,
			Connected: z.Connected, Successful: z.Successful, Calls: z.Calls})
	}
	names := []string{StageContacts, StageDialed, StageConnected, StageSuccessful}
	stages := make([]FunnelStage, len(names))
	for i, name := range names {
		prev := counts[0]
		if i > 0 {
			prev = counts[i-1]
		}
		stages[i] = FunnelStage{Stage: name, Contacts: counts[i], ShareOfContacts: share(counts[i], counts[0]),
			ShareOfPrevious: share(counts[i], prev)}
	}
	return stages, zones
}

func endedReasons(f *campaign.ReportFacts, top int) EndedReasons {
	type agg struct {
		outcome          string
		calls, durations int
		cost, seconds    float64
	}
	by := map[string]*agg{}
	var total int
	for _, g := range f.Groups {
		if !g.Call {
			continue
		}
		a := by[g.EndedReason]
		if a == nil {
			a = &agg{outcome: cmp.Or(g.Outcome, NoOutcome)}
			by[g.EndedReason] = a
		}
		a.calls += g.Attempts
		a.cost += g.CostUSD
		a.durations += g.Durations
		a.seconds += g.DurationSeconds
		total += g.Attempts
	}
	list := make([]ReasonShare, 0, len(by))
	for reason, a := range by {
		rs := ReasonShare{EndedReason: reason, Outcome: a.outcome, Calls: a.calls, Share: share(a.calls, total),
			CostUSD: roundUSD(a.cost)}
		if a.durations > 0 {
			rs.AvgDurationSeconds = ptr(roundSeconds(a.seconds / float64(a.durations)))
		}
		list = append(list, rs)
	}
	slices.SortFunc(list, func(a, b ReasonShare) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.EndedReason, b.EndedReason))
	})
	er := EndedReasons{Calls: total, Top: list}
	if len(list) > top {
		er.Top = list[:top]
		o := &OtherReasons{Reasons: len(list) - top}
		var cost float64
		for _, rs := range list[top:] {
			o.Calls += rs.Calls
			cost += by[rs.EndedReason].cost
		}
		o.Share, o.CostUSD = share(o.Calls, total), roundUSD(cost)
		er.Other = o
	}
	return er
}

func successEvaluations(f *campaign.ReportFacts) SuccessEvaluations {
	se := SuccessEvaluations{SuccessValues: campaign.SuccessValues, Values: []ValueShare{}}
	by := map[string]int{}
	for _, g := range f.Groups {
		if !g.Call {
			continue
		}
		if g.SuccessEvaluation == "" {
			se.NotEvaluated += g.Attempts
			continue
		}
		se.Evaluated += g.Attempts
		by[g.SuccessEvaluation] += g.Attempts
	}
	for v, n := range by {
		se.Values = append(se.Values, ValueShare{Value: v, Success: IsSuccess(v), Calls: n, Share: share(n, se.Evaluated)})
	}
	slices.SortFunc(se.Values, func(a, b ValueShare) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Value, b.Value))
	})
	return se
}

// IsSuccess reports whether a success evaluation counts as a success (campaign.SuccessValues).
func IsSuccess(evaluation string) bool {
	return slices.Contains(campaign.SuccessValues, lowerTrim(evaluation))
}

func attemptYields(f *campaign.ReportFacts, dialed int) []AttemptYield {
	out := make([]AttemptYield, 0, len(f.ByCallNumber))
	var connected, successful int
	for _, n := range f.ByCallNumber {
		connected += n.FirstConnected
		successful += n.FirstSuccessful
		out = append(out, AttemptYield{
			Attempt: n.Number, Calls: n.Calls, ConnectedCalls: n.Connected, SuccessfulCalls: n.Successful,
			Yield: share(n.Connected, n.Calls), SuccessYield: share(n.Successful, n.Calls),
			FirstConnected: n.FirstConnected, CumulativeConnectedShare: share(connected, dialed),
			FirstSuccessful: n.FirstSuccessful, CumulativeSuccessShare: share(successful, dialed),
		})
	}
	return out
}

func cost(f *campaign.ReportFacts, successfulContacts int) Cost {
	fc := f.Cost
	c := Cost{
		TotalUSD: roundUSD(fc.TotalUSD),
		ByComponent: CostComponents{TransportUSD: roundUSD(fc.TransportUSD), STTUSD: roundUSD(fc.STTUSD),
			LLMUSD: roundUSD(fc.LLMUSD), TTSUSD: roundUSD(fc.TTSUSD), VapiUSD: roundUSD(fc.VapiUSD),
			AnalysisUSD: roundUSD(fc.AnalysisUSD)},
		ByOutcome: []OutcomeCost{},
	}
	type agg struct {
		calls int
		cost  float64
	}
	by := map[string]*agg{}
	var calls, connected int
	for _, g := range f.Groups {
		if !g.Call {
			continue
		}
		o := cmp.Or(g.Outcome, NoOutcome)
		a := by[o]
		if a == nil {
			a = &agg{}
			by[o] = a
		}
		a.calls += g.Attempts
		a.cost += g.CostUSD
		calls += g.Attempts
		if g.Outcome == string(campaign.OutcomeCompleted) {
			connected += g.Attempts
		}
	}
	for o, a := range by {
		c.ByOutcome = append(c.ByOutcome, OutcomeCost{Outcome: o, Calls: a.calls, CostUSD: roundUSD(a.cost),
			Share: shareF(a.cost, fc.TotalUSD)})
	}
	slices.SortFunc(c.ByOutcome, func(a, b OutcomeCost) int {
		return cmp.Or(cmp.Compare(b.CostUSD, a.CostUSD), cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Outcome, b.Outcome))
	})
	per := func(n int) *float64 {
		if n == 0 {
			return nil
		}
		return ptr(roundUSD(fc.TotalUSD / float64(n)))
	}
	c.PerCallUSD, c.PerConnectedCallUSD, c.PerSuccessUSD = per(calls), per(connected), per(successfulContacts)
	return c
}

func duration(f *campaign.ReportFacts) Duration {
	fd := f.Duration
	d := Duration{ConnectedCalls: fd.Calls, TotalMinutes: math.Round(fd.TotalSeconds/60*10) / 10}
	if fd.Calls > 0 {
		d.MeanSeconds, d.P50Seconds, d.P90Seconds = ptr(roundSeconds(fd.Mean)), ptr(roundSeconds(fd.P50)), ptr(roundSeconds(fd.P90))
	}
	edges := campaign.DurationBucketEdges
	d.Histogram = make([]DurationBucket, len(edges)+1)
	for i := range d.Histogram {
		b := DurationBucket{}
		if i > 0 {
			b.FromSeconds = edges[i-1]
		}
		if i < len(edges) {
			b.ToSeconds = ptr(edges[i])
		}
		if i < len(fd.Buckets) {
			b.Calls = fd.Buckets[i]
		}
		d.Histogram[i] = b
	}
	return d
}

func hours(f *campaign.ReportFacts) Hours {
	h := Hours{ByHour: make([]HourCount, 24), UnknownCalls: f.UnknownHourCalls}
	for i, x := range f.Hours {
		h.ByHour[i] = HourCount{Hour: i, Calls: x.Calls, Connected: x.Connected}
	}
	return h
}

func importFigures(s campaign.ImportStats) ImportFigures {
	im := ImportFigures{RowsRead: s.RowsRead, Accepted: s.Accepted, Rejected: s.RejectedTotal(),
		RejectedByReason: map[string]int{}, RejectsFile: s.RejectsFile, NamesCut: s.NamesCut,
		DefaultTimeZoneRows: s.DefaultTimeZoneRows}
	for reason, n := range s.Rejected {
		if n > 0 {
			im.RejectedByReason[string(reason)] = n
		}
	}
	return im
}

// progress is the progress of a campaign not completed or cancelled (nil otherwise). The pace is
// the final contacts per hour since the first attempt; the estimate is now plus the remaining
// contacts at that pace, and never before the last retry or callback scheduled.
func progress(f *campaign.ReportFacts, contacts ContactsInfo, now time.Time) *Progress {
	status := f.Campaign.Status
	if status == campaign.StatusCompleted || status == campaign.StatusCancelled {
		return nil
	}
	p := &Progress{Status: string(status), Final: contacts.Final, Remaining: contacts.Total - contacts.Final,
		FinalShare: share(contacts.Final, contacts.Total), LiveCalls: f.LiveCalls,
		InProgress:    contacts.ByState[string(campaign.ContactQueued)] + contacts.ByState[string(campaign.ContactInCall)],
		LastScheduled: utcPtr(f.LastDue)}
	for _, cc := range f.Contacts {
		if cc.State == campaign.ContactPending {
			p.AwaitingRetry += cc.Called
			p.NeverCalled += cc.Contacts - cc.Called
		}
	}
	if f.NextDue != nil && f.NextDue.After(now) {
		p.NextDue = utcPtr(f.NextDue)
	}
	if f.FirstAttemptAt != nil {
		if hours := now.Sub(*f.FirstAttemptAt).Hours(); hours > 0 && p.Final > 0 {
			p.ContactsPerHour = ptr(math.Round(float64(p.Final)/hours*100) / 100)
		}
	}
	if campaign.Orphaned(status, f.Runner) {
		p.Orphaned, p.NoRunnerSince = true, utcPtr(f.Runner.LastSeen)
		p.Continue = campaign.ContinueCommand(f.Campaign, true)
	}
	if p.PausedReason = pausedReason(f.Campaign); p.PausedReason != "" {
		p.Continue = campaign.BudgetContinueCommand(f.Campaign)
	}
	switch {
	case p.Remaining == 0:
		p.EstimateNote = "every contact is final"
	case p.Orphaned:
		p.EstimateNote = "no runner runs the campaign: no estimate until it runs again"
	case p.PausedReason != "":
		p.EstimateNote = "the campaign is paused by its budget cap: no estimate until it runs again"
	case status == campaign.StatusDraft:
		p.EstimateNote = "the campaign has not been started"
	case status == campaign.StatusScheduled && f.Campaign.StartAt != nil:
		p.EstimateNote = "the campaign is scheduled to start at " + fmtTime(*f.Campaign.StartAt) + ": no estimate until it runs"
	case status != campaign.StatusRunning:
		p.EstimateNote = "the campaign is " + string(status) + ": no estimate until it runs again"
	case p.ContactsPerHour == nil:
		p.EstimateNote = "no contact is final yet: no pace to estimate from"
	default:
		hours := float64(p.Remaining) / (float64(p.Final) / now.Sub(*f.FirstAttemptAt).Hours())
		finish := now.Add(time.Duration(hours * float64(time.Hour))).UTC().Truncate(time.Minute)
		p.EstimateNote = "at the pace so far"
		if p.LastScheduled != nil && p.LastScheduled.After(finish) {
			finish = *p.LastScheduled
			p.EstimateNote = "the last retry scheduled"
		}
		if end := f.Campaign.EndBy; end != nil && end.Before(finish) {
			finish = end.UTC()
			p.EstimateNote = "its end (--end-by): contacts not reached by then expire"
		}
		p.EstimatedFinish = &finish
	}
	return p
}

// share is n/of rounded to 4 decimals; nil when of is 0.
func share(n, of int) *float64 {
	return shareF(float64(n), float64(of))
}

// shareF is share for amounts.
func shareF(n, of float64) *float64 {
	if of == 0 {
		return nil
	}
	return ptr(math.Round(n/of*10000) / 10000)
}

// roundUSD rounds an amount of USD to a hundredth of a cent.
func roundUSD(usd float64) float64 { return math.Round(usd*10000) / 10000 }

// roundSeconds rounds seconds to a tenth.
func roundSeconds(s float64) float64 { return math.Round(s*10) / 10 }

func ptr[T any](v T) *T { return &v }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// InlineAssistantName is a transient assistant's name, "(unnamed)" without one; "" without a
// transient assistant.
func InlineAssistantName(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var a struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &a) != nil || a.Name == "" {
		return "(unnamed)"
	}
	return a.Name
}

// Target says what places the calls, for people: "assistant ID" (or "assistant (none)"),
// "squad ID", "workflow ID" or "inline assistant NAME"; with a target column, "target per row
// from column "COLUMN", else " and that.
func (c CampaignInfo) Target() string {
	own := "assistant " + keyLabel(c.AssistantID)
	switch {
	case c.SquadID != "":
		own = "squad " + c.SquadID
	case c.WorkflowID != "":
		own = "workflow " + c.WorkflowID
	case c.InlineAssistant != "":
		own = "inline assistant " + c.InlineAssistant
	}
	if c.TargetColumn != "" {
		return fmt.Sprintf("target per row from column %q, else %s", c.TargetColumn, own)
	}
	return own
}

// targetColumn is the header of the campaign's target column, "" when it has none.
func targetColumn(c *campaign.Campaign) string {
	if c.TargetColumn == nil || *c.TargetColumn < 0 || *c.TargetColumn >= len(c.Columns) {
		return ""
	}
	return c.Columns[*c.TargetColumn]
}

// Schedule says the campaign's schedule for people: "starts at TIME, ends by TIME" (either
// part alone), or "" when it has none.
func (c CampaignInfo) Schedule() string {
	var parts []string
	if c.StartAt != nil {
		parts = append(parts, "starts at "+fmtTime(*c.StartAt))
	}
	if c.EndBy != nil {
		parts = append(parts, "ends by "+fmtTime(*c.EndBy))
	}
	return strings.Join(parts, ", ")
}
