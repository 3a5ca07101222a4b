// Command campaign runs batch outbound phone-call campaigns on Vapi: a CSV of customers becomes
// calls placed by a Vapi assistant, paced to the account's limits and made only inside each
// person's calling hours, with every result recorded in Postgres.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// Ctrl-C, SIGTERM and SIGHUP (a closed terminal or SSH session) ask commands to wind down:
	// a run pauses its campaign, keeps receiving results for its grace and says how to resume.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		cancel(&signalError{sig: sig})
		// A second Ctrl-C or SIGTERM ends the process at once; a hang-up comes again when the
		// shell exits, and there is nobody left to ask for that, so it is ignored.
		signal.Ignore(syscall.SIGHUP)
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()
	a := &app{
		in:         os.Stdin,
		out:        os.Stdout,
		errOut:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		now:        time.Now,
	}
	if a.isTerminal {
		a.statusLine = newStatusLine(os.Stderr)
		a.errOut = a.statusLine
		a.termWidth = func() int {
			w, _, err := term.GetSize(int(os.Stderr.Fd()))
			if err != nil {
				return 0
			}
			return w
		}
	}
	os.Exit(execute(ctx, a, os.Args[1:]))
}

// execute runs the command line args and returns the process exit code. Errors are printed to
// a.errOut; only this function decides exit codes.
func execute(ctx context.Context, a *app, args []string) int {
	return executeRoot(ctx, a, newRootCmd(a), args)
}

// executeRoot runs args through root, the command tree of execute (tests swap commands in it),
// and returns the process exit code.
func executeRoot(ctx context.Context, a *app, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	printError(a.errOut, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// signalError is the cause of the root context's cancellation: the signal received.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return e.sig.String() + " received" }

// signalName names the signal that cancelled ctx ("interrupt" when it was not a signal).
func signalName(ctx context.Context) string {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		switch se.sig {
		case syscall.SIGHUP:
			return "SIGHUP"
		case syscall.SIGTERM:
			return "SIGTERM"
		}
	}
	return "interrupt"
}

func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "campaign: %v\n", err)
}

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageArgs marks the error of a cobra argument check, e.g. cobra.ExactArgs(1), as a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err: err}
		}
		return nil
	}
}

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}
