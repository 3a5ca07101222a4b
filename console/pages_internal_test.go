package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFiguresNote: the campaign page says when its report figures were read once they are
// staleFigures old or more, and nothing before (nor for figures without a time).
func TestFiguresNote(t *testing.T) {
	now := time.Date(2026, 12, 7, 21, 45, 0, 0, time.UTC)
	require.Empty(t, figuresNote(now.Add(-9*time.Second), now))
	require.Empty(t, figuresNote(time.Time{}, now))
	require.Empty(t, figuresNote(now.Add(time.Second), now), "a database clock a little ahead")
	require.Equal(t, "Report figures as of 21:40:00 UTC (5m0s ago): a large campaign's figures are read every few minutes.",
		figuresNote(now.Add(-5*time.Minute), now))
}
