package main

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/localpg"
)

// completionTimeout bounds the database lookup behind a completion: a shell waits for it.
const completionTimeout = 2 * time.Second

// completeCampaign offers the stored campaigns' names for a command's CAMPAIGN argument. It
// reads the database in use without changing anything, and never starts the managed local
// Postgres: when the database cannot be read it offers nothing, quietly.
func (a *app) completeCampaign(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	const directive = cobra.ShellCompDirectiveNoFileComp
	if len(args) > 0 && !strings.HasSuffix(cmd.Use, "...") {
		return nil, directive // one campaign per command, but for delete
	}
	_ = applyEnv(cmd.Flags(), a.getenv, globalEnv) // quiet here: the command itself reports a bad flag name
	ctx, cancel := context.WithTimeout(cmp.Or(cmd.Context(), context.Background()), completionTimeout)
	defer cancel()
	dbURL := a.global.DatabaseURL
	if dbURL == "" {
		running, url, err := localpg.Status(ctx, localpg.Options{DataDir: a.global.DataDir})
		if err != nil || !running {
			return nil, directive
		}
		dbURL = url
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, directive
	}
	defer pool.Close()
	names, err := campaign.NewStore(pool).CampaignNames(ctx, toComplete)
	if err != nil {
		return nil, directive
	}
	return names, directive
}

// completeValues offers the fixed values of a flag such as --format.
func completeValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// completeExportFilter offers the keys of export's --filter, then the values of the key typed.
func completeExportFilter(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	key, _, ok := strings.Cut(toComplete, "=")
	if !ok {
		return []string{"state=", "outcome="}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
	var values []string
	switch key {
	case "state":
		for _, s := range campaign.ContactStates() {
			values = append(values, "state="+string(s))
		}
	case "outcome":
		for _, o := range append(campaign.ContactOutcomes(), noOutcome) {
			values = append(values, "outcome="+o)
		}
	}
	return values, cobra.ShellCompDirectiveNoFileComp
}
