package campaign_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// TestImportKeepsTarget stores each kind of target with the campaign and reads it back; the
// database refuses a campaign with two.
func TestImportKeepsTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)
	inline := json.RawMessage(`{"name": "Acme", "firstMessage": "Hi {{first_name}}"}`)
	tests := []struct {
		name  string
		set   func(*campaign.Settings)
		kind  campaign.TargetKind
		id    string
		label string
	}{
		{"none", func(*campaign.Settings) {}, campaign.TargetNone, "", ""},
		{"assistant", func(s *campaign.Settings) { s.AssistantID = "a-1" }, campaign.TargetAssistant, "a-1", "assistant a-1"},
		{"squad", func(s *campaign.Settings) { s.SquadID = "sq-1" }, campaign.TargetSquad, "sq-1", "squad sq-1"},
		{"workflow", func(s *campaign.Settings) { s.WorkflowID = "wf-1" }, campaign.TargetWorkflow, "wf-1", "workflow wf-1"},
		{"inline", func(s *campaign.Settings) { s.Assistant = inline }, campaign.TargetInlineAssistant, "", "inline assistant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := fileImport(t, "/in/target-"+tt.name+".csv", "phone\n+14155550100\n", now)
			tt.set(&f.Settings)
			c, err := store.ImportFile(ctx, f)
			require.NoError(t, err)
			c, err = store.Campaign(ctx, c.ID)
			require.NoError(t, err)
			kind, id := c.Target()
			require.Equal(t, tt.kind, kind)
			require.Equal(t, tt.id, id)
			require.Equal(t, tt.label, c.TargetLabel())
			if tt.kind == campaign.TargetInlineAssistant {
				require.JSONEq(t, string(inline), string(c.Assistant))
			} else {
				require.Empty(t, c.Assistant)
			}
		})
	}

	t.Run("two targets are refused", func(t *testing.T) {
		f, _ := fileImport(t, "/in/two.csv", "phone\n+14155550100\n", now)
		f.Settings.AssistantID, f.Settings.SquadID = "a-1", "sq-1"
		_, err := store.ImportFile(ctx, f)
		require.ErrorContains(t, err, "campaign_one_target")
	})
}
