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
// Go toolchain stamped into the binary (e.g. from `go install …@v1.2.3` or a VCS tag), else
// "(devel)" with the VCS revision when the build has one.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	return infoVersion(bi)
}

// infoVersion is the version a build's info tells.
func infoVersion(bi *debug.BuildInfo) string {
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	return "(devel) " + rev + dirty
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
