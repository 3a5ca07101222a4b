package jobs_test

import (
	"os"
	"testing"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestMain stops the managed local Postgres the tests may have started (see testdb.Main).
func TestMain(m *testing.M) {
	os.Exit(testdb.Main(m))
}
