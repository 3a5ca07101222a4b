package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// DefaultBin is where `make build` writes the campaign binary: the default of every program's
// -bin.
const DefaultBin = "bin/campaign"

// Main is a program's main function: it calls run with a context that an interrupt or SIGTERM
// cancels (the program then drops its scratch database and returns), and when run fails, prints
// the error prefixed with the program's name and exits with status 1.
func (p Program) Main(run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
		os.Exit(1)
	}
}

// CommonFlags are the flags every program has. A program embeds them in its options and
// defines them with Define before Parse.
type CommonFlags struct {
	// Bin is -bin: the campaign binary, a path or a name looked up in PATH.
	Bin string
	// Dir is -dir: the work directory; empty for .bench/ in the repository root (see WorkDir).
	Dir string
}

// Define defines -bin and -dir on the command line: binUse says what the program does with
// the campaign binary, dirUse what it keeps in the work directory.
func (f *CommonFlags) Define(binUse, dirUse string) {
	flag.StringVar(&f.Bin, "bin", DefaultBin, binUse+" (build it with make build)")
	flag.StringVar(&f.Dir, "dir", "", dirUse+" (default: .bench/ in the repository root)")
}

// Parse parses the command line. Every option is a flag, so an argument is an error.
func Parse() error {
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (all options are flags; see -h)", flag.Args())
	}
	return nil
}

// Tool is a program a benchmark runs, found before anything is timed.
type Tool int

// The tools a benchmark may run.
const (
	// ToolCampaign is the campaign binary of -bin.
	ToolCampaign Tool = iota
	// ToolPsql is psql, the PostgreSQL client, found in PATH.
	ToolPsql
)

// Workspace is what a program works with once its command line is parsed.
type Workspace struct {
	// Dir is the work directory (see WorkDir).
	Dir string
	// Bin is the path of the campaign binary; empty unless ToolCampaign was asked for.
	Bin string
	// Psql is the path of psql; empty unless ToolPsql was asked for.
	Psql string
}

// Workspace finds the tools the program runs, so that a missing one fails the program before
// it spends minutes on anything, and creates the work directory.
func (f *CommonFlags) Workspace(tools ...Tool) (*Workspace, error) {
	ws := &Workspace{}
	for _, t := range tools {
		var err error
		switch t {
		case ToolCampaign:
			ws.Bin, err = exec.LookPath(f.Bin)
			if err != nil {
				return nil, fmt.Errorf("campaign binary %s: %w (build it with `make build`, or pass -bin)", f.Bin, err)
			}
		case ToolPsql:
			ws.Psql, err = exec.LookPath("psql")
			if err != nil {
				return nil, errors.New("psql not found in PATH: install the PostgreSQL client (e.g. `apt-get install postgresql-client`)")
			}
		}
	}
	dir, err := WorkDir(f.Dir)
	if err != nil {
		return nil, err
	}
	ws.Dir = dir
	return ws, nil
}
