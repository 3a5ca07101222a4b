package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

const (
	asstA = "a1f0c6a2-7b1e-4c59-9d33-000000000001"
	asstB = "a1f0c6a2-7b1e-4c59-9d33-000000000002"
	squad = "5e1d0a7c-3b2f-4c8e-9a61-000000000001"
)

func TestParseRowTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cell        string
		squadColumn bool
		want        campaign.RowTarget
		wantErr     string
	}{
		{cell: "", want: campaign.RowTarget{}},
		{cell: "  ", squadColumn: true, want: campaign.RowTarget{}},
		{cell: asstA, want: campaign.RowTarget{Kind: campaign.TargetAssistant, ID: asstA}},
		{cell: squad, squadColumn: true, want: campaign.RowTarget{Kind: campaign.TargetSquad, ID: squad}},
		{cell: " Squad : " + strings.ToUpper(squad), want: campaign.RowTarget{Kind: campaign.TargetSquad, ID: squad}},
		{cell: "assistant:" + asstB, squadColumn: true, want: campaign.RowTarget{Kind: campaign.TargetAssistant, ID: asstB}},
		{cell: "workflow:" + asstA, wantErr: "the prefix must be assistant: or squad:"},
		{cell: "asst_123", wantErr: `"asst_123" is not an assistant id`},
		{cell: "squad:", wantErr: "is not a squad id"},
		{cell: asstA + "x", wantErr: "Vapi's ids are uuids"},
	}
	for _, tt := range tests {
		t.Run(tt.cell, func(t *testing.T) {
			got, err := campaign.ParseRowTarget(tt.cell, tt.squadColumn)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestReaderTargetColumn checks the per-row target column: found by its header (assistant_id,
// squad_id, in any case) or named, kept out of the variables, and a malformed cell, or an empty
// one when the campaign has no target, rejects its row with bad_target.
func TestReaderTargetColumn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		input      string
		opts       campaign.ReaderOptions
		wantColumn int
		wantVars   []int
		wantLines  []int          // accepted rows
		wantReject map[int]string // line → detail substring
	}{
		{
			name:       "AssistantIDHeader",
			input:      "phone,first,Assistant_ID\n+14155550123,Ada," + asstA + "\n+14155550124,Bob,\n",
			wantColumn: 2, wantVars: []int{1}, wantLines: []int{2, 3},
		},
		{
			name:       "SquadIDHeader",
			input:      "squad_id,phone\n" + squad + ",+14155550123\n",
			wantColumn: 0, wantVars: nil, wantLines: []int{2},
		},
		{
			name:       "NamedByOption",
			input:      "phone,agent,first\n+14155550123,squad:" + squad + ",Ada\n",
			opts:       campaign.ReaderOptions{TargetColumn: "agent"},
			wantColumn: 1, wantVars: []int{2}, wantLines: []int{2},
		},
		{
			name:       "NoColumn",
			input:      "phone,target\n+14155550123,x\n",
			wantColumn: -1, wantVars: []int{1}, wantLines: []int{2},
		},
		{
			name: "BadCells",
			input: "phone,assistant_id\n" +
				"+14155550121,asst_1\n" +
				"+14155550122,workflow:" + asstA + "\n" +
				"+14155550123,squad:" + squad + "\n" +
				"+14155550124,\n",
			wantColumn: 1, wantLines: []int{4, 5},
			wantReject: map[int]string{
				2: `column "assistant_id" (column 2): "asst_1" is not an assistant id`,
				3: "the prefix must be assistant: or squad:",
			},
		},
		{
			name:  "RequiredWhenTheCampaignHasNone",
			input: "phone,assistant_id\n+14155550121,\n+14155550122," + asstA + "\n",
			opts:  campaign.ReaderOptions{RequireTarget: true}, wantColumn: 1, wantLines: []int{3},
			wantReject: map[int]string{2: "empty, and the campaign has no assistant or squad of its own"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd, err := campaign.NewReader(strings.NewReader(tt.input), tt.opts)
			require.NoError(t, err)
			h := rd.Header()
			require.Equal(t, tt.wantColumn, h.Target)
			require.Equal(t, tt.wantVars, h.Variables)
			var lines []int
			rejects := map[int]string{}
			for {
				row, rej, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if rej != nil {
					require.Equal(t, campaign.RejectBadTarget, rej.Reason)
					rejects[rej.Line] = rej.Detail
					continue
				}
				lines = append(lines, row.Line)
			}
			require.Equal(t, tt.wantLines, lines)
			require.Len(t, rejects, len(tt.wantReject))
			for line, want := range tt.wantReject {
				require.Contains(t, rejects[line], want, "line %d", line)
			}
		})
	}
}

func TestReaderTargetColumnNotFound(t *testing.T) {
	t.Parallel()
	_, err := campaign.NewReader(strings.NewReader("phone,first\n"), campaign.ReaderOptions{TargetColumn: "agent"})
	require.ErrorIs(t, err, campaign.ErrColumnNotFound)
	require.ErrorContains(t, err, "target column")
}

// TestImportRowTargets imports a file with a target column, keeps the column with the
// campaign, gives each contact its own settings (the row's target, else the campaign's), and
// lists the distinct targets once each, however written, in file order; more than the limit is
// an error.
func TestImportRowTargets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)

	f, rejects := fileImport(t, "/in/targets.csv", "phone,first,squad_id\n"+
		"+14155550100,Ada,"+squad+"\n"+
		"+14155550101,Bob,assistant:"+asstA+"\n"+
		"+14155550102,Cy,\n"+
		"+14155550103,Di, Squad:"+strings.ToUpper(squad)+"\n"+
		"+14155550104,Ed,assistant: "+asstB+"\n"+
		"+14155550105,Flo,nope\n", now)
	f.Settings.AssistantID = "campaign-asst"
	c, err := store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, 5, c.ImportStats.Accepted)
	require.Equal(t, map[campaign.RejectReason]int{campaign.RejectBadTarget: 1}, c.ImportStats.Rejected)
	require.Contains(t, rejects.String(), "bad_target")

	c, err = store.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.NotNil(t, c.TargetColumn)
	require.Equal(t, 2, *c.TargetColumn)
	require.Equal(t, []int{1}, c.VariableColumns, "the target column is no variable")

	contacts, err := store.Contacts(ctx, c.ID, 10)
	require.NoError(t, err)
	var got []string
	for i := range contacts {
		s, err := c.ContactSettings(&contacts[i])
		require.NoError(t, err)
		got = append(got, s.TargetLabel())
	}
	require.Equal(t, []string{"squad " + squad, "assistant " + asstA, "assistant campaign-asst", "squad " + squad, "assistant " + asstB}, got)

	targets, err := store.RowTargets(ctx, c, campaign.MaxRowTargets)
	require.NoError(t, err)
	require.Equal(t, []campaign.RowTarget{
		{Kind: campaign.TargetSquad, ID: squad}, {Kind: campaign.TargetAssistant, ID: asstA}, {Kind: campaign.TargetAssistant, ID: asstB},
	}, targets)
	_, err = store.RowTargets(ctx, c, 2)
	require.ErrorIs(t, err, campaign.ErrTooManyTargets)
	require.ErrorContains(t, err, `the target column "squad_id" names more than 2 distinct assistants and squads`)

	t.Run("no target column", func(t *testing.T) {
		f, _ := fileImport(t, "/in/plain.csv", "phone\n+14155550100\n", now)
		c, err := store.ImportFile(ctx, f)
		require.NoError(t, err)
		require.Nil(t, c.TargetColumn)
		targets, err := store.RowTargets(ctx, c, campaign.MaxRowTargets)
		require.NoError(t, err)
		require.Empty(t, targets)
	})

	t.Run("bound", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("phone,assistant_id\n")
		for i := range campaign.MaxRowTargets + 1 {
			// each target twice, bare and with its prefix, so cells are twice the targets
			fmt.Fprintf(&b, "+1415555%04d,%s\n+1415556%04d,assistant:%s\n", i, fmt.Sprintf("a1f0c6a2-7b1e-4c59-9d33-%012d", i),
				i, fmt.Sprintf("a1f0c6a2-7b1e-4c59-9d33-%012d", i))
		}
		f, _ := fileImport(t, "/in/many.csv", b.String(), now)
		c, err := store.ImportFile(ctx, f)
		require.NoError(t, err)
		require.Equal(t, 2*(campaign.MaxRowTargets+1), c.ImportStats.Accepted)
		_, err = store.RowTargets(ctx, c, campaign.MaxRowTargets)
		require.ErrorIs(t, err, campaign.ErrTooManyTargets)
		_, err = store.RowTargets(ctx, c, campaign.MaxRowTargets+1)
		require.NoError(t, err, "exactly the limit")
	})
}

// TestContinueCommandRowTargets: a campaign whose rows name their targets needs no target of
// its own to be resumed, only a phone number.
func TestContinueCommandRowTargets(t *testing.T) {
	t.Parallel()
	col := 1
	c := &campaign.Campaign{Name: "nov", Mode: campaign.ModeForeground, Columns: []string{"phone", "assistant_id"}, TargetColumn: &col,
		Settings: campaign.Settings{PhoneNumberID: "p"}}
	require.Equal(t, "campaign resume nov", campaign.ContinueCommand(c, false))
	c.PhoneNumberID = ""
	require.Equal(t, "campaign resume nov --assistant-id ID --phone-number-id ID (or --simulate)", campaign.ContinueCommand(c, false))
}
