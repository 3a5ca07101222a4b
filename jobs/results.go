package jobs

import (
	"encoding/json"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// ResultFromReport turns an end-of-call report into the result the store records. The report's
// top-level fields win; the legacy duplicates fill what they leave empty.
func ResultFromReport(r *vapi.EndOfCallReport) campaign.CallResult {
	res := campaign.CallResult{
		EndedReason:        r.EndedReason,
		StartedAt:          timePtr(r.StartedAt),
		EndedAt:            timePtr(r.EndedAt),
		Cost:               r.Cost,
		Costs:              marshalRaw(r.Costs),
		CostBreakdown:      marshalRaw(r.CostBreakdown),
		Summary:            r.SummaryText(),
		Transcript:         r.TranscriptText(),
		RecordingURL:       r.RecordingURLText(),
		StereoRecordingURL: r.StereoRecordingURL,
	}
	if d, ok := r.Duration(); ok {
		s := d.Seconds()
		res.DurationSeconds = &s
	}
	if r.Analysis != nil {
		res.SuccessEvaluation = r.Analysis.SuccessEvaluation
		res.StructuredData = r.Analysis.StructuredData
	}
	if r.Artifact != nil && res.StereoRecordingURL == "" {
		res.StereoRecordingURL = r.Artifact.StereoRecordingURL
	}
	if r.Call != nil {
		res.CallID = r.Call.ID
		res.AttemptKey = attemptKeyOf(r.Call)
	}
	return res
}

// ResultFromCall turns an ended Call (GET /call/{id}) into the result the store records, for
// calls whose end-of-call report never arrived. A Call reports no length: the store measures it
// from StartedAt and EndedAt on the campaign's clock (see campaign.Store.ApplyResult).
func ResultFromCall(c *vapi.Call) campaign.CallResult {
	res := campaign.CallResult{
		CallID:        c.ID,
		AttemptKey:    attemptKeyOf(c),
		EndedReason:   c.EndedReason,
		StartedAt:     timePtr(c.StartedAt),
		EndedAt:       timePtr(c.EndedAt),
		Cost:          c.Cost,
		Costs:         marshalRaw(c.Costs),
		CostBreakdown: marshalRaw(c.CostBreakdown),
	}
	if c.Analysis != nil {
		res.Summary = c.Analysis.Summary
		res.SuccessEvaluation = c.Analysis.SuccessEvaluation
		res.StructuredData = c.Analysis.StructuredData
	}
	if c.Artifact != nil {
		res.Transcript = c.Artifact.Transcript
		res.RecordingURL = c.Artifact.RecordingURL
		res.StereoRecordingURL = c.Artifact.StereoRecordingURL
	}
	return res
}

// attemptKeyOf is the attempt key a call carries: its name, else its metadata.
func attemptKeyOf(c *vapi.Call) string {
	if c.Name != "" {
		return c.Name
	}
	if k, ok := c.Metadata()["attempt_key"].(string); ok {
		return k
	}
	return ""
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// marshalRaw encodes v for a jsonb column; nil (or an empty value) stays NULL.
func marshalRaw(v any) json.RawMessage {
	switch x := v.(type) {
	case []vapi.Cost:
		if len(x) == 0 {
			return nil
		}
	case *vapi.CostBreakdown:
		if x == nil {
			return nil
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return raw
}
