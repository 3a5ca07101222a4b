package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/campaign-run/campaign/internal/localpg"
	"github.com/campaign-run/campaign/migrations"
)

// app holds what every command shares: the IO streams, the environment and the logger. Tests
// build one with buffers and a map-backed getenv.
type app struct {
	in         io.Reader
	out        io.Writer // command output only (e.g. `export > results.csv`)
	errOut     io.Writer // logs, progress and errors
	getenv     func(string) string
	isTerminal bool // errOut is a terminal: progress bars instead of log lines
	// statusLine is errOut when it is a terminal, which keeps a run's progress bar at its
	// bottom (nil otherwise); termWidth measures that terminal, in cells (0: unknown).
	statusLine *statusLine
	termWidth  func() int
	// logRepeats holds back repeated log records on a terminal (nil otherwise); the progress
	// view writes their counts when it ends.
	logRepeats *repeatHandler
	now        func() time.Time
	// vapiTimeout bounds each Vapi request of run, resume and their pre-flight; zero means
	// vapi.DefaultTimeout.
	vapiTimeout time.Duration

	logger *slog.Logger
	global globalOptions
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	DatabaseURL string
	DataDir     string
	LogLevel    string
}

// Environment variables read by every command (flag > env > default).
const (
	envDatabaseURL = "DATABASE_URL"
	envDataDir     = "CAMPAIGN_DATA_DIR"
	envLogLevel    = "CAMPAIGN_LOG_LEVEL"
)

// globalEnv maps the flags every command takes to their environment variables.
var globalEnv = map[string]string{
	"database-url": envDatabaseURL,
	"data-dir":     envDataDir,
	"log-level":    envLogLevel,
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "campaign",
		Short:         "Run batch outbound phone-call campaigns on Vapi",
		Long:          "campaign turns a CSV of customers into outbound calls placed by a Vapi assistant,\npaced to the account's limits, inside each person's calling hours, with every result kept.",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupCommand,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), a.getenv, globalEnv); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(a.global.LogLevel)); err != nil {
				return usageErrorf("--log-level %q: want debug, info, warn or error", a.global.LogLevel)
			}
			var handler slog.Handler = slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: level})
			if a.statusLine != nil {
				a.logRepeats = newRepeatHandler(handler)
				handler = a.logRepeats
			}
			a.logger = slog.New(handler)
			return nil
		},
	}
	root.SetVersionTemplate(versionTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.global.DatabaseURL, "database-url", "", "Postgres URL (env "+envDatabaseURL+"); unset: a local Postgres managed by campaign")
	pf.StringVar(&a.global.DataDir, "data-dir", "", "data directory of the managed local Postgres (env "+envDataDir+")")
	pf.StringVar(&a.global.LogLevel, "log-level", "info", "log level: debug, info, warn, error (env "+envLogLevel+")")

	// Each command runs its own run function (runF nil); tests pass a runF to see the options
	// parsed without running anything.
	root.AddCommand(newRunCmd(a, nil), newTestCallCmd(a, nil), newMigrateCmd(a), newDBCmd(a), newSimulatorCmd(a, nil), newListCmd(a, nil),
		newStatusCmd(a, nil), newPauseCmd(a, nil), newCancelCmd(a, nil), newSetCmd(a, nil), newResumeCmd(a, nil),
		newSuppressCmd(a), newExportCmd(a, nil), newServeCmd(a, nil), newReportCmd(a, nil),
		newWaitCmd(a, nil), newDeleteCmd(a, nil), newHealthcheckCmd(a, nil), newVersionCmd(a))
	// Every command whose argument is a campaign completes the stored campaigns' names.
	for _, cmd := range root.Commands() {
		if strings.HasSuffix(cmd.Use, " CAMPAIGN") || strings.HasSuffix(cmd.Use, " CAMPAIGN...") {
			cmd.ValidArgsFunction = a.completeCampaign
		}
	}
	return root
}

// groupCommand runs a command that groups others (the root, db) when no subcommand matched: with
// no argument it shows the help; an argument is an unknown command, a usage error like any other.
func groupCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	cmd.SuggestionsMinimumDistance = 2
	hint := fmt.Sprintf("run '%s --help' for the commands", cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf("did you mean %q? (%s)", s[0], hint)
	}
	if cmd.HasParent() {
		return usageErrorf("unknown command %q for %q: %s", args[0], cmd.CommandPath(), hint)
	}
	return usageErrorf("unknown command %q: %s", args[0], hint)
}

// applyEnv fills each flag that was not given on the command line from its environment
// variable, if set: flag > env > default. A flag name of envByFlag that flags does not define
// is an error: the map and the command disagree.
func applyEnv(flags *pflag.FlagSet, getenv func(string) string, envByFlag map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(envByFlag)) {
		env := envByFlag[name]
		f := flags.Lookup(name)
		if f == nil {
			return fmt.Errorf("environment variable %s: the command has no flag --%s", env, name)
		}
		if f.Changed {
			continue
		}
		if v := getenv(env); v != "" {
			_ = f.Value.Set(v) // an invalid value is reported when the option is validated
		}
	}
	return nil
}

// dbMode says whether a command may change the schema.
type dbMode int

const (
	dbWrite    dbMode = iota // migrates on start
	dbReadOnly               // fails when the schema is behind
)

// localOptions configures the managed local Postgres.
func (a *app) localOptions() localpg.Options {
	return localpg.Options{DataDir: a.global.DataDir, Logger: a.logger}
}

// openDB connects to the database chosen by --database-url / DATABASE_URL, or else to the
// managed local Postgres, and migrates (dbWrite) or checks (dbReadOnly) the schema.
func (a *app) openDB(ctx context.Context, mode dbMode) (*pgxpool.Pool, error) {
	dbURL := a.global.DatabaseURL
	if dbURL == "" {
		srv, err := localpg.Ensure(ctx, a.localOptions())
		if err != nil {
			return nil, fmt.Errorf("local database: %w", err)
		}
		dbURL = srv.URL
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgconn's message may quote the URL, password included: say what is wrong without it.
		return nil, usageErrorf("the database URL (--database-url or %s) is not a valid Postgres URL, e.g. postgres://user:password@host:5432/dbname", envDatabaseURL)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	switch mode {
	case dbWrite:
		if _, err := migrations.Up(ctx, pool, a.logger); err != nil {
			pool.Close()
			return nil, err
		}
	case dbReadOnly:
		if err := migrations.Check(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}
