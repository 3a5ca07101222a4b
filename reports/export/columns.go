package export

import (
	"slices"
	"strconv"
	"strings"

	"github.com/campaign-run/campaign/campaign"
)

// The result columns of a contacts export, after the original columns, in this order. Their
// names start with "result_" so that importing an export as a new campaign never takes one of
// them for the phone, name, time-zone or external-id column (those are found by exact name).
const (
	ColState             = "result_state"              // the contact's state: completed, failed, pending, …
	ColOutcome           = "result_outcome"            // the contact's outcome: completed, no_answer, voicemail, …
	ColLastEndedReason   = "result_last_ended_reason"  // Vapi's endedReason of the last call
	ColAttempts          = "result_attempts"           // attempts counted against --max-attempts
	ColFirstCallUTC      = "result_first_call_utc"     // first call's start, RFC 3339 in UTC
	ColFirstCallLocal    = "result_first_call_local"   // the same in the contact's time zone
	ColLastCallUTC       = "result_last_call_utc"      // last call's start, RFC 3339 in UTC
	ColLastCallLocal     = "result_last_call_local"    // the same in the contact's time zone
	ColTimeZone          = "result_time_zone"          // the contact's (first) IANA time zone
	ColDurationSeconds   = "result_duration_seconds"   // all calls, seconds
	ColCostUSD           = "result_cost_usd"           // all calls, USD
	ColSuccessEvaluation = "result_success_evaluation" // the last call's analysis
	ColSummary           = "result_summary"            // the last call's analysis
	ColRecordingURL      = "result_recording_url"      // the last call's recording
	ColVapiCallID        = "result_vapi_call_id"       // the last call's Vapi id
	ColPhoneE164         = "result_phone_e164"         // the contact's number as dialed: the key shared with --attempts
	ColIneligibleReason  = "result_ineligible_reason"  // why the pre-dial hook (--predial-url) made the contact ineligible
	ColCallerNumberID    = "result_caller_number_id"   // the Vapi phone number id the last call came from
	ColCallerNumber      = "result_caller_number"      // its E.164 number, when known
)

// ResultColumns are the result columns of a contacts export, in order; the structured-data
// columns follow them.
var ResultColumns = []string{ColState, ColOutcome, ColLastEndedReason, ColAttempts, ColFirstCallUTC, ColFirstCallLocal,
	ColLastCallUTC, ColLastCallLocal, ColTimeZone, ColDurationSeconds, ColCostUSD, ColSuccessEvaluation, ColSummary,
	ColRecordingURL, ColVapiCallID, ColPhoneE164, ColIneligibleReason, ColCallerNumberID, ColCallerNumber}

// StructuredPrefix starts the name of every structured-data column: structured.KEY, with the
// keys of nested objects joined by dots (structured.customer.email).
const StructuredPrefix = "structured."

// LocalTimeLayout is how the *_local columns of a CSV show a time: the contact's wall-clock
// time, which spreadsheets read as a date and time (an offset or a zone abbreviation would
// make it text); the zone is in result_time_zone. JSON Lines use RFC 3339 with the offset.
const LocalTimeLayout = "2006-01-02 15:04:05"

// SortPaths orders structured-data paths key by key, so that the keys of one object are
// together and a file's columns come out the same whatever order the database found them in.
func SortPaths(paths []campaign.StructuredPath) {
	slices.SortFunc(paths, func(a, b campaign.StructuredPath) int { return slices.Compare(a, b) })
}

// StructuredColumn is the column name of a structured-data path.
func StructuredColumn(path campaign.StructuredPath) string {
	return StructuredPrefix + strings.Join(path, ".")
}

// ContactHeader is the header of a contacts export: the campaign's original columns as they
// were, then ResultColumns, then a column per structured-data path (paths in the order given).
// An added name that is already taken (a file exported before and imported again has result_
// columns of its own) gets _2, _3, … so that every name stays unique and the file imports.
func ContactHeader(original []string, paths []campaign.StructuredPath) []string {
	added := make([]string, 0, len(ResultColumns)+len(paths))
	added = append(added, ResultColumns...)
	for _, p := range paths {
		added = append(added, StructuredColumn(p))
	}
	return appendUnique(original, added)
}

// appendUnique returns original followed by added, each added name made unique among all.
func appendUnique(original, added []string) []string {
	out := make([]string, 0, len(original)+len(added))
	out = append(out, original...)
	taken := make(map[string]bool, len(original)+len(added))
	for _, n := range original {
		taken[n] = true
	}
	for _, n := range added {
		name := n
		for i := 2; taken[name]; i++ {
			name = n + "_" + strconv.Itoa(i)
		}
		taken[name] = true
		out = append(out, name)
	}
	return out
}
