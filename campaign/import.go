package campaign

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/jackc/pgx/v5"
)

// ErrNoDataRows is returned by Import when the file has a header but no data rows.
var ErrNoDataRows = errors.New("the file has a header but no data rows")

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

// importBatchSize is how many rows go to Postgres at once: large enough that COPY dominates,
// small enough that memory stays flat.
const importBatchSize = 10_000

// importBatch is a run of consecutive records: the rows the reader accepted and the rows it
// rejected, in file order within each slice.
type importBatch struct {
	rows    []Row
	rejects []Reject
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
// Memory stays flat in the file size: the reader streams, batches are bounded, and duplicates
// are found by the database's unique index rather than an in-memory set.
func (s *Store) Import(ctx context.Context, nc NewCampaign, in ImportInput) (*Campaign, error) {
	if err := CheckSchedule(nc.StartAt, nc.EndBy); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	hdr := in.Reader.Header()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// The import's statements are many small ones over a growing table: JIT compilation costs
	// more than it saves.
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
	if err := createStaging(ctx, tx, in.Suppress); err != nil {
		return nil, err
	}

	stats := ImportStats{Rejected: map[RejectReason]int{}, Warnings: append([]string(nil), hdr.Warnings...)}
	batches := make(chan importBatch, 2)
	readErr := make(chan error, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() { readErr <- readBatches(readCtx, in.Reader, batches) }()

	for n := 0; ; n++ {
		b, ok := <-batches
		if !ok {
			break
		}
		err := s.importBatch(ctx, tx, id, b, in.Rejects, &stats)
		if err == nil && n == 0 {
			// Statistics left by small imports or deleted campaigns can make the planner look up
			// duplicates by a scan of the whole campaign, one scan per refused row: refresh them
			// once this import's first rows are in (ANALYZE sees the transaction's own rows).
			if _, aerr := tx.Exec(ctx, `ANALYZE contact`); aerr != nil {
				err = fmt.Errorf("import: analyze: %w", aerr)
			}
		}
		if err != nil {
			stopReading()
			for range batches { // let the reader finish
			}
			<-readErr
			return nil, err
		}
	}
	if err := <-readErr; err != nil {
		return nil, fmt.Errorf("import: read: %w", err)
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

// createStaging creates the transaction's temporary tables: import_stage receives each batch by
// COPY, import_suppress holds the extra numbers not to import.
func createStaging(ctx context.Context, tx pgx.Tx, suppress []string) error {
	_, err := tx.Exec(ctx, `
		CREATE TEMP TABLE import_stage (
			line int NOT NULL, phone text NOT NULL, name text NOT NULL, external_id text NOT NULL,
			time_zones text[] NOT NULL, time_zone_source text NOT NULL, fields text[] NOT NULL
		) ON COMMIT DROP;
		CREATE TEMP TABLE import_suppress (phone text PRIMARY KEY) ON COMMIT DROP`)
	if err != nil {
		return fmt.Errorf("import: create staging tables: %w", err)
	}
	seen := make(map[string]bool, len(suppress))
	var rows [][]any
	for _, p := range suppress {
		if !seen[p] {
			seen[p] = true
			rows = append(rows, []any{p})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_suppress"}, []string{"phone"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("import: load suppression file: %w", err)
	}
	return nil
}

// readBatches reads the whole file into batches of at most importBatchSize records and closes out.
func readBatches(ctx context.Context, r *Reader, out chan<- importBatch) error {
	defer close(out)
	var b importBatch
	send := func() error {
		select {
		case out <- b:
			b = importBatch{}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			if len(b.rows)+len(b.rejects) > 0 {
				return send()
			}
			return nil
		}
		if err != nil {
			return err
		}
		if row != nil {
			b.rows = append(b.rows, *row)
		} else {
			b.rejects = append(b.rejects, *rej)
		}
		if len(b.rows)+len(b.rejects) >= importBatchSize {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// importBatch stores one batch: COPY into the stage, then insert the rows whose number is new to
// the campaign and not suppressed (the first line wins within the batch), and reject the rest.
func (s *Store) importBatch(ctx context.Context, tx pgx.Tx, campaignID int64, b importBatch, sink RejectSink, stats *ImportStats) error {
	stats.RowsRead += len(b.rows) + len(b.rejects)
	rejects := b.rejects
	if len(b.rows) > 0 {
		if _, err := tx.Exec(ctx, `TRUNCATE import_stage`); err != nil {
			return fmt.Errorf("import: clear stage: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_stage"},
			[]string{"line", "phone", "name", "external_id", "time_zones", "time_zone_source", "fields"},
			pgx.CopyFromSlice(len(b.rows), func(i int) ([]any, error) {
				r := &b.rows[i]
				return []any{r.Line, r.Phone, r.Name, r.ExternalID, r.TimeZones, string(r.TimeZoneSource), r.Fields}, nil
			}))
		if err != nil {
			return fmt.Errorf("import: copy rows: %w", err)
		}
		dbRejects, err := insertStaged(ctx, tx, campaignID, b.rows)
		if err != nil {
			return err
		}
		rejectedLines := make(map[int]bool, len(dbRejects))
		for _, r := range dbRejects {
			rejectedLines[r.Line] = true
		}
		for i := range b.rows {
			r := &b.rows[i]
			if rejectedLines[r.Line] {
				continue
			}
			stats.Accepted++
			if r.NameCut {
				stats.NamesCut++
			}
			if r.TimeZoneSource == TimeZoneDefault {
				stats.DefaultTimeZoneRows++
			}
		}
		if len(dbRejects) > 0 {
			rejects = append(append([]Reject(nil), b.rejects...), dbRejects...)
			sort.SliceStable(rejects, func(i, j int) bool { return rejects[i].Line < rejects[j].Line })
		}
	}
	for _, rej := range rejects {
		stats.Rejected[rej.Reason]++
		if sink != nil {
			if err := sink.Write(rej); err != nil {
				return fmt.Errorf("import: write reject: %w", err)
			}
		}
	}
	return nil
}

// insertStaged moves the staged rows into contact and returns the rows it refused: numbers on a
// suppression list, and numbers already in the campaign (an earlier line of the file). The
// refused lines are found from what the insert returns, and only they are looked up again, so
// a batch costs one pass over the stage whatever its size.
func insertStaged(ctx context.Context, tx pgx.Tx, campaignID int64, batch []Row) ([]Reject, error) {
	rows, err := tx.Query(ctx, `
		INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields)
		SELECT $1, s.line, s.phone, s.name, s.external_id, s.time_zones, s.time_zone_source, s.fields
		FROM import_stage s
		WHERE NOT EXISTS (SELECT 1 FROM suppression x WHERE x.phone = s.phone)
		  AND NOT EXISTS (SELECT 1 FROM import_suppress x WHERE x.phone = s.phone)
		-- Rows go in in file order, so of two lines with one number the first is kept and the
		-- later one hits the conflict (DO NOTHING applies within one statement too).
		ORDER BY s.line
		ON CONFLICT (campaign_id, phone) DO NOTHING
		RETURNING line`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("import: insert contacts: %w", err)
	}
	insertedLines, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("import: insert contacts: %w", err)
	}
	inserted := make(map[int]bool, len(insertedLines))
	for _, l := range insertedLines {
		inserted[l] = true
	}
	var refused []int
	for i := range batch {
		if !inserted[batch[i].Line] {
			refused = append(refused, batch[i].Line)
		}
	}
	if len(refused) == 0 {
		return nil, nil
	}

	rows, err = tx.Query(ctx, `
		SELECT s.line, s.fields,
		       EXISTS (SELECT 1 FROM suppression x WHERE x.phone = s.phone)
		           OR EXISTS (SELECT 1 FROM import_suppress x WHERE x.phone = s.phone) AS suppressed,
		       (SELECT c.line FROM contact c WHERE c.campaign_id = $1 AND c.phone = s.phone) AS kept_line
		FROM import_stage s
		WHERE s.line = ANY($2)
		ORDER BY s.line`, campaignID, refused)
	if err != nil {
		return nil, fmt.Errorf("import: find refused rows: %w", err)
	}
	rejects, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reject, error) {
		var (
			r          Reject
			suppressed bool
			keptLine   *int
		)
		if err := row.Scan(&r.Line, &r.Fields, &suppressed, &keptLine); err != nil {
			return r, err
		}
		switch {
		case suppressed:
			r.Reason, r.Detail = RejectSuppressed, "the number is on the suppression (do-not-call) list"
		case keptLine != nil:
			r.Reason, r.Detail = RejectDuplicatePhone, fmt.Sprintf("same number as line %d", *keptLine)
		default:
			return r, fmt.Errorf("line %d was neither inserted, suppressed nor a duplicate", r.Line)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: find refused rows: %w", err)
	}
	return rejects, nil
}
