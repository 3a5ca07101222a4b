package reports

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCampaignInfoTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		info CampaignInfo
		want string
	}{
		{CampaignInfo{}, "assistant (none)"},
		{CampaignInfo{AssistantID: "a-1"}, "assistant a-1"},
		{CampaignInfo{SquadID: "sq-1"}, "squad sq-1"},
		{CampaignInfo{WorkflowID: "wf-1"}, "workflow wf-1"},
		{CampaignInfo{InlineAssistant: "Acme"}, "inline assistant Acme"},
		{CampaignInfo{TargetColumn: "assistant_id"}, `target per row from column "assistant_id", else assistant (none)`},
		{CampaignInfo{SquadID: "sq-1", TargetColumn: "lang"}, `target per row from column "lang", else squad sq-1`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.info.Target())
	}
}
