//go:build tools

// Package campaign_tools pins gocsv, which DESIGN.md fixes and the fixed-column per-attempt
// export (issue 6) will import. It is built only with the "tools" tag and is removed then.
package campaign_tools

import (
	_ "github.com/gocarina/gocsv"
)
