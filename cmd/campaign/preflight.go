package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// assistantTexts are the assistant's texts whose {{variables}} the CSV must supply, in order.
var assistantTexts = []string{"system prompt", "first message", "voicemail message", "end-call message"}

// preflight is what a run checks with Vapi before it dials: where the calls' server messages go
// (preflightWebhooks) and the template variables of the assistants that may speak
// (preflightVariables). It returns the campaign with the webhook routing it stored.
func preflight(ctx context.Context, w io.Writer, client *vapi.Client, store *campaign.Store, c *campaign.Campaign, allowMissing bool, now time.Time) (*campaign.Campaign, error) {
	assts, err := fetchAssistants(ctx, client, c)
	if err != nil {
		return nil, err
	}
	if c, err = preflightWebhooks(ctx, w, client, store, c, assts, now); err != nil {
		return nil, err
	}
	if err := preflightNumbers(ctx, w, client, store, c, now); err != nil {
		return nil, err
	}
	return c, preflightVariables(ctx, w, store, c, assts, allowMissing)
}

// preflightNumbers reads every number of a pool (more than one number, or local presence) with
// GET /phone-number/{id}, which also checks that each exists, and stores their E.164 numbers
// for local presence and the exports. A number without one (SIP) is chosen as "any" number.
func preflightNumbers(ctx context.Context, w io.Writer, client *vapi.Client, store *campaign.Store, c *campaign.Campaign, now time.Time) error {
	pool := c.CallerNumbers()
	if len(pool) < 2 && c.NumberStrategy != campaign.StrategyLocalPresence {
		return nil
	}
	numbers := make(map[string]string, len(pool))
	var unknown []string
	for _, id := range pool {
		pn, err := readVapi(ctx, client, "phone number "+id, func(ctx context.Context) (*vapi.PhoneNumber, error) {
			return client.GetPhoneNumber(ctx, id)
		})
		if err != nil {
			return err
		}
		numbers[id] = pn.Number
		if pn.Number == "" {
			unknown = append(unknown, id)
		}
	}
	if err := store.NoteCallerNumbers(ctx, numbers, now); err != nil {
		return err
	}
	fmt.Fprintf(w, "Calling from %d numbers (%s).\n", len(pool), cmp.Or(c.NumberStrategy, campaign.StrategyRoundRobin))
	if len(unknown) > 0 && c.NumberStrategy == campaign.StrategyLocalPresence {
		fmt.Fprintf(w, "Local presence: no E.164 number (e.g. SIP) for %s: used only when no local number is free.\n",
			strings.Join(unknown, ", "))
	}
	return nil
}

// fetchAssistants returns the assistants that may speak on the campaign's calls, the one that
// starts them first: the saved assistant (GET /assistant/{id}); the transient one, from the
// campaign; a squad's members (GET /squad/{id}, then each saved member's GET /assistant/{id}).
// None for a workflow (Vapi's OpenAPI document has no read of a workflow) or no target.
func fetchAssistants(ctx context.Context, client *vapi.Client, c *campaign.Campaign) ([]*vapi.Assistant, error) {
	kind, id := c.Target()
	switch kind {
	case campaign.TargetAssistant:
		asst, err := readVapi(ctx, client, "assistant "+id, func(ctx context.Context) (*vapi.Assistant, error) {
			return client.GetAssistant(ctx, id)
		})
		if err != nil {
			return nil, err
		}
		return []*vapi.Assistant{asst}, nil
	case campaign.TargetInlineAssistant:
		var asst vapi.Assistant
		if err := json.Unmarshal(c.Assistant, &asst); err != nil {
			return nil, fmt.Errorf("pre-flight: the campaign's transient assistant: %w", err)
		}
		asst.Name = cmp.Or(asst.Name, "(inline)")
		return []*vapi.Assistant{&asst}, nil
	case campaign.TargetSquad:
		sq, err := readVapi(ctx, client, "squad "+id, func(ctx context.Context) (*vapi.Squad, error) {
			return client.GetSquad(ctx, id)
		})
		if err != nil {
			return nil, err
		}
		var out []*vapi.Assistant
		for i, m := range sq.Members {
			asst := m.Assistant
			if asst == nil && m.AssistantID != "" {
				if asst, err = readVapi(ctx, client, fmt.Sprintf("squad %s member %d: assistant %s", id, i+1, m.AssistantID),
					func(ctx context.Context) (*vapi.Assistant, error) { return client.GetAssistant(ctx, m.AssistantID) }); err != nil {
					return nil, err
				}
			}
			if asst != nil {
				asst.Name = cmp.Or(asst.Name, fmt.Sprintf("squad %s member %d", cmp.Or(sq.Name, id), i+1))
				out = append(out, asst)
			}
		}
		return out, nil
	}
	return nil, nil
}

// readVapi reads one object from Vapi for the pre-flight (what names it in errors), retrying
// as reads may. One request's timeout bounds the whole read, retries included: an address that
// accepts connections and never answers fails in that time, not after every retry's.
func readVapi[T any](ctx context.Context, client *vapi.Client, what string, read func(context.Context) (T, error)) (T, error) {
	readCtx, cancel := ctx, context.CancelFunc(func() {})
	if t := client.Timeout(); t > 0 {
		readCtx, cancel = context.WithTimeout(ctx, t)
	}
	defer cancel()
	var got T
	err := vapi.RetryRead(readCtx, 4, 10*time.Second, func() (err error) {
		got, err = read(readCtx)
		return err
	})
	var netErr net.Error
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())) {
		return got, fmt.Errorf("pre-flight: Vapi at %s did not answer within %s (check --vapi-base-url or %s, and the network): %w",
			client.BaseURL(), client.Timeout(), envVapiBaseURL, err)
	}
	if err != nil {
		return got, fmt.Errorf("pre-flight: fetch %s: %w", what, err)
	}
	return got, nil
}

// preflightWebhooks decides the campaign's webhook routing (webhookRouting) and stores the
// decision with the starting assistant's own serverMessages.
func preflightWebhooks(ctx context.Context, w io.Writer, client *vapi.Client, store *campaign.Store, c *campaign.Campaign,
	assts []*vapi.Assistant, now time.Time) (*campaign.Campaign, error) {
	keepServer, messages, err := webhookRouting(ctx, w, client, c, assts)
	if err != nil {
		return nil, err
	}
	if err := store.SetWebhookRouting(ctx, c.ID, keepServer, messages, now); err != nil {
		return nil, err
	}
	return store.Campaign(ctx, c.ID)
}

// webhookRouting decides, by the campaign's --webhooks mode, whether its calls keep the user's
// server instead of carrying the runner's (see campaign.RouteWebhooks), returns that with the
// serverMessages of the assistant that starts the calls (assts[0]), and says in one line when
// the user's server URL is kept or replaced. The phone number is read only when no assistant
// has a server URL of its own. A workflow's calls always keep theirs: Vapi's workflowOverrides
// takes variables only, so no server of the runner's can go with them.
func webhookRouting(ctx context.Context, w io.Writer, client *vapi.Client, c *campaign.Campaign,
	assts []*vapi.Assistant) (keepServer bool, messages []string, err error) {
	mode := cmp.Or(c.Webhooks, campaign.WebhooksAuto)
	if kind, _ := c.Target(); kind == campaign.TargetWorkflow {
		if c.PublicURL != "" {
			fmt.Fprintln(w, "A workflow's calls carry no server of their own (Vapi's workflowOverrides takes variables only): results are read by polling Vapi (GET /call).")
		}
		return true, nil, nil
	}
	var own campaign.ServerURLs
	var ownerName string // whose server URL it is, for the message
	for i, asst := range assts {
		if own.Assistant == "" && asst.Server != nil && asst.Server.URL != "" {
			own.Assistant, ownerName = asst.Server.URL, fmt.Sprintf("Assistant %q", asst.Name)
		}
		if i == 0 { // the serverMessages of the assistant that starts the call
			for _, m := range asst.ServerMessages {
				messages = append(messages, string(m))
			}
		}
	}
	var overrides vapi.AssistantOverrides
	if len(c.Overrides) > 0 {
		if err := json.Unmarshal(c.Overrides, &overrides); err != nil {
			return false, nil, fmt.Errorf("campaign overrides: %w", err)
		}
	}
	if overrides.Server != nil && overrides.Server.URL != "" {
		own.Assistant, ownerName = overrides.Server.URL, "The --overrides file"
	}
	if c.PublicURL != "" && mode != campaign.WebhooksPoll && own.Assistant == "" {
		// Every number of a pool: one with a server URL of its own decides for all the calls.
		for _, id := range c.CallerNumbers() {
			pn, err := readVapi(ctx, client, "phone number "+id, func(ctx context.Context) (*vapi.PhoneNumber, error) {
				return client.GetPhoneNumber(ctx, id)
			})
			if err != nil {
				return false, nil, err
			}
			if pn.Server != nil && pn.Server.URL != "" {
				own.PhoneNumber, ownerName = pn.Server.URL, fmt.Sprintf("Phone number %s", cmp.Or(pn.Name, pn.ID))
				break
			}
		}
	}
	route := campaign.RouteWebhooks(mode, c.PublicURL, own)
	switch {
	case c.PublicURL == "":
	case mode == campaign.WebhooksPoll:
		fmt.Fprintln(w, "--webhooks poll: the calls' server URL is left alone; results are read by polling Vapi (GET /call).")
	case !route:
		fmt.Fprintf(w, "%s has its own server URL (%s): it is left in place, so results are read by polling Vapi (GET /call); --webhooks override sends them to --public-url instead.\n",
			ownerName, urlHost(cmp.Or(own.Assistant, own.PhoneNumber)))
	case ownerName != "":
		fmt.Fprintf(w, "--webhooks override: the calls send their server messages to --public-url instead of the server URL of %s (%s).\n",
			strings.ToLower(ownerName[:1])+ownerName[1:], urlHost(cmp.Or(own.Assistant, own.PhoneNumber)))
	}
	return !route, messages, nil
}

// urlHost is a URL's scheme and host, for messages: a URL's path or query may hold a token.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "a URL"
	}
	return u.Scheme + "://" + u.Host
}

// preflightVariables finds the template variables the texts of each assistant (a squad's
// members each) use, and reports which CSV column supplies each and how many rows leave it
// empty. A variable with neither a column nor a default stops the run unless allowMissing.
func preflightVariables(ctx context.Context, w io.Writer, store *campaign.Store, c *campaign.Campaign, assts []*vapi.Assistant, allowMissing bool) error {
	var missing []string
	for _, asst := range assts {
		m, err := assistantVariables(ctx, w, store, c, asst)
		if err != nil {
			return err
		}
		for _, v := range m {
			if !slices.Contains(missing, v) {
				missing = append(missing, v)
			}
		}
	}
	if len(missing) > 0 && !allowMissing {
		return fmt.Errorf("the assistant uses variables the CSV does not supply: %s (add the columns, give them a default in the assistant, or pass --allow-missing-variables)",
			strings.Join(missing, ", "))
	}
	return nil
}

// assistantVariables reports the template variables of one assistant's texts, which CSV column
// supplies each and how many rows leave it empty, and returns those with neither a column nor a
// default.
func assistantVariables(ctx context.Context, w io.Writer, store *campaign.Store, c *campaign.Campaign, asst *vapi.Assistant) ([]string, error) {
	vars, checks := variableChecks(c, asst)
	if len(vars) == 0 {
		return nil, nil
	}
	var supplied []int
	for _, ch := range checks {
		if ch.Column != "" {
			supplied = append(supplied, slices.Index(c.Columns, ch.Column))
		}
	}
	empty, err := store.EmptyCells(ctx, c.ID, supplied)
	if err != nil {
		return nil, err
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
	return missing, nil
}

// variableChecks returns the template variables of the assistant's texts, and for each which of
// the campaign's variable columns supplies it (campaign.CheckVariables).
func variableChecks(c *campaign.Campaign, asst *vapi.Assistant) ([]campaign.TemplateVariable, []campaign.VariableCheck) {
	vars := campaign.TemplateVariables(assistantTexts, map[string]string{
		"system prompt":     asst.SystemPrompt(),
		"first message":     asst.FirstMessage,
		"voicemail message": asst.VoicemailMessage,
		"end-call message":  asst.EndCallMessage,
	})
	columns := make([]string, 0, len(c.VariableColumns))
	for _, i := range c.VariableColumns {
		columns = append(columns, c.Columns[i])
	}
	return vars, campaign.CheckVariables(vars, columns)
}
