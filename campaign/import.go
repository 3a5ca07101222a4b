package campaign

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoDataRows is returned by Import when the file has a header but no data rows.
var ErrNoDataRows = errors.New("the file has a header but no data rows")

// ErrImportsBusy is returned by Import when the Store runs as many imports as it allows at once
// already; nothing was read or written, and the same import may be tried again once one ends.
var ErrImportsBusy = errors.New("as many imports as the database pool allows are running already; try again when one has finished")

// importSlotsFor is how many imports a Store on pool runs at once: a quarter of the pool's
// connections, at least one (one for no pool: a Store of tests that import nothing). Each
// import holds two connections for as long as it reads its file (loadContacts), so imports
// never take more than half the pool, and the dialer, the webhook receiver and the console of a
// serve sharing it keep the rest.
func importSlotsFor(pool *pgxpool.Pool) int {
	if pool == nil {
		return 1
	}
	return max(1, int(pool.Config().MaxConns)/4)
}

// RejectSink receives rejected rows (a *RejectsWriter, typically).
type RejectSink interface {
	Write(Reject) error
}

// ImportInput is what Store.Import reads.
type ImportInput struct {
	Reader *Reader
	// Rejects receives every rejected row; nil means rejects are only counted.
	Rejects RejectSink
	// Suppress lists extra E.164 numbers not to import (a --suppress file), on top of the
	// stored suppression list.
	Suppress []string
	// RejectsPath is recorded with the campaign as where its rejects were written, when any were.
	RejectsPath string
}

// Import creates a campaign from a CSV in one transaction: every accepted row becomes a contact,
// every rejected row goes to in.Rejects with its line number and reason, and the figures are
// stored with the campaign. Rows whose number appears earlier in the file (first wins) or on a
// suppression list are rejected too. On any error nothing is written.
//
// A draft of the same name imported from the same file (by content: a dry run, or a run whose
// pre-flight failed) is replaced, in the same transaction: stats.ReplacedDraft says so. Any
// other campaign of that name makes Import fail with a *NameTakenError.
//
// The rows go to Postgres in one COPY while the file is parsed (see loadContacts), which holds
// two of the pool's connections at once: the transaction's and one for suppression lookups.
// Memory grows with the file only by the set of numbers kept (some 37 MB of heap for a million
// contacts); the batches in flight are bounded.
//
// A Store runs a quarter of its pool's connections' worth of imports at once (at least one): an
// import beyond that fails at once with ErrImportsBusy, having read nothing. Refusing rather
// than queueing keeps a burst of uploads to serve's console from holding their files (and their
// requests) for an unbounded time behind imports of a million rows each.
func (s *Store) Import(ctx context.Context, nc NewCampaign, in ImportInput) (*Campaign, error) {
	if err := CheckSchedule(nc.StartAt, nc.EndBy); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	select {
	case s.importSlots <- struct{}{}:
		defer func() { <-s.importSlots }()
	default:
		return nil, fmt.Errorf("import: %w (%d at once on a pool of %d connections)",
			ErrImportsBusy, cap(s.importSlots), s.pool.Config().MaxConns)
	}
	hdr := in.Reader.Header()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// The import's statements are few and simple, though some touch many rows (deleting a
	// replaced draft): JIT compilation costs more than it saves.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	draft, err := findDraft(ctx, tx, nc.Name)
	if err != nil {
		return nil, err
	}
	name := nc.Name
	if draft != nil {
		// The draft keeps its name, and its rows stay unlocked, until the file is loaded.
		name = fmt.Sprintf("%s#replacing-draft-%d", nc.Name, draft.id)
	}
	id, err := insertCampaign(ctx, tx, nc, name, hdr)
	if err != nil {
		return nil, err
	}
	stats := ImportStats{Rejected: map[RejectReason]int{}, Warnings: append([]string(nil), hdr.Warnings...)}
	if err := s.loadContacts(ctx, tx, id, in, &stats); err != nil {
		return nil, err
	}
	if stats.RowsRead == 0 {
		return nil, ErrNoDataRows
	}
	stats.SourceSHA256 = in.Reader.SHA256()
	if draft != nil {
		if err := replaceDraft(ctx, tx, *draft, id, nc.Name, stats.SourceSHA256); err != nil {
			return nil, err
		}
		stats.ReplacedDraft = draft.id
	}
	if stats.RejectedTotal() > 0 {
		stats.RejectsFile = in.RejectsPath
	}
	if stats.DefaultTimeZoneRows > 0 {
		stats.Warnings = append(stats.Warnings, fmt.Sprintf(
			"%d contacts have no time zone from the file or their number; they use the default %s",
			stats.DefaultTimeZoneRows, nc.DefaultTimeZone))
	}
	if stats.NamesCut > 0 {
		stats.Warnings = append(stats.Warnings, fmt.Sprintf(
			"%d names are longer than Vapi's 40-character limit and were cut for customer.name (the full value stays in the variables)",
			stats.NamesCut))
	}
	statsJSON, err := json.Marshal(stats)
	if err != nil {
		return nil, fmt.Errorf("import: encode stats: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE campaign SET import_stats = $2 WHERE id = $1`, id, statsJSON); err != nil {
		return nil, fmt.Errorf("import: save stats: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("import: commit: %w", err)
	}
	return s.Campaign(ctx, id)
}

// draftToReplace is a draft campaign an import may replace.
type draftToReplace struct {
	id     int64
	sha256 string
}

// findDraft looks at who holds the name of a new campaign, without locking: nobody (nil), a
// draft that Import may replace, or another campaign (a *NameTakenError). replaceDraft checks the
// draft again under its locks.
func findDraft(ctx context.Context, tx pgx.Tx, name string) (*draftToReplace, error) {
	var (
		d      draftToReplace
		status Status
	)
	err := tx.QueryRow(ctx, `SELECT id, status, coalesce(import_stats->>'source_sha256', '') FROM campaign
		WHERE name = $1`, name).Scan(&d.id, &status, &d.sha256)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import: look up campaign %q: %w", name, err)
	}
	if status != StatusDraft {
		return nil, &NameTakenError{Name: name, Status: status}
	}
	return &d, nil
}

// replaceDraft deletes draft d, if it is still a draft imported from the file of hash sha256,
// and gives its name to the new campaign id, at the end of the import. It locks in the order of
// dispatch.go (the draft's attempts, then its contacts, each in id order, then its campaign row),
// so it serializes with an operator's action on the draft (cancel, suppress add) instead of
// deadlocking with it, and it holds those locks only for these few statements.
func replaceDraft(ctx context.Context, tx pgx.Tx, d draftToReplace, id int64, name, sha256 string) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM attempt WHERE campaign_id = $1 ORDER BY id FOR UPDATE`, d.id); err != nil {
		return fmt.Errorf("import: replace draft %d: %w", d.id, err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contact WHERE campaign_id = $1 ORDER BY id FOR UPDATE`, d.id); err != nil {
		return fmt.Errorf("import: replace draft %d: %w", d.id, err)
	}
	var (
		status Status
		sha    string
	)
	err := tx.QueryRow(ctx, `SELECT status, coalesce(import_stats->>'source_sha256', '') FROM campaign
		WHERE id = $1 FOR UPDATE`, d.id).Scan(&status, &sha)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // deleted meanwhile: the name is free, or taken again
	case err != nil:
		return fmt.Errorf("import: replace draft %d: %w", d.id, err)
	case status != StatusDraft:
		return &NameTakenError{Name: name, Status: status}
	case sha != sha256:
		return &NameTakenError{Name: name, Status: StatusDraft, OtherFile: true}
	default:
		if _, err := tx.Exec(ctx, `DELETE FROM contact WHERE campaign_id = $1`, d.id); err != nil {
			return fmt.Errorf("import: replace draft %d: %w", d.id, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM campaign WHERE id = $1`, d.id); err != nil {
			return fmt.Errorf("import: replace draft %d: %w", d.id, err)
		}
	}
	_, err = tx.Exec(ctx, `UPDATE campaign SET name = $2 WHERE id = $1`, id, name)
	if isUniqueViolation(err, "campaign_name_key") {
		return fmt.Errorf("import: campaign %q: %w", name, ErrNameTaken)
	}
	if err != nil {
		return fmt.Errorf("import: name campaign %q: %w", name, err)
	}
	return nil
}

// insertCampaign inserts the campaign of nc under name (nc.Name, or a placeholder while a draft
// holds it).
func insertCampaign(ctx context.Context, tx pgx.Tx, nc NewCampaign, name string, hdr Header) (int64, error) {
	overrides := nc.Overrides
	if len(overrides) == 0 {
		overrides = json.RawMessage("{}")
	}
	var inline []byte // NULL without a transient assistant
	if len(nc.Assistant) > 0 {
		inline = nc.Assistant
	}
	pool, phoneNumberID := nc.CallerNumbers(), ""
	if len(pool) > 0 {
		phoneNumberID = pool[0]
	} else {
		pool = []string{}
	}
	var overridesCol, targetCol *int // NULL without an overrides or target column
	if hdr.Overrides >= 0 {
		overridesCol = &hdr.Overrides
	}
	if hdr.Target >= 0 {
		targetCol = &hdr.Target
	}
	var numberCol *int // NULL without a caller number column
	if hdr.CallerNumber >= 0 {
		numberCol = &hdr.CallerNumber
	}
	varCols := make([]int32, len(hdr.Variables))
	for i, v := range hdr.Variables {
		varCols[i] = int32(v)
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO campaign (name, source_file, columns, delimiter, phone_column, name_column,
			time_zone_column, external_id_column, variable_columns, assistant_id, phone_number_id,
			overrides, public_url, webhook_secret, window_spec, default_time_zone, default_region,
			rate_per_second, max_concurrent, retry_policy, max_attempts, mode, callback_key, do_not_call_key,
			retry_time_scale, webhooks, max_cost, squad_id, workflow_id, assistant, predial_url,
			overrides_column, notify_url, notify_spike, target_column, start_at, end_by,
			phone_number_ids, number_strategy, per_number_max_concurrent, per_number_daily_cap, new_number_on_retry,
			phone_number_column)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
			$22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37,
			$38, $39, nullif($40, 0), nullif($41, 0), $42, $43)
		RETURNING id`,
		name, nc.SourceFile, hdr.Columns, string(hdr.Delimiter), hdr.Phone, hdr.Name, hdr.TimeZone,
		hdr.ExternalID, varCols, nc.AssistantID, phoneNumberID, overrides, nc.PublicURL, nc.WebhookSecret,
		nc.WindowSpec, nc.DefaultTimeZone, nc.DefaultRegion, nc.RatePerSecond, nc.MaxConcurrent,
		nc.RetryPolicy, nc.MaxAttempts, cmp.Or(nc.Mode, ModeForeground), nc.CallbackKey, nc.DoNotCallKey,
		cmp.Or(nc.RetryTimeScale, 1), cmp.Or(nc.Webhooks, WebhooksAuto), nc.MaxCostUSD, nc.SquadID, nc.WorkflowID, inline,
		nc.PredialURL, overridesCol, nc.NotifyURL, cmp.Or(nc.NotifySpike, DefaultNotifySpike), targetCol,
		nc.StartAt, nc.EndBy, pool, cmp.Or(nc.NumberStrategy, StrategyRoundRobin), nc.PerNumberMaxConcurrent,
		nc.PerNumberDailyCap, nc.NewNumberOnRetry, numberCol).Scan(&id)
	if isUniqueViolation(err, "campaign_name_key") {
		return 0, fmt.Errorf("import: campaign %q: %w", nc.Name, ErrNameTaken)
	}
	if err != nil {
		return 0, fmt.Errorf("import: create campaign: %w", err)
	}
	return id, nil
}
