package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/localpg"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
)

// dryRunReport is what `campaign run --dry-run` shows; with --format json it is printed as one
// JSON document (a stable interface: fields are only ever added).
type dryRunReport struct {
	DryRun           bool           `json:"dry_run"`
	Campaign         campaignRef    `json:"campaign"`
	File             string         `json:"file"`
	Delimiter        string         `json:"delimiter"`
	RowsRead         int            `json:"rows_read"`
	Accepted         int            `json:"accepted"`
	Rejected         int            `json:"rejected"`
	RejectedByReason map[string]int `json:"rejected_by_reason"`
	RejectsFile      string         `json:"rejects_file,omitempty"`
	Columns          columnRoles    `json:"columns"`
	Variables        []string       `json:"variables"`
	Warnings         []string       `json:"warnings"`
	Window           string         `json:"window"`
	// StartAt and EndBy are the schedule (--start-at, --end-by; RFC 3339, UTC), absent when none.
	StartAt         string       `json:"start_at,omitempty"`
	EndBy           string       `json:"end_by,omitempty"`
	DefaultTimeZone string       `json:"default_time_zone"`
	TimeZones       []zoneReport `json:"time_zones"`
	// Calls are the exact POST /call bodies of the first contacts' first attempts, secrets redacted.
	Calls []json.RawMessage `json:"calls"`
}

type campaignRef struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type columnRoles struct {
	Phone      string `json:"phone"`
	Name       string `json:"name,omitempty"`
	TimeZone   string `json:"time_zone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	// Overrides is the column of per-contact assistantOverrides, merged over the campaign's.
	Overrides string `json:"overrides,omitempty"`
	// Target is the column naming each contact's own assistant or squad.
	Target string `json:"target,omitempty"`
	// PhoneNumberID is the column naming each contact's own caller number.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
}

// zoneReport is one set of time zones shared by some contacts, and when they may first be called.
type zoneReport struct {
	TimeZones []string `json:"time_zones"`
	Contacts  int      `json:"contacts"`
	// FirstCallable is the first instant at or after now inside the window in all the zones
	// (RFC 3339, UTC); empty when the zones' windows never overlap.
	FirstCallable      string `json:"first_callable,omitempty"`
	FirstCallableLocal string `json:"first_callable_local,omitempty"`
	// CallableNow is true when the window is open in these zones at the time of the run.
	CallableNow bool `json:"callable_now"`
}

const redacted = "[redacted]"

// redactedRequest is a POST /call body as JSON with the header values of the server it carries
// (the webhook secret), in assistantOverrides or squadOverrides, redacted.
func redactedRequest(body *vapi.CreateCallDTO) (json.RawMessage, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode call request: %w", err)
	}
	var shown vapi.CreateCallDTO
	if err := json.Unmarshal(raw, &shown); err != nil {
		return nil, fmt.Errorf("decode call request: %w", err)
	}
	for _, o := range []*vapi.AssistantOverrides{shown.AssistantOverrides, shown.SquadOverrides} {
		if o != nil && o.Server != nil {
			for k := range o.Server.Headers {
				o.Server.Headers[k] = redacted
			}
		}
	}
	out, err := json.Marshal(&shown)
	if err != nil {
		return nil, fmt.Errorf("encode call request: %w", err)
	}
	return out, nil
}

func runDryRun(ctx context.Context, a *app, opts *runOptions) error {
	now := a.now()
	imp, err := importCampaign(ctx, a, nil, opts, now)
	if err != nil {
		return err
	}
	defer imp.pool.Close()
	report, c, client, targets, err := dryRunPlan(ctx, a, imp.store, imp.campaign, imp.window, opts.VapiBaseURL, opts.Preview, now)
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = writeDryRunText(a.out, report)
	}
	if err != nil || client == nil {
		return err
	}
	return preflightVariables(ctx, a.errOut, imp.store, c, targets, opts.AllowMissingVariables)
}

// dryRunPlan is the dry run of draft c (run --dry-run, and the console's): the pre-flight
// checks with Vapi, when it can, of the webhook routing first, so that the bodies shown are the
// ones the run would send, then the report. The caller checks the variables after (with client
// and targets, when client is not nil). It returns c with the routing it stored.
func dryRunPlan(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, window campaign.Window, baseURL string,
	preview int, now time.Time) (*dryRunReport, *campaign.Campaign, *vapi.Client, []targetAssistants, error) {
	client, targets, err := dryRunAssistant(ctx, a, baseURL, store, c)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if client != nil {
		numbers, err := newNumberReads(ctx, client, store, c)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if c, err = preflightWebhooks(ctx, a.errOut, numbers, store, c, targets, now); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	report, err := buildDryRunReport(ctx, store, c, window, preview, now)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return report, c, client, targets, nil
}

// dryRunAssistant connects to Vapi at baseURL and reads campaign c's targets for the pre-flight
// checks of a real run; a nil client when the dry run cannot reach Vapi (no target or no key),
// which it says.
func dryRunAssistant(ctx context.Context, a *app, baseURL string, store *campaign.Store, c *campaign.Campaign) (*vapi.Client, []targetAssistants, error) {
	key := a.getenv(envAPIKey)
	kind, _ := c.Target()
	if kind == campaign.TargetWorkflow {
		fmt.Fprintln(a.errOut, "Note: a workflow's {{variables}} are not checked: Vapi's API documents no read of a workflow.")
	}
	switch {
	case kind == campaign.TargetNone && c.TargetColumn == nil:
		return nil, nil, nil
	case key == "":
		fmt.Fprintf(a.errOut, "Note: the assistant's {{variables}} and server URL were not checked: set %s to check them.\n", envAPIKey)
		return nil, nil, nil
	}
	client, err := a.newVapiClient(key, baseURL)
	if err != nil {
		return nil, nil, err
	}
	targets, err := fetchTargets(ctx, client, store, c)
	if err != nil {
		return nil, nil, err
	}
	return client, targets, nil
}

// imported is a campaign just imported, with the database it lives in.
type imported struct {
	pool     *pgxpool.Pool
	store    *campaign.Store
	campaign *campaign.Campaign
	window   campaign.Window
}

// importCampaign reads the CSV named by opts into a new draft campaign: the first step of every
// run, dry or not. It imports into store, the process's own (serve's, for its console), or with
// store nil into a database it opens (a.openDB) as imp.pool, which the caller closes.
func importCampaign(ctx context.Context, a *app, store *campaign.Store, opts *runOptions, now time.Time) (*imported, error) {
	window, err := campaign.ParseWindow(opts.Window)
	if err != nil {
		return nil, usageErrorf("--window: %v", err)
	}
	settings := opts.likeSettings() // empty without --like
	if opts.like == nil || opts.OverridesFile != "" {
		if settings.Overrides, err = readOverrides(opts.OverridesFile); err != nil {
			return nil, err
		}
	}
	if err := jobs.CheckOverrides(&campaign.Settings{WorkflowID: opts.WorkflowID, Overrides: settings.Overrides}); err != nil {
		return nil, usageErrorf("--overrides %s with --workflow-id: %v", opts.OverridesFile, err)
	}
	checkRow, err := rowOverridesCheck(settings.Overrides, opts.WorkflowID)
	if err != nil {
		return nil, err
	}
	delimiter, _ := parseDelimiter(opts.Delimiter) // validated already
	readerOpts := campaign.ReaderOptions{
		PhoneColumn:      opts.PhoneColumn,
		NameColumn:       opts.NameColumn,
		TimeZoneColumn:   opts.TimeZoneColumn,
		ExternalIDColumn: opts.ExternalIDColumn,
		OverridesColumn:  opts.OverridesColumn,
		CheckOverrides:   checkRow,
		TargetColumn:     opts.TargetColumn,
		RequireTarget:    !opts.hasTarget(),
		Delimiter:        delimiter,
		DefaultRegion:    opts.DefaultRegion,
		DefaultTimeZone:  opts.TimeZone,
		// Without a number of the campaign's own, every row names its own (a simulation has one).
		PhoneNumberColumn: opts.PhoneNumberColumn, RequirePhoneNumber: opts.PhoneNumberID == "" && !opts.Simulate,
	}

	source := opts.source()
	var file io.Reader = a.in
	switch {
	case opts.File == "" && opts.like != nil:
		// --like without FILE: the source's contacts, read in the source's own columns.
		src := opts.like.campaign
		file = bytes.NewReader(opts.like.contacts)
		readerOpts.PhoneColumn, readerOpts.NameColumn = columnName(src, src.PhoneColumn), columnName(src, src.NameColumn)
		readerOpts.TimeZoneColumn, readerOpts.ExternalIDColumn = columnName(src, src.TimeZoneColumn), columnName(src, src.ExternalIDColumn)
		if src.OverridesColumn != nil {
			readerOpts.OverridesColumn = columnName(src, *src.OverridesColumn)
		}
		if src.TargetColumn != nil {
			readerOpts.TargetColumn = columnName(src, *src.TargetColumn)
		}
		if src.PhoneNumberColumn != nil {
			readerOpts.PhoneNumberColumn = columnName(src, *src.PhoneNumberColumn)
		}
		readerOpts.Delimiter = src.Delimiter
	case opts.File != stdinFile:
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, err // *PathError says "open FILE: …"
		}
		defer f.Close()
		file = f
	}
	reader, err := campaign.NewReader(interruptible(ctx, file), readerOpts)
	if err != nil && ctx.Err() != nil {
		return nil, importInterrupted(ctx, source)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	suppress, err := readSuppressFile(opts.SuppressFile, opts.DefaultRegion)
	if err != nil {
		return nil, err
	}

	imp := &imported{store: store, window: window}
	ok := false
	if store == nil {
		pool, err := a.openDB(ctx, dbWrite)
		if err != nil {
			return nil, err
		}
		imp.pool, imp.store = pool, campaign.NewStore(pool)
		defer func() {
			if !ok {
				pool.Close()
			}
		}()
	}

	rejects, rejectsNote, err := openRejects(a, opts, now)
	if err != nil {
		return nil, err
	}
	defer rejects.discard()
	// The settings that run has flags for are the options' (with --like, the source's unless a
	// flag was given: applyLike); the others are the source's (likeSettings) or zero.
	settings.AssistantID, settings.PhoneNumberID = opts.AssistantID, opts.PhoneNumberID
	settings.SquadID, settings.WorkflowID, settings.Assistant = opts.SquadID, opts.WorkflowID, opts.Assistant
	settings.PublicURL, settings.Webhooks = opts.PublicURL, campaign.WebhookMode(opts.Webhooks)
	settings.WebhookSecret = a.getenv(envWebhookSecret) // "": one of the campaign's own, never the source's
	settings.WindowSpec, settings.DefaultTimeZone, settings.DefaultRegion = window.String(), opts.TimeZone, opts.DefaultRegion
	settings.RatePerSecond, settings.MaxConcurrent = opts.Rate, opts.MaxConcurrent
	settings.MaxAttempts, settings.RetryPolicy = opts.MaxAttempts, opts.Retry
	settings.CallbackKey, settings.DoNotCallKey = opts.CallbackKey, opts.DoNotCallKey
	settings.RetryTimeScale = opts.retryTimeScale()
	settings.MaxCostUSD = opts.maxCostUSD
	settings.PredialURL = opts.PredialURL
	settings.NotifyURL, settings.NotifySpike = opts.NotifyURL, opts.NotifySpike
	settings.StartAt, settings.EndBy = opts.startAt, opts.endBy
	settings.PhoneNumberIDs, settings.NumberStrategy = opts.PhoneNumberIDs, campaign.NumberStrategy(opts.NumberStrategy)
	settings.PerNumberMaxConcurrent, settings.PerNumberDailyCap = opts.PerNumberMaxConcurrent, opts.PerNumberDailyCap
	settings.NewNumberOnRetry = !opts.SameNumberOnRetry
	defer importGC.lower()()
	c, err := imp.store.ImportFile(ctx, campaign.FileImport{
		Reader:      reader,
		Source:      source,
		Name:        opts.Name,
		Mode:        opts.mode(),
		Settings:    settings,
		Suppress:    suppress,
		Rejects:     rejects.f,
		RejectsPath: rejects.path,
		Now:         now,
	})
	var taken *campaign.NameTakenError
	switch {
	case errors.As(err, &taken):
		return nil, nameTakenHint(taken)
	case err != nil && ctx.Err() != nil:
		return nil, importInterrupted(ctx, source)
	case err != nil:
		return nil, err
	}
	if c.ImportStats.ReplacedDraft != 0 {
		fmt.Fprintf(a.errOut, "Replaced the draft campaign %s (id %d) of the same file, left by an earlier run.\n",
			c.Name, c.ImportStats.ReplacedDraft)
	}
	if c.ImportStats.RejectedTotal() > 0 {
		if err := rejects.commit(); err != nil {
			return nil, err
		}
		if rejectsNote != "" {
			fmt.Fprintf(a.errOut, "Rejected rows are in %s (%s).\n", rejects.path, rejectsNote)
		}
	}
	imp.campaign = c
	ok = true
	return imp, nil
}

// importInterrupted is the error of an import of source that ctx's end (Ctrl-C, SIGTERM) stopped:
// the import is one transaction, so nothing of it was kept.
func importInterrupted(ctx context.Context, source string) error {
	return fmt.Errorf("interrupted (%s) while importing %s: nothing was imported", signalName(ctx), source)
}

// nameTakenHint explains why a new campaign cannot have the name asked for, and what to do.
func nameTakenHint(e *campaign.NameTakenError) error {
	var msg string
	switch {
	case e.OtherFile:
		msg = fmt.Sprintf("a draft campaign %s from another file already exists: delete it (campaign delete %s) or choose another --name",
			e.Name, e.Name)
	case e.Status == campaign.StatusCompleted:
		msg = fmt.Sprintf("campaign %s already exists (completed): see it with campaign status %s, or choose another --name", e.Name, e.Name)
	default:
		msg = fmt.Sprintf("campaign %s already exists (%s): continue it with campaign resume %s, or choose another --name",
			e.Name, e.Status, e.Name)
	}
	return &hintError{msg: msg, err: e}
}

func buildDryRunReport(ctx context.Context, store *campaign.Store, c *campaign.Campaign, window campaign.Window, preview int, now time.Time) (*dryRunReport, error) {
	st := c.ImportStats
	r := &dryRunReport{
		DryRun:           true,
		Campaign:         campaignRef{ID: c.ID, Name: c.Name, Status: string(c.Status)},
		File:             c.SourceFile,
		Delimiter:        delimiterName(c.Delimiter),
		RowsRead:         st.RowsRead,
		Accepted:         st.Accepted,
		Rejected:         st.RejectedTotal(),
		RejectedByReason: map[string]int{},
		RejectsFile:      st.RejectsFile,
		Columns: columnRoles{
			Phone:      columnName(c, c.PhoneColumn),
			Name:       columnName(c, c.NameColumn),
			TimeZone:   columnName(c, c.TimeZoneColumn),
			ExternalID: columnName(c, c.ExternalIDColumn),
		},
		Variables:       []string{},
		Warnings:        append([]string{}, st.Warnings...),
		Window:          c.WindowSpec,
		DefaultTimeZone: c.DefaultTimeZone,
		TimeZones:       []zoneReport{},
		Calls:           []json.RawMessage{},
	}
	if c.OverridesColumn != nil {
		r.Columns.Overrides = columnName(c, *c.OverridesColumn)
	}
	if c.TargetColumn != nil {
		r.Columns.Target = columnName(c, *c.TargetColumn)
	}
	if c.PhoneNumberColumn != nil {
		r.Columns.PhoneNumberID = columnName(c, *c.PhoneNumberColumn)
	}
	// The first calls come at the start, when it is ahead.
	from := now
	if c.StartAt != nil {
		r.StartAt = c.StartAt.UTC().Format(time.RFC3339)
		from = maxTime(from, *c.StartAt)
	}
	if c.EndBy != nil {
		r.EndBy = c.EndBy.UTC().Format(time.RFC3339)
	}
	for reason, n := range st.Rejected {
		r.RejectedByReason[string(reason)] = n
	}
	for _, i := range c.VariableColumns {
		r.Variables = append(r.Variables, c.Columns[i])
	}

	openings, err := store.ZoneOpenings(ctx, c, campaign.CallingHours{Window: window}, from)
	if err != nil {
		return nil, err
	}
	for _, z := range openings {
		if z.Fail == campaign.OutcomeInvalidTimeZone {
			// What the runner will do: these contacts fail, never called at hours that may be
			// wrong for them.
			r.Warnings = append(r.Warnings, fmt.Sprintf("%d contact(s) with time zones %q will not be called: a zone does not load on this machine (outcome %s)",
				z.Contacts, strings.Join(z.TimeZones, " + "), z.Fail))
			continue
		}
		if !z.FirstCallable.IsZero() && campaign.Expired(c.EndBy, z.FirstCallable) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%d contact(s) with time zones %q will not be called: their window opens only after --end-by (outcome %s)",
				z.Contacts, strings.Join(z.TimeZones, " + "), campaign.OutcomeExpired))
		}
		zr := zoneReport{TimeZones: z.TimeZones, Contacts: z.Contacts, CallableNow: z.CallableNow && !from.After(now)}
		if !z.FirstCallable.IsZero() {
			zr.FirstCallable = z.FirstCallable.UTC().Format(time.RFC3339)
			zr.FirstCallableLocal = z.FirstCallable.In(z.Location).Format("Mon 2006-01-02 15:04 MST")
		}
		r.TimeZones = append(r.TimeZones, zr)
	}

	contacts, err := store.Contacts(ctx, c.ID, preview)
	if err != nil {
		return nil, err
	}
	for i := range contacts {
		body, err := jobs.CreateCallRequest(c, &contacts[i], 1)
		if err != nil {
			return nil, fmt.Errorf("build call request for line %d: %w", contacts[i].Line, err)
		}
		raw, err := redactedRequest(body)
		if err != nil {
			return nil, err
		}
		r.Calls = append(r.Calls, raw)
	}
	return r, nil
}

func writeDryRunText(w io.Writer, r *dryRunReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run: nobody was called.\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Campaign\t%s (id %d, %s)\n", r.Campaign.Name, r.Campaign.ID, r.Campaign.Status)
	fmt.Fprintf(tw, "File\t%s (delimiter %s)\n", r.File, r.Delimiter)
	fmt.Fprintf(tw, "Rows\t%d read, %d accepted, %d rejected\n", r.RowsRead, r.Accepted, r.Rejected)
	if r.Rejected > 0 {
		reasons := make([]string, 0, len(r.RejectedByReason))
		for reason := range r.RejectedByReason {
			reasons = append(reasons, reason)
		}
		sort.Slice(reasons, func(i, j int) bool {
			ri, rj := r.RejectedByReason[reasons[i]], r.RejectedByReason[reasons[j]]
			return ri > rj || ri == rj && reasons[i] < reasons[j]
		})
		parts := make([]string, len(reasons))
		for i, reason := range reasons {
			parts[i] = fmt.Sprintf("%s %d", reason, r.RejectedByReason[reason])
		}
		fmt.Fprintf(tw, "Rejected\t%s\n", strings.Join(parts, ", "))
		fmt.Fprintf(tw, "Rejects file\t%s\n", r.RejectsFile)
	}
	fmt.Fprintf(tw, "Columns\t%s\n", r.Columns.text())
	fmt.Fprintf(tw, "Variables\t%s\n", strings.Join(r.Variables, ", "))
	fmt.Fprintf(tw, "Window\t%s, in each contact's local time\n", r.Window)
	if r.StartAt != "" || r.EndBy != "" {
		fmt.Fprintf(tw, "Schedule\t%s\n", scheduleText(parseRFC3339(r.StartAt), parseRFC3339(r.EndBy)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Time zone\tContacts\tFirst callable (local)\n")
	for _, z := range r.TimeZones {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", strings.Join(z.TimeZones, " + "), z.Contacts, z.firstText())
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, warning := range r.Warnings {
			fmt.Fprintf(&b, "  - %s\n", warning)
		}
	}
	if len(r.Calls) > 0 {
		fmt.Fprintf(&b, "\nPOST /call bodies for the first %d of %d contacts (secrets redacted):\n", len(r.Calls), r.Accepted)
		for _, raw := range r.Calls {
			indented, err := indentJSON(raw)
			if err != nil {
				return err
			}
			b.WriteString(indented)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text is the columns' roles as the dry run shows them: "phone=phone, name=name".
func (c columnRoles) text() string {
	roles := "phone=" + c.Phone
	for _, kv := range [][2]string{{"name", c.Name}, {"time zone", c.TimeZone}, {"external id", c.ExternalID}, {"overrides", c.Overrides}, {"target", c.Target}, {"caller number", c.PhoneNumberID}} {
		if kv[1] != "" {
			roles += ", " + kv[0] + "=" + kv[1]
		}
	}
	return roles
}

// firstText is when the zones' contacts may first be called, as the dry run shows it.
func (z zoneReport) firstText() string {
	switch {
	case z.FirstCallableLocal == "":
		return "never: the window does not overlap in these zones"
	case z.CallableNow:
		return "now (" + z.FirstCallableLocal + ")"
	}
	return z.FirstCallableLocal
}

// indentJSON is a request body indented for people, with a final newline.
func indentJSON(raw json.RawMessage) (string, error) {
	var indented strings.Builder
	var v any
	_ = json.Unmarshal(raw, &v)
	enc := json.NewEncoder(&indented)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return indented.String(), nil
}

func columnName(c *campaign.Campaign, i int) string {
	if i < 0 || i >= len(c.Columns) {
		return ""
	}
	return c.Columns[i]
}

func delimiterName(r rune) string {
	if r == '\t' {
		return "tab"
	}
	return fmt.Sprintf("%q", string(r))
}

// openRejects starts the file of the import's rejected rows: --rejects if given, else FILE
// with .rejects.csv next to the input. Where that cannot be written (stdin, an input directory
// this user cannot write, a /dev/fd/N from a shell's <(…)), the file goes to the user's state
// directory, and note says why, for the user to be told where it went.
func openRejects(a *app, opts *runOptions, now time.Time) (rejects *pendingFile, note string, err error) {
	if opts.RejectsFile != "" {
		rejects, err = newPendingFile(opts.RejectsFile)
		return rejects, "", err
	}
	switch opts.File {
	case stdinFile:
		note = "the input is stdin"
	case "":
		note = "the contacts are copied from campaign " + opts.Like
	default:
		rejects, err = newPendingFile(defaultRejectsPath(opts.File))
		if err == nil {
			return rejects, "", nil
		}
		reason := err
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			reason = pe.Err
		}
		note = fmt.Sprintf("cannot write to %s: %v", filepath.Dir(opts.File), reason)
	}
	state, err := localpg.StateDir(a.getenv)
	if err != nil {
		return nil, "", fmt.Errorf("a place for the rejected rows (or use --rejects): %w", err)
	}
	dir := filepath.Join(state, "rejects")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("a place for the rejected rows (or use --rejects): %w", err)
	}
	rejects, err = newPendingFile(filepath.Join(dir, campaign.DefaultCampaignName(opts.source(), now)+".rejects.csv"))
	return rejects, note, err
}

// pendingFile is an output file written under a temporary name and renamed into place only on
// commit, so a failed command leaves nothing half-written behind.
type pendingFile struct {
	f    *os.File
	path string
	done bool
}

// newPendingFile starts writing path. The temporary file is created with mode 0666 less the
// umask, like any file a shell redirection creates (os.CreateTemp would make it 0600), and the
// rename keeps that mode.
func newPendingFile(path string) (*pendingFile, error) {
	for try := 1; ; try++ {
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+randomSuffix()+".tmp")
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue // a name another writer took: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		return &pendingFile{f: f, path: path}, nil
	}
}

// randomSuffix returns a random name part for a temporary file.
func randomSuffix() string {
	buf := make([]byte, 6)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(buf)
}

func (p *pendingFile) commit() error {
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	if err := os.Rename(p.f.Name(), p.path); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	p.done = true
	return nil
}

// discard removes the temporary file unless it was committed.
func (p *pendingFile) discard() {
	if !p.done {
		p.f.Close()
		os.Remove(p.f.Name())
	}
}
