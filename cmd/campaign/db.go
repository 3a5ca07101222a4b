package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/internal/localpg"
)

func newDBCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "The database campaign uses",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupCommand,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "url",
			Short: "Print the URL of the database in use (starting the managed local Postgres if needed)",
			Long: "Print the URL of the database in use, e.g. for `psql \"$(campaign db url)\"`.\n" +
				"With no --database-url / DATABASE_URL this is the managed local Postgres, started if it is not running.",
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if a.global.DatabaseURL != "" {
					fmt.Fprintln(a.out, a.global.DatabaseURL)
					return nil
				}
				srv, err := localpg.Ensure(cmd.Context(), a.localOptions())
				if err != nil {
					return fmt.Errorf("local database: %w", err)
				}
				fmt.Fprintln(a.out, srv.URL)
				return nil
			},
		},
		&cobra.Command{
			Use:   "stop",
			Short: "Stop the managed local Postgres (it keeps running between commands otherwise)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := localpg.Stop(cmd.Context(), a.localOptions()); err != nil {
					return fmt.Errorf("stop local database: %w", err)
				}
				fmt.Fprintln(a.errOut, "local database stopped")
				return nil
			},
		},
	)
	return cmd
}
