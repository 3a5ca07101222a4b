package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// assistantTexts are the assistant's texts whose {{variables}} the CSV must supply, in order.
var assistantTexts = []string{"system prompt", "first message", "voicemail message", "end-call message"}

// preflightVariables fetches the campaign's assistant, finds the template variables its texts
// use, and reports which CSV column supplies each and how many rows leave it empty. A variable
// with neither a column nor a default stops the run unless allowMissing.
func preflightVariables(ctx context.Context, w io.Writer, client *vapi.Client, store *campaign.Store, c *campaign.Campaign, allowMissing bool) error {
	if c.AssistantID == "" {
		return nil
	}
	// One request's timeout bounds the whole read, retries included: an address that accepts
	// connections and never answers fails in that time, not after every retry's.
	readCtx, cancel := ctx, context.CancelFunc(func() {})
	if t := client.Timeout(); t > 0 {
		readCtx, cancel = context.WithTimeout(ctx, t)
	}
	defer cancel()
	var asst *vapi.Assistant
	err := vapi.RetryRead(readCtx, 4, 10*time.Second, func() (err error) {
		asst, err = client.GetAssistant(readCtx, c.AssistantID)
		return err
	})
	var netErr net.Error
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())) {
		return fmt.Errorf("pre-flight: Vapi at %s did not answer within %s (check --vapi-base-url or %s, and the network): %w",
			client.BaseURL(), client.Timeout(), envVapiBaseURL, err)
	}
	if err != nil {
		return fmt.Errorf("pre-flight: fetch assistant %s: %w", c.AssistantID, err)
	}
	vars := campaign.TemplateVariables(assistantTexts, map[string]string{
		"system prompt":     asst.SystemPrompt(),
		"first message":     asst.FirstMessage,
		"voicemail message": asst.VoicemailMessage,
		"end-call message":  asst.EndCallMessage,
	})
	if len(vars) == 0 {
		return nil
	}
	columns := make([]string, 0, len(c.VariableColumns))
	for _, i := range c.VariableColumns {
		columns = append(columns, c.Columns[i])
	}
	checks := campaign.CheckVariables(vars, columns)
	var supplied []int
	for _, ch := range checks {
		if ch.Column != "" {
			supplied = append(supplied, slices.Index(c.Columns, ch.Column))
		}
	}
	empty, err := store.EmptyCells(ctx, c.ID, supplied)
	if err != nil {
		return err
	}

	whereUsed := make(map[string]string, len(vars))
	for _, v := range vars {
		whereUsed[v.Name] = strings.Join(v.Where, ", ")
	}
	fmt.Fprintf(w, "Assistant %q uses %d variables:\n", asst.Name, len(checks))
	var missing []string
	for _, ch := range checks {
		where := whereUsed[ch.Variable]
		switch {
		case ch.Column != "":
			line := fmt.Sprintf("  %-20s column %q", ch.Variable, ch.Column)
			if n := empty[slices.Index(c.Columns, ch.Column)]; n > 0 {
				line += fmt.Sprintf(", empty in %d rows", n)
				if ch.HasDefault {
					line += " (the default applies)"
				}
			}
			fmt.Fprintln(w, line)
		case ch.HasDefault:
			fmt.Fprintf(w, "  %-20s no column: its default applies (%s)\n", ch.Variable, where)
		default:
			hint := ""
			if ch.NearMiss != "" {
				hint = fmt.Sprintf("; column %q differs only by case or spacing, and Vapi matches names exactly", ch.NearMiss)
			}
			fmt.Fprintf(w, "  %-20s MISSING: no column and no default (%s)%s\n", ch.Variable, where, hint)
			missing = append(missing, ch.Variable)
		}
	}
	if len(missing) > 0 && !allowMissing {
		return fmt.Errorf("the assistant uses variables the CSV does not supply: %s (add the columns, give them a default in the assistant, or pass --allow-missing-variables)",
			strings.Join(missing, ", "))
	}
	return nil
}
