package campaign

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReaderOverridesColumn checks the per-contact overrides column: found by its header or
// named, kept out of the variables, and a cell that is not a JSON object or that the check
// refuses rejects its row with bad_overrides.
func TestReaderOverridesColumn(t *testing.T) {
	t.Parallel()

	noServer := func(raw json.RawMessage) error {
		if strings.Contains(string(raw), `"bogus"`) {
			return errors.New("property bogus should not exist")
		}
		return nil
	}
	tests := []struct {
		name       string
		input      string
		opts       ReaderOptions
		wantColumn int
		wantVars   []int
		wantLines  []int          // accepted rows
		wantReject map[int]string // line → detail substring
	}{
		{
			name:       "DetectedByHeader",
			input:      "phone,first,assistant_overrides\n+14155550123,Ada,\"{\"\"firstMessage\"\":\"\"Hi Ada\"\"}\"\n+14155550124,Bob,\n",
			wantColumn: 2, wantVars: []int{1}, wantLines: []int{2, 3},
		},
		{
			name:       "NamedByOption",
			input:      "phone,per_row,first\n+14155550123,\"{\"\"variableValues\"\":{\"\"plan\"\":\"\"gold\"\"}}\",Ada\n",
			opts:       ReaderOptions{OverridesColumn: "per_row"},
			wantColumn: 1, wantVars: []int{2}, wantLines: []int{2},
		},
		{
			name:       "NoColumn",
			input:      "phone,first\n+14155550123,Ada\n",
			wantColumn: -1, wantVars: []int{1}, wantLines: []int{2},
		},
		{
			name: "BadCells",
			input: "phone,assistant_overrides\n" +
				"+14155550121,{not json\n" +
				"+14155550122,\"[1,2]\"\n" +
				"+14155550123,null\n" +
				"+14155550124,\"{\"\"bogus\"\":1}\"\n" +
				"+14155550125,\"{\"\"firstMessage\"\":\"\"ok\"\"}\"\n",
			opts:       ReaderOptions{CheckOverrides: noServer},
			wantColumn: 1, wantVars: nil, wantLines: []int{6},
			wantReject: map[int]string{
				2: `column "assistant_overrides" (column 2): not valid JSON`,
				3: "not a JSON object",
				4: "not a JSON object",
				5: "property bogus should not exist",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd, err := NewReader(strings.NewReader(tt.input), tt.opts)
			require.NoError(t, err)
			h := rd.Header()
			require.Equal(t, tt.wantColumn, h.Overrides)
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
					require.Equal(t, RejectBadOverrides, rej.Reason)
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

func TestReaderOverridesColumnNotFound(t *testing.T) {
	t.Parallel()
	_, err := NewReader(strings.NewReader("phone,first\n"), ReaderOptions{OverridesColumn: "extras"})
	require.ErrorIs(t, err, ErrColumnNotFound)
	require.ErrorContains(t, err, "overrides column")
}

func TestCampaignRowOverrides(t *testing.T) {
	t.Parallel()
	col := 1
	ct := &Contact{Fields: []string{"+14155550123", ` {"firstMessage":"Hi"} `}}
	require.Nil(t, (&Campaign{}).RowOverrides(ct), "no column")
	require.JSONEq(t, `{"firstMessage":"Hi"}`, string((&Campaign{OverridesColumn: &col}).RowOverrides(ct)))
	require.Nil(t, (&Campaign{OverridesColumn: &col}).RowOverrides(&Contact{Fields: []string{"+14155550123", " "}}), "empty cell")
}
