package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3"; empty means: from the build info. It is the one
// package-level variable, because -X can set nothing else.
var version string

// buildVersion is the version campaign reports: the -ldflags one, else the module version the
// Go toolchain stamped into the binary (e.g. from `go install …@v1.2.3` or the VCS), else
// "(devel)".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// versionTemplate is what `campaign --version` and `campaign version` print.
const versionTemplate = "campaign version {{.Version}}\n"

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print campaign's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.out, "campaign version %s\n", buildVersion())
			return err
		},
	}
}
