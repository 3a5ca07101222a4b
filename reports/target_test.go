package reports_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
)

// TestReportTarget: every format of the report names what places the calls.
func TestReportTarget(t *testing.T) {
	for _, tt := range []struct {
		name      string
		set       func(*campaign.Settings)
		text      string
		jsonField string
		csvRow    string
	}{
		{"assistant", func(s *campaign.Settings) {}, "assistant asst-1", `"assistant_id":"asst-1"`, "campaign,,assistant_id,asst-1"},
		{"squad", func(s *campaign.Settings) { s.AssistantID, s.SquadID = "", "sq-1" }, "squad sq-1", `"squad_id":"sq-1"`, "campaign,,squad_id,sq-1"},
		{"workflow", func(s *campaign.Settings) { s.AssistantID, s.WorkflowID = "", "wf-1" }, "workflow wf-1", `"workflow_id":"wf-1"`, "campaign,,workflow_id,wf-1"},
		{"inline", func(s *campaign.Settings) { s.AssistantID, s.Assistant = "", json.RawMessage(`{"name":"Acme"}`) },
			"inline assistant Acme", `"inline_assistant":"Acme"`, "campaign,,inline_assistant,Acme"},
		{"inline unnamed", func(s *campaign.Settings) { s.AssistantID, s.Assistant = "", json.RawMessage(`{}`) },
			"inline assistant (unnamed)", `"inline_assistant":"(unnamed)"`, "campaign,,inline_assistant,(unnamed)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := facts()
			tt.set(&f.Campaign.Settings)
			r := reports.Build(f, reports.Options{Now: now})
			r.Analytics = reports.Unavailable("none")
			out := map[reports.Format]string{}
			for _, format := range []reports.Format{reports.FormatText, reports.FormatJSON, reports.FormatCSV, reports.FormatHTML} {
				var buf bytes.Buffer
				require.NoError(t, reports.Write(&buf, r, format))
				out[format] = buf.String()
			}
			require.Contains(t, out[reports.FormatText], ", "+tt.text+", phone number")
			require.Contains(t, out[reports.FormatHTML], "· "+tt.text+" ·")
			var compact bytes.Buffer
			require.NoError(t, json.Compact(&compact, []byte(out[reports.FormatJSON])))
			require.Contains(t, compact.String(), tt.jsonField)
			require.Contains(t, out[reports.FormatCSV], tt.csvRow)
		})
	}
}
