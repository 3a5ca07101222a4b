// Command gensubset writes the subset of Vapi's OpenAPI document that the
// project's conformance tests validate against (see vapispec.Subset): the
// schemas and query parameters the project uses, facts only, with the
// document's source, digest and the day recorded. `make vapi-spec` runs it:
//
//	go run ./internal/vapispec/gensubset -in ../shared/vapi/openapi.json -out internal/vapispec/openapi-subset.json
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/campaign-run/campaign/internal/vapispec"
)

func main() {
	in := flag.String("in", filepath.Join("..", "shared", "vapi", "openapi.json"), "Vapi's full OpenAPI document (openapi.json)")
	out := flag.String("out", vapispec.SubsetFile, "where to write the subset")
	source := flag.String("source", "", "how the subset names the full document, e.g. where it was downloaded from (default: the -in path)")
	flag.Parse()
	if *source == "" {
		*source = *in
	}
	if err := run(*in, *source, *out, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "gensubset:", err)
		os.Exit(1)
	}
}

// run reads the full document at in and writes its subset, naming the
// document source, to out.
func run(in, source, out string, now time.Time) error {
	full, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read the full document (-in): %w", err)
	}
	sub, err := vapispec.Subset(full, source, now)
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, sub, 0o644); err != nil {
		return fmt.Errorf("write subset: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write subset: %w", err)
	}
	fmt.Printf("wrote %s (%d bytes) from %s\n", out, len(sub), in)
	return nil
}
