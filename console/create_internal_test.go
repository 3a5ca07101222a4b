package console

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDryRunsBounded: the console keeps the last maxDryRuns drafts' dry runs, forgetting the
// oldest first; a draft put again keeps its place; a draft forgotten leaves room.
func TestDryRunsBounded(t *testing.T) {
	t.Parallel()
	var d dryRuns
	for id := int64(1); id <= maxDryRuns; id++ {
		d.put(id, &DryRun{Window: "first"})
	}
	d.put(1, &DryRun{Window: "again"})
	require.Equal(t, "again", d.get(1).Window)
	d.put(maxDryRuns+1, &DryRun{})
	require.Nil(t, d.get(1), "the oldest put first is forgotten")
	require.NotNil(t, d.get(2))
	d.forget(2)
	require.Nil(t, d.get(2))
	d.put(maxDryRuns+2, &DryRun{})
	require.NotNil(t, d.get(3), "the room a forgotten draft left is taken before the oldest goes")
	require.NotNil(t, d.get(maxDryRuns+2))
}
