package campaign_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// stateValues are the values that SQL in Go code takes as arguments, never as quoted literals:
// every campaign status, contact state, attempt state and outcome, and every state of River's
// river_job (rivertype.JobStates: the benchmarks count River's jobs by state), once each.
func stateValues() []string {
	var values []string
	for _, s := range campaign.Statuses() {
		values = append(values, string(s))
	}
	for _, s := range campaign.ContactStates() {
		values = append(values, string(s))
	}
	for _, s := range []campaign.AttemptState{campaign.AttemptCreating, campaign.AttemptCreated,
		campaign.AttemptEnded, campaign.AttemptNotCreated} {
		values = append(values, string(s))
	}
	values = append(values, campaign.ContactOutcomes()...)
	for _, s := range rivertype.JobStates() {
		values = append(values, string(s))
	}
	slices.Sort(values)
	return slices.Compact(values)
}

// quotedStateValues returns the state values that s holds as SQL literals ('queued').
func quotedStateValues(s string) []string {
	var found []string
	for _, v := range stateValues() {
		if strings.Contains(s, "'"+v+"'") {
			found = append(found, v)
		}
	}
	return found
}

func TestQuotedStateValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sql  string
		want []string
	}{
		{`UPDATE contact SET state = 'queued' WHERE id = $1`, []string{"queued"}},
		{`WHERE status IN ('running', 'paused')`, []string{"running", "paused"}},
		{`a.state <> 'not_created' AND a.outcome <> 'capacity'`, []string{"not_created", "capacity"}},
		{`FROM river_job WHERE state IN ('available', 'retryable', 'discarded')`, []string{"available", "retryable", "discarded"}},
		{`UPDATE contact SET state = $2 WHERE id = $1`, nil},
		{`SELECT 'queue' || name, 'pending-review'`, nil},
	} {
		require.ElementsMatch(t, tc.want, quotedStateValues(tc.sql), tc.sql)
	}
}

// TestNoStateLiteralsInSQL keeps statuses, states and outcomes out of the SQL text of the
// program and its tools: every string literal of every non-test Go file of the module, the
// benchmarks and the chaos driver in internal/ included, must hold none as a quoted literal.
// statesql.go, the one place that writes them into SQL text (for partial-index predicates),
// builds its literals from the constants, so it holds none either; so does exportbench's psql
// \copy baseline, which cannot take bind parameters.
//
// Left out: _test.go files, whose SQL seeds rows and checks what was stored by spelling the
// stored text out, so that a constant whose value changes fails them rather than being
// followed silently; testdata directories (fixtures, never compiled); and hidden directories
// (.git, .ci: no Go code of the module).
func TestNoStateLiteralsInSQL(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the repository root is the parent of package campaign")
	var scanned []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch {
			case rel != "." && strings.HasPrefix(d.Name(), "."), d.Name() == "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		scanned = append(scanned, filepath.ToSlash(rel))
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			text, err := strconv.Unquote(lit.Value)
			require.NoError(t, err, "%s", fset.Position(lit.Pos()))
			if found := quotedStateValues(text); len(found) > 0 {
				t.Errorf("%s: quoted %v in a string: bind the typed constant as an argument instead (see campaign/statesql.go)",
					fset.Position(lit.Pos()), found)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, scanned, "campaign/dispatch.go")
	require.Contains(t, scanned, "cmd/campaign/calls.go")
	require.Contains(t, scanned, "internal/chaos/db.go")
	require.Contains(t, scanned, "internal/bench/exportbench/main.go")
}
