//go:build tools

// Package campaign_tools pins the two dependencies that DESIGN.md fixes and that the next
// issues import: golang.org/x/time/rate (call pacing, issue 4) and gocsv (the fixed-column
// per-attempt export, issue 6). It is built only with the "tools" tag and is removed once both
// are imported by real code.
package campaign_tools

import (
	_ "github.com/gocarina/gocsv"
	_ "golang.org/x/time/rate"
)
