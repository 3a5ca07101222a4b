// Package campaign holds the domain of outbound calling campaigns: campaigns, contacts and
// attempts; the rules that govern them (calling windows, time zones, CSV hygiene); and the Store
// that keeps them in Postgres. It knows nothing of River, HTTP or the command line.
package campaign

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the life-cycle state of a campaign.
type Status string

// Campaign statuses.
const (
	StatusDraft     Status = "draft"     // imported, never started (dry runs stop here)
	StatusScheduled Status = "scheduled" // started before its StartAt: waits for it, dials nobody
	StatusRunning   Status = "running"   // contacts are being dialed
	StatusPaused    Status = "paused"    // no new dials; calls in flight finish
	StatusCompleted Status = "completed" // every contact is in a final state
	StatusCancelled Status = "cancelled" // stopped for good by an operator
	StatusFailed    Status = "failed"    // stopped by an error; resumable
)

// PauseReason says why a paused campaign is paused.
type PauseReason string

// Pause reasons.
const (
	// PauseOperator: an operator paused it (campaign pause), or it is not paused.
	PauseOperator PauseReason = ""
	// PauseBudget: its budget cap (Settings.MaxCostUSD) stopped new calls (Store.BeginAttempt).
	// Raise the cap (campaign set --max-cost) and resume it.
	PauseBudget PauseReason = "budget"
)

// Ended reports whether a campaign in status s has stopped for good unless an operator resumes
// it: completed, cancelled or failed. A draft or paused campaign waits for an operator; a running
// one dials.
func (s Status) Ended() bool {
	switch s {
	case StatusCompleted, StatusCancelled, StatusFailed:
		return true
	}
	return false
}

// Mode says which processes run a campaign's calls.
type Mode string

// Campaign modes.
const (
	// ModeForeground: the `campaign run` or `campaign resume` process that started it, on its
	// own queues; `campaign serve` leaves it alone.
	ModeForeground Mode = "foreground"
	// ModeService: `campaign serve` processes (`campaign run --detach`).
	ModeService Mode = "service"
	// ModeSimulated: a --simulate process with its in-process simulator; no other process may
	// dial it, since its calls exist only in that simulator.
	ModeSimulated Mode = "simulated"
)

// ContactState is where a contact stands in its campaign.
type ContactState string

// Contact states. Completed, Failed, Cancelled and DoNotCall are final.
const (
	ContactPending   ContactState = "pending"     // waiting for its turn, window or retry time
	ContactQueued    ContactState = "queued"      // picked by the hopper; a dial job exists for it
	ContactInCall    ContactState = "in_call"     // an attempt is being placed or is live
	ContactCompleted ContactState = "completed"   // reached an outcome that needs no more calls
	ContactFailed    ContactState = "failed"      // attempts exhausted or a permanent failure
	ContactCancelled ContactState = "cancelled"   // its campaign was cancelled first
	ContactDoNotCall ContactState = "do_not_call" // suppressed, or asked not to be called
)

// Final reports whether a contact in this state will never be called again.
func (s ContactState) Final() bool {
	switch s {
	case ContactCompleted, ContactFailed, ContactCancelled, ContactDoNotCall:
		return true
	}
	return false
}

// finalContactStates are the final contact states, for SQL (state = ANY(…)).
func finalContactStates() []ContactState {
	var final []ContactState
	for _, s := range ContactStates() {
		if s.Final() {
			final = append(final, s)
		}
	}
	return final
}

// Campaign is one imported CSV and the settings its calls are placed with.
type Campaign struct {
	ID         int64
	Name       string
	Status     Status
	Mode       Mode
	SourceFile string

	// Columns is the CSV header exactly as written; the *Column fields index into it (-1 when
	// absent) and VariableColumns lists the columns passed to the assistant as variables.
	Columns          []string
	Delimiter        rune
	PhoneColumn      int
	NameColumn       int
	TimeZoneColumn   int
	ExternalIDColumn int
	VariableColumns  []int
	// OverridesColumn is the index of the column holding each contact's assistantOverrides
	// JSON object (nil when absent, so a zero Campaign has none), deep-merged over
	// Settings.Overrides for that contact's calls (see RowOverrides).
	OverridesColumn *int
	// TargetColumn is the index of the column naming each contact's own assistant or squad
	// (nil when absent): a non-empty cell places that contact's calls instead of the
	// campaign's target (see ContactSettings).
	TargetColumn *int
	// PhoneNumberColumn is the index of the column naming each contact's own caller number, a
	// Vapi phone number id (nil when absent): a non-empty cell fixes the number that contact's
	// calls come from instead of the pool's choice (see RowPhoneNumber).
	PhoneNumberColumn *int

	Settings

	// PausedReason says why a paused campaign is paused (PauseOperator when it is not).
	PausedReason PauseReason

	ImportStats ImportStats
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Settings are what a campaign's calls are placed with: the assistant and the number they come
// from, the user's overrides, the webhook routing, the calling hours and the pacing.
type Settings struct {
	// AssistantID, SquadID, WorkflowID and Assistant (a transient assistant's CreateAssistantDTO
	// JSON object) are what places the calls: at most one is set (see Target).
	AssistantID   string
	SquadID       string
	WorkflowID    string
	Assistant     json.RawMessage
	PhoneNumberID string
	// Overrides is the user's assistantOverrides JSON object, merged into every call.
	Overrides json.RawMessage
	// PublicURL is where Vapi can reach the webhook receiver; "" means results are polled.
	PublicURL     string
	WebhookSecret string
	// Webhooks is the user's choice of how results reach the runner ("" = WebhooksAuto);
	// KeepServer is the pre-flight's decision by it (see RouteWebhooks): the calls leave the
	// assistant's server in place and results are polled. ServerMessages are the assistant's own
	// serverMessages, kept by the calls that carry PublicURL as their server.
	Webhooks       WebhookMode
	KeepServer     bool
	ServerMessages []string

	WindowSpec      string
	DefaultTimeZone string
	DefaultRegion   string
	RatePerSecond   float64
	MaxConcurrent   int
	// RetryPolicy is the --retry spec (see ParseRetryPolicy); MaxAttempts caps counted attempts.
	RetryPolicy string
	MaxAttempts int
	// CallbackKey and DoNotCallKey name the structured-data fields of the conversation's
	// follow-ups ("" = DefaultCallbackAtKey, DefaultDoNotCallKey).
	CallbackKey, DoNotCallKey string
	// RetryTimeScale divides retry delays: 1 in real campaigns, the simulator's time scale in
	// simulated ones, whose retries run on simulated time like their calls.
	RetryTimeScale float64
	// MaxCostUSD is the budget cap in USD, nil for none: no new call is placed once the cost
	// recorded plus the expected cost of the calls still unpriced would pass it (see
	// Store.BeginAttempt).
	MaxCostUSD *float64
	// PredialURL is the pre-dial eligibility hook asked before every dial ("" = none; see
	// PredialRequest in package jobs): a contact is dialed only when it answers eligible.
	PredialURL string
	// NotifyURL is where the campaign's events are POSTed ("" = nowhere; see NotificationBody);
	// NotifySpike is its failure-spike rule (see ParseSpike; "" = DefaultNotifySpike).
	NotifyURL, NotifySpike string
	// StartAt, when set, is the earliest the campaign dials: started before it, it waits in
	// StatusScheduled (see Store.Start, Store.StartScheduled). EndBy, when set and after StartAt,
	// is when it stops: no call begins at or after it, and its contacts not yet final then end
	// failed with OutcomeExpired (see Store.ExpireContacts).
	StartAt, EndBy *time.Time
	// PhoneNumberIDs is the pool of numbers the calls come from, in the order given
	// (PhoneNumberID is its first; see CallerNumbers); NumberStrategy picks each call's
	// (Store.BeginAttempt), within the per-number limits (0: none); NewNumberOnRetry lets a
	// contact's later attempt use another number than its previous attempt's.
	PhoneNumberIDs         []string
	NumberStrategy         NumberStrategy
	PerNumberMaxConcurrent int
	PerNumberDailyCap      int
	NewNumberOnRetry       bool
}

// Variables returns the template variables of a contact: header name → cell, for every
// variable column of the campaign.
func (c *Campaign) Variables(ct *Contact) map[string]string {
	vars := make(map[string]string, len(c.VariableColumns))
	for _, i := range c.VariableColumns {
		if i < len(ct.Fields) && i < len(c.Columns) {
			vars[c.Columns[i]] = ct.Fields[i]
		}
	}
	return vars
}

// RowOverrides returns the contact's own assistantOverrides JSON object from the campaign's
// overrides column, nil when the campaign has none or the cell is empty.
func (c *Campaign) RowOverrides(ct *Contact) json.RawMessage {
	if c.OverridesColumn == nil || *c.OverridesColumn < 0 || *c.OverridesColumn >= len(ct.Fields) {
		return nil
	}
	cell := strings.TrimSpace(ct.Fields[*c.OverridesColumn])
	if cell == "" {
		return nil
	}
	return json.RawMessage(cell)
}

// Contact is one accepted CSV row of a campaign.
type Contact struct {
	ID             int64
	CampaignID     int64
	Line           int
	Phone          string // E.164
	Name           string // customer.name, at most 40 characters
	ExternalID     string
	TimeZones      []string
	TimeZoneSource TimeZoneSource
	Fields         []string // the original row, in header order
	State          ContactState
	Outcome        string
	Attempts       int
	NextAttemptAt  *time.Time
	// PredialFailures counts the consecutive pre-dial checks that got no usable answer.
	PredialFailures int
	// PredialReason is why the pre-dial hook made the contact ineligible ("" otherwise).
	PredialReason string
}

// ImportStats are the figures of a CSV import, kept with the campaign.
type ImportStats struct {
	RowsRead int                  `json:"rows_read"`
	Accepted int                  `json:"accepted"`
	Rejected map[RejectReason]int `json:"rejected"`
	// RejectsFile is where rejected rows were written ("" when there were none).
	RejectsFile string `json:"rejects_file,omitempty"`
	// NamesCut counts names shortened to Vapi's 40-character limit.
	NamesCut int `json:"names_cut"`
	// DefaultTimeZoneRows counts contacts whose time zone fell back to the campaign default.
	DefaultTimeZoneRows int      `json:"default_time_zone_rows"`
	Warnings            []string `json:"warnings,omitempty"`
	// SourceSHA256 is the hex SHA-256 of the file imported.
	SourceSHA256 string `json:"source_sha256,omitempty"`
	// ReplacedDraft is the id of the draft of the same name and file this import replaced.
	ReplacedDraft int64 `json:"replaced_draft,omitempty"`
}

// RejectedTotal is the number of rows rejected for any reason.
func (s ImportStats) RejectedTotal() int {
	n := 0
	for _, c := range s.Rejected {
		n += c
	}
	return n
}

// MaxAttemptKeyLen is Vapi's limit on a call's name and customer.externalId, which carry the key.
const MaxAttemptKeyLen = 40

// AttemptKey is the deterministic key of a contact's n-th call attempt. It is unique across
// campaigns, at most 40 characters, and goes into the call's name and customer.externalId so a
// call found at Vapi can be matched to its attempt.
func AttemptKey(campaignID, contactID int64, n int) string {
	return fmt.Sprintf("cmp-%s-%s-%d", strconv.FormatInt(campaignID, 36), strconv.FormatInt(contactID, 36), n)
}

// TargetKind is what places a campaign's calls.
type TargetKind string

// The kinds of target: none yet (a dry run, or a simulation that brings its own assistant), a
// saved assistant, a transient assistant sent inline, a saved squad, a saved workflow.
const (
	TargetNone            TargetKind = ""
	TargetAssistant       TargetKind = "assistant"
	TargetInlineAssistant TargetKind = "inline-assistant"
	TargetSquad           TargetKind = "squad"
	TargetWorkflow        TargetKind = "workflow"
)

// Target is the kind of what places the calls and its id ("" for an inline assistant or none).
func (s *Settings) Target() (TargetKind, string) {
	switch {
	case s.AssistantID != "":
		return TargetAssistant, s.AssistantID
	case s.SquadID != "":
		return TargetSquad, s.SquadID
	case s.WorkflowID != "":
		return TargetWorkflow, s.WorkflowID
	case len(s.Assistant) > 0:
		return TargetInlineAssistant, ""
	}
	return TargetNone, ""
}

// TargetLabel names what places the calls for people: "squad sq_1", "inline assistant", "".
func (s *Settings) TargetLabel() string {
	kind, id := s.Target()
	switch kind {
	case TargetNone:
		return ""
	case TargetInlineAssistant:
		return "inline assistant"
	}
	return string(kind) + " " + id
}

// HasTarget reports whether something is named to place the calls.
func (s *Settings) HasTarget() bool {
	kind, _ := s.Target()
	return kind != TargetNone
}
