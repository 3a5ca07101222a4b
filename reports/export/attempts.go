package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gocarina/gocsv"

	"github.com/campaign-run/campaign/campaign"
)

// AttemptRecord is one row of an attempts export: a call attempt with its contact's keys. Its
// csv tags are the CSV header, in order, and its json tags the JSON Lines keys. Times are
// RFC 3339 in UTC, except StartedAtLocal (see LocalTimeLayout); costs are USD.
type AttemptRecord struct {
	// The contact: its number as dialed (the key shared with a contacts export's
	// result_phone_e164), its external id, its line in the imported file, its state now.
	ContactPhone      string `csv:"contact_phone" json:"contact_phone"`
	ContactExternalID Text   `csv:"contact_external_id" json:"contact_external_id"`
	ContactLine       int    `csv:"contact_line" json:"contact_line"`
	ContactState      string `csv:"contact_state" json:"contact_state"`

	AttemptNumber int    `csv:"attempt_number" json:"attempt_number"`
	AttemptKey    string `csv:"attempt_key" json:"attempt_key"`
	// AttemptState is creating, created, ended or not_created (no call was placed).
	AttemptState string `csv:"attempt_state" json:"attempt_state"`
	VapiCallID   Text   `csv:"vapi_call_id" json:"vapi_call_id"`
	// PlacedAt is when the attempt was journaled, just before POST /call.
	PlacedAt       Time      `csv:"placed_at_utc" json:"placed_at_utc"`
	StartedAt      Time      `csv:"started_at_utc" json:"started_at_utc"`
	EndedAt        Time      `csv:"ended_at_utc" json:"ended_at_utc"`
	StartedAtLocal LocalTime `csv:"started_at_local" json:"started_at_local"`
	TimeZone       string    `csv:"time_zone" json:"time_zone"`

	EndedReason     Text   `csv:"ended_reason" json:"ended_reason"`
	Outcome         string `csv:"outcome" json:"outcome"`
	DurationSeconds Number `csv:"duration_seconds" json:"duration_seconds"`
	CostUSD         Number `csv:"cost_usd" json:"cost_usd"`
	// The cost breakdown Vapi reported; CostAnalysisUSD sums the analysis steps' costs.
	CostTransportUSD    Number `csv:"cost_transport_usd" json:"cost_transport_usd"`
	CostSTTUSD          Number `csv:"cost_stt_usd" json:"cost_stt_usd"`
	CostLLMUSD          Number `csv:"cost_llm_usd" json:"cost_llm_usd"`
	CostTTSUSD          Number `csv:"cost_tts_usd" json:"cost_tts_usd"`
	CostVapiUSD         Number `csv:"cost_vapi_usd" json:"cost_vapi_usd"`
	CostAnalysisUSD     Number `csv:"cost_analysis_usd" json:"cost_analysis_usd"`
	LLMPromptTokens     Number `csv:"llm_prompt_tokens" json:"llm_prompt_tokens"`
	LLMCompletionTokens Number `csv:"llm_completion_tokens" json:"llm_completion_tokens"`
	TTSCharacters       Number `csv:"tts_characters" json:"tts_characters"`

	SuccessEvaluation Text `csv:"success_evaluation" json:"success_evaluation"`
	Summary           Text `csv:"summary" json:"summary"`
	RecordingURL      Text `csv:"recording_url" json:"recording_url"`
	// StructuredData is the call's structured data as JSON text ("" when none): in JSON Lines,
	// the JSON value itself.
	StructuredData JSONText `csv:"structured_data" json:"structured_data"`
	// Error is why no call was placed; Decision what followed the call for the contact.
	Error    Text `csv:"error" json:"error"`
	Decision Text `csv:"decision" json:"decision"`
	// CallerNumberID is the Vapi phone number id the call came from; CallerNumber its E.164
	// number when known.
	CallerNumberID Text   `csv:"caller_number_id" json:"caller_number_id"`
	CallerNumber   string `csv:"caller_number" json:"caller_number"`
}

// Text is a cell from customer or call data: made SpreadsheetSafe in CSV, as is in JSON.
type Text string

// MarshalCSV implements gocsv.TypeMarshaller.
func (t Text) MarshalCSV() (string, error) { return SpreadsheetSafe(string(t)), nil }

// JSONText is a JSON value kept as text: SpreadsheetSafe text in CSV, the value itself in JSON
// (null when empty).
type JSONText string

// MarshalCSV implements gocsv.TypeMarshaller.
func (t JSONText) MarshalCSV() (string, error) { return SpreadsheetSafe(string(t)), nil }

// MarshalJSON implements json.Marshaler.
func (t JSONText) MarshalJSON() ([]byte, error) {
	if t == "" {
		return []byte("null"), nil
	}
	return []byte(t), nil
}

// Time is a time in UTC: RFC 3339, empty in CSV and null in JSON when zero.
type Time time.Time

// MarshalCSV implements gocsv.TypeMarshaller.
func (t Time) MarshalCSV() (string, error) {
	if time.Time(t).IsZero() {
		return "", nil
	}
	return time.Time(t).UTC().Format(time.RFC3339), nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return appendJSONTime(nil, time.Time(t), time.UTC), nil
}

// LocalTime is a time in a contact's zone: LocalTimeLayout in CSV, RFC 3339 with the offset in
// JSON; empty or null when zero.
type LocalTime time.Time

// MarshalCSV implements gocsv.TypeMarshaller.
func (t LocalTime) MarshalCSV() (string, error) {
	if time.Time(t).IsZero() {
		return "", nil
	}
	return time.Time(t).Format(LocalTimeLayout), nil
}

// MarshalJSON implements json.Marshaler.
func (t LocalTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	return appendJSONTime(nil, tt, tt.Location()), nil
}

// Number is an optional number: empty in CSV and null in JSON when absent.
type Number struct {
	Value float64
	Valid bool
}

// number is the Number of an optional value: absent when f is nil.
func number(f *float64) Number {
	if f == nil {
		return Number{}
	}
	return Number{Value: *f, Valid: true}
}

// MarshalCSV implements gocsv.TypeMarshaller.
func (n Number) MarshalCSV() (string, error) {
	if !n.Valid {
		return "", nil
	}
	return formatNumber(n.Value, 6), nil
}

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return []byte("null"), nil
	}
	return []byte(formatNumber(n.Value, 6)), nil
}

// attemptBatch is how many records go to gocsv at a time.
const attemptBatch = 256

// Attempts writes one row per call attempt of campaign c (contacts filtered by opts.Filter's
// states, attempts by its outcomes), in contact file order then attempt number, to w: every
// journaled attempt, including those that placed no call (attempt_state not_created, with the
// error). The CSV is written by gocsv from AttemptRecord, in batches.
func Attempts(ctx context.Context, store *campaign.Store, c *campaign.Campaign, w io.Writer, opts Options) (Stats, error) {
	format, err := opts.check()
	if err != nil {
		return Stats{}, err
	}
	snap, err := store.BeginResults(ctx, c.ID)
	if err != nil {
		return Stats{}, err
	}
	defer snap.Close(ctx)

	bw := bufio.NewWriterSize(w, outputBufferSize)
	var (
		stats  Stats
		zones  = zoneCache{}
		batch  = make([]AttemptRecord, 0, attemptBatch)
		emit   func() error
		finish func() error
	)
	switch format {
	case FormatJSONL:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		emit = func() error {
			for i := range batch {
				if err := enc.Encode(&batch[i]); err != nil {
					return err
				}
			}
			return nil
		}
		finish = func() error { return nil }
	default:
		cw, err := newCSVWriter(bw, c.Delimiter, opts.Excel)
		if err != nil {
			return stats, err
		}
		sw := gocsv.NewSafeCSVWriter(cw)
		// An empty slice writes the header only.
		if err := gocsv.MarshalCSV([]AttemptRecord{}, sw); err != nil {
			return stats, fmt.Errorf("write export: %w", err)
		}
		emit = func() error { return gocsv.MarshalCSVWithoutHeaders(batch, sw) }
		finish = func() error {
			sw.Flush()
			return sw.Error()
		}
	}
	err = snap.EachAttempt(ctx, opts.Filter, func(a *campaign.AttemptResult) error {
		stats.Rows++
		batch = append(batch, attemptRecord(a, zones))
		if len(batch) < attemptBatch {
			return nil
		}
		err := emit()
		batch = batch[:0]
		if err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if len(batch) > 0 {
		if err := emit(); err != nil {
			return stats, fmt.Errorf("write export: %w", err)
		}
	}
	if err := finish(); err != nil {
		return stats, fmt.Errorf("write export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("write export: %w", err)
	}
	return stats, nil
}

func attemptRecord(a *campaign.AttemptResult, zones zoneCache) AttemptRecord {
	r := AttemptRecord{
		ContactPhone: a.ContactPhone, ContactExternalID: Text(a.ContactExternalID), ContactLine: a.ContactLine,
		ContactState: string(a.ContactState), AttemptNumber: a.Number, AttemptKey: a.Key, AttemptState: string(a.State),
		VapiCallID: Text(a.VapiCallID), PlacedAt: Time(a.CreatedAt), TimeZone: a.TimeZone,
		EndedReason: Text(a.EndedReason), Outcome: a.Outcome,
		DurationSeconds: number(a.DurationSeconds), CostUSD: number(a.CostUSD),
		CostTransportUSD: number(a.TransportUSD), CostSTTUSD: number(a.STTUSD), CostLLMUSD: number(a.LLMUSD),
		CostTTSUSD: number(a.TTSUSD), CostVapiUSD: number(a.VapiUSD), CostAnalysisUSD: number(a.AnalysisUSD),
		LLMPromptTokens: number(a.LLMPromptTokens), LLMCompletionTokens: number(a.LLMCompletionTokens),
		TTSCharacters:     number(a.TTSCharacters),
		SuccessEvaluation: Text(a.SuccessEvaluation), Summary: Text(a.Summary), RecordingURL: Text(a.RecordingURL),
		StructuredData: JSONText(a.StructuredData), Error: Text(a.Error), Decision: Text(a.Decision),
		CallerNumberID: Text(a.CallerNumberID), CallerNumber: a.CallerNumber,
	}
	if a.StartedAt != nil {
		r.StartedAt = Time(*a.StartedAt)
		if loc := zones.get(a.TimeZone); loc != nil {
			r.StartedAtLocal = LocalTime(a.StartedAt.In(loc))
		}
	}
	if a.EndedAt != nil {
		r.EndedAt = Time(*a.EndedAt)
	}
	return r
}
