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
// (preflightVariables), for each of its targets (fetchTargets). It returns the campaign with the
// webhook routing it stored.
func preflight(ctx context.Context, w io.Writer, client *vapi.Client, store *campaign.Store, c *campaign.Campaign, allowMissing bool, now time.Time) (*campaign.Campaign, error) {
	targets, err := fetchTargets(ctx, client, store, c)
	if err != nil {
		return nil, err
	}
	numbers, err := newNumberReads(ctx, client, store, c)
	if err != nil {
		return nil, err
	}
	if c, err = preflightWebhooks(ctx, w, numbers, store, c, targets, now); err != nil {
		return nil, err
	}
	if err := preflightNumbers(ctx, w, numbers, store, c, now); err != nil {
		return nil, err
	}
	return c, preflightVariables(ctx, w, store, c, targets, allowMissing)
}

// numberReads reads the Vapi phone numbers a campaign's calls may come from, each at most once
// per pre-flight: its pool's and the distinct ones its contacts name in its caller number column
// (at most campaign.MaxRowPhoneNumbers).
type numberReads struct {
	client *vapi.Client
	// pool are the campaign's own numbers, rows the other numbers its rows name, in file order.
	pool, rows []string
	read       map[string]*vapi.PhoneNumber
}

// newNumberReads lists the numbers of campaign c's calls; none is read yet.
func newNumberReads(ctx context.Context, client *vapi.Client, store *campaign.Store, c *campaign.Campaign) (*numberReads, error) {
	rows, err := store.RowPhoneNumbers(ctx, c, campaign.MaxRowPhoneNumbers)
	if err != nil {
		return nil, err
	}
	pool := c.CallerNumbers()
	rows = slices.DeleteFunc(rows, func(id string) bool { return slices.Contains(pool, id) })
	return &numberReads{client: client, pool: pool, rows: rows, read: map[string]*vapi.PhoneNumber{}}, nil
}

// all is every number the campaign's calls may come from: the pool's, then the rows'.
func (n *numberReads) all() []string { return slices.Concat(n.pool, n.rows) }

// get reads a number with GET /phone-number/{id}, once.
func (n *numberReads) get(ctx context.Context, id string) (*vapi.PhoneNumber, error) {
	if pn, ok := n.read[id]; ok {
		return pn, nil
	}
	pn, err := readVapi(ctx, n.client, "phone number "+id, func(ctx context.Context) (*vapi.PhoneNumber, error) {
		return n.client.GetPhoneNumber(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	n.read[id] = pn
	return pn, nil
}

// preflightNumbers reads every number of a pool (more than one number, or local presence) and
// every number the rows name with GET /phone-number/{id}, which also checks that each exists,
// and stores their E.164 numbers for local presence and the exports. A number without one (SIP)
// is chosen as "any" number.
func preflightNumbers(ctx context.Context, w io.Writer, reads *numberReads, store *campaign.Store, c *campaign.Campaign, now time.Time) error {
	ids := reads.rows
	pooled := len(reads.pool) >= 2 || c.NumberStrategy == campaign.StrategyLocalPresence
	if pooled {
		ids = reads.all()
	}
	if len(ids) == 0 {
		return nil
	}
	numbers := make(map[string]string, len(ids))
	var unknown []string
	for _, id := range ids {
		pn, err := reads.get(ctx, id)
		if err != nil {
			return err
		}
		numbers[id] = pn.Number
		if pn.Number == "" && slices.Contains(reads.pool, id) {
			unknown = append(unknown, id)
		}
	}
	if err := store.NoteCallerNumbers(ctx, numbers, now); err != nil {
		return err
	}
	if pooled {
		fmt.Fprintf(w, "Calling from %d numbers (%s).\n", len(reads.pool), cmp.Or(c.NumberStrategy, campaign.StrategyRoundRobin))
	}
	if len(reads.rows) > 0 && c.PhoneNumberColumn != nil {
		fmt.Fprintf(w, "Rows fixed to their own number: %d distinct numbers from column %q.\n",
			len(reads.rows), columnName(c, *c.PhoneNumberColumn))
	}
	if len(unknown) > 0 && c.NumberStrategy == campaign.StrategyLocalPresence {
		fmt.Fprintf(w, "Local presence: no E.164 number (e.g. SIP) for %s: used only when no local number is free.\n",
			strings.Join(unknown, ", "))
	}
	return nil
}

// targetAssistants are the assistants that may speak on the calls of one target (see
// fetchAssistants), the one that starts them first.
type targetAssistants struct {
	// label names the target for people ("squad <id>"); "" for a campaign without one.
	label string
	assts []*vapi.Assistant
}

// fetchTargets reads every target that places the campaign's calls, once each: the campaign's
// own, then each distinct one its contacts name in its target column (at most
// campaign.MaxRowTargets). A saved assistant that several targets share is read once too.
func fetchTargets(ctx context.Context, client *vapi.Client, store *campaign.Store, c *campaign.Campaign) ([]targetAssistants, error) {
	rows, err := store.RowTargets(ctx, c, campaign.MaxRowTargets)
	if err != nil {
		return nil, err
	}
	read := map[string]*vapi.Assistant{}
	var out []targetAssistants
	if c.HasTarget() || len(rows) == 0 {
		assts, err := fetchAssistants(ctx, client, &c.Settings, read)
		if err != nil {
			return nil, err
		}
		out = append(out, targetAssistants{label: c.TargetLabel(), assts: assts})
	}
	for _, t := range rows {
		if kind, id := c.Target(); kind == t.Kind && id == t.ID {
			continue // the campaign's own, read already
		}
		s := campaign.Settings{AssistantID: t.ID}
		if t.Kind == campaign.TargetSquad {
			s = campaign.Settings{SquadID: t.ID}
		}
		assts, err := fetchAssistants(ctx, client, &s, read)
		if err != nil {
			return nil, err
		}
		out = append(out, targetAssistants{label: t.Label(), assts: assts})
	}
	return out, nil
}

// fetchAssistants returns the assistants that may speak on the calls of a target, the one that
// starts them first: the saved assistant (GET /assistant/{id}); the transient one, from the
// settings; a squad's members (GET /squad/{id}, then each saved member's GET /assistant/{id}).
// None for a workflow (Vapi's OpenAPI document has no read of a workflow) or no target. Saved
// assistants already in read are not read again; those read are added to it.
func fetchAssistants(ctx context.Context, client *vapi.Client, s *campaign.Settings, read map[string]*vapi.Assistant) ([]*vapi.Assistant, error) {
	getAssistant := func(what, id string) (*vapi.Assistant, error) {
		if asst, ok := read[id]; ok {
			return asst, nil
		}
		asst, err := readVapi(ctx, client, what, func(ctx context.Context) (*vapi.Assistant, error) {
			return client.GetAssistant(ctx, id)
		})
		if err == nil {
			read[id] = asst
		}
		return asst, err
	}
	kind, id := s.Target()
	switch kind {
	case campaign.TargetAssistant:
		asst, err := getAssistant("assistant "+id, id)
		if err != nil {
			return nil, err
		}
		return []*vapi.Assistant{asst}, nil
	case campaign.TargetInlineAssistant:
		var asst vapi.Assistant
		if err := json.Unmarshal(s.Assistant, &asst); err != nil {
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
				if asst, err = getAssistant(fmt.Sprintf("squad %s member %d: assistant %s", id, i+1, m.AssistantID), m.AssistantID); err != nil {
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
// decision with the starting assistants' own serverMessages.
func preflightWebhooks(ctx context.Context, w io.Writer, numbers *numberReads, store *campaign.Store, c *campaign.Campaign,
	targets []targetAssistants, now time.Time) (*campaign.Campaign, error) {
	keepServer, messages, err := webhookRouting(ctx, w, numbers, c, targets)
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
// serverMessages of the assistants that start the calls (each target's first, united), and says
// in one line when the user's server URL is kept or replaced. The decision is one for all the
// campaign's targets: when any assistant of any target has a server URL of its own, every call
// keeps its server (auto) or every call carries the runner's (override). The phone number is
// read only when no assistant has a server URL of its own: every number the calls may come from,
// the pool's and the rows'. A workflow's calls always keep
// theirs: Vapi's workflowOverrides takes variables only, so no server of the runner's can go
// with them.
func webhookRouting(ctx context.Context, w io.Writer, numbers *numberReads, c *campaign.Campaign,
	targets []targetAssistants) (keepServer bool, messages []string, err error) {
	mode := cmp.Or(c.Webhooks, campaign.WebhooksAuto)
	if kind, _ := c.Target(); kind == campaign.TargetWorkflow {
		if c.PublicURL != "" {
			fmt.Fprintln(w, "A workflow's calls carry no server of their own (Vapi's workflowOverrides takes variables only): results are read by polling Vapi (GET /call).")
		}
		return true, nil, nil
	}
	var own campaign.ServerURLs
	var ownerName string // whose server URL it is, for the message
	for _, t := range targets {
		for i, asst := range t.assts {
			if own.Assistant == "" && asst.Server != nil && asst.Server.URL != "" {
				own.Assistant, ownerName = asst.Server.URL, fmt.Sprintf("Assistant %q", asst.Name)
				if len(targets) > 1 {
					ownerName += fmt.Sprintf(" (of %s, one of the campaign's %d targets)", t.label, len(targets))
				}
			}
			if i == 0 { // the serverMessages of the assistant that starts the target's calls
				for _, m := range asst.ServerMessages {
					if !slices.Contains(messages, string(m)) {
						messages = append(messages, string(m))
					}
				}
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
		// Every number of a pool and of the rows: one with a server URL of its own decides for
		// all the calls.
		for _, id := range numbers.all() {
			pn, err := numbers.get(ctx, id)
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
		every := ""
		if len(targets) > 1 {
			every = " for the calls of every target"
		}
		fmt.Fprintf(w, "%s has its own server URL (%s): it is left in place%s, so results are read by polling Vapi (GET /call); --webhooks override sends them to --public-url instead.\n",
			ownerName, urlHost(cmp.Or(own.Assistant, own.PhoneNumber)), every)
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

// preflightVariables finds the template variables the texts of each assistant of each target
// (a squad's members each) use, and reports which CSV column supplies each and how many rows
// leave it empty. A variable with neither a column nor a default stops the run unless
// allowMissing; with several targets the error names the target that uses it.
func preflightVariables(ctx context.Context, w io.Writer, store *campaign.Store, c *campaign.Campaign, targets []targetAssistants, allowMissing bool) error {
	var problems []string
	for _, t := range targets {
		var missing []string
		for _, asst := range t.assts {
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
		switch {
		case len(missing) == 0:
		case len(targets) == 1:
			problems = append(problems, "the assistant uses variables the CSV does not supply: "+strings.Join(missing, ", "))
		default:
			problems = append(problems, fmt.Sprintf("%s uses variables the CSV does not supply: %s", t.label, strings.Join(missing, ", ")))
		}
	}
	if len(problems) > 0 && !allowMissing {
		return fmt.Errorf("%s (add the columns, give them a default in the assistant, or pass --allow-missing-variables)",
			strings.Join(problems, "; "))
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
