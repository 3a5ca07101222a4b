package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// importBatchSize is how many records the reader hands on at once: large enough that the
// suppression lookup of a batch is one cheap query, small enough that the batches in flight
// (two queued at each stage) stay a few megabytes.
const importBatchSize = 2048

// importColumns are the columns Import writes to contact, in the order contactValues gives them;
// the rest take their defaults.
var importColumns = []string{"campaign_id", "line", "phone", "name", "external_id", "time_zones", "time_zone_source", "fields"}

// importBatch is a run of consecutive records: the rows the reader accepted and the rows it
// rejected, in file order within each slice.
type importBatch struct {
	rows    []Row
	rejects []Reject
}

// loadContacts reads every record of in.Reader and writes the accepted ones to contact as
// campaign campaignID's, in one COPY on tx, and every rejected one to in.Rejects, in file order;
// stats counts both.
//
// Three stages run at once, so that Postgres writes while the file is parsed: the reader parses
// batches; the filter refuses a batch's numbers that are suppressed (one lookup a batch, on
// another connection) or already kept from an earlier line (an in-memory set of the campaign's
// numbers: the campaign is new, so the file is all it holds), writes the batch's rejects and
// passes its rows on; the COPY streams them into contact in file order, so id order stays line
// order. One COPY is one statement: statement-level triggers on contact run once per import.
// The unique index on (campaign_id, phone) still holds: a duplicate the filter missed fails the
// import rather than storing a number twice.
func (s *Store) loadContacts(ctx context.Context, tx pgx.Tx, campaignID int64, in ImportInput, stats *ImportStats) error {
	stagesCtx, stopStages := context.WithCancel(ctx)
	defer stopStages()
	g, gctx := errgroup.WithContext(stagesCtx)
	batches := make(chan importBatch, 2)
	accepted := make(chan []Row, 2)
	g.Go(func() error { return readBatches(gctx, in.Reader, batches) })
	f := newImportFilter(s.pool, in, stats)
	g.Go(func() error {
		defer close(accepted)
		for b := range batches {
			rows, err := f.filter(gctx, b)
			if err != nil {
				return err
			}
			select {
			case accepted <- rows:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	// The COPY runs under ctx, not gctx: when a stage fails, the source ends with its error and
	// pgx aborts the COPY cleanly (CopyFail) instead of cancelling it on the wire.
	_, copyErr := tx.CopyFrom(ctx, pgx.Identifier{"contact"}, importColumns,
		&contactSource{ctx: gctx, campaignID: campaignID, batches: accepted})
	if copyErr != nil {
		stopStages()
	}
	stageErr := g.Wait()
	switch {
	case stageErr != nil && (copyErr == nil || !errors.Is(stageErr, context.Canceled)):
		// A stage failed first: the COPY failed because of it.
		return fmt.Errorf("import: %w", stageErr)
	case copyErr != nil:
		return fmt.Errorf("import: copy contacts: %w", copyErr)
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
			return fmt.Errorf("read: %w", err)
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

// importFilter decides, batch by batch in file order, which of the reader's rows a new campaign
// keeps: not those whose number is suppressed (the stored list or the import's own), nor those
// whose number an earlier line has (the first line wins).
type importFilter struct {
	pool     *pgxpool.Pool
	suppress map[string]bool
	// kept maps each number kept so far (its E.164 digits as an integer, a third of the memory of
	// the string and no pointer for the collector to follow) to its line.
	kept  map[uint64]int32
	sink  RejectSink
	stats *ImportStats
}

func newImportFilter(pool *pgxpool.Pool, in ImportInput, stats *ImportStats) *importFilter {
	f := &importFilter{pool: pool, suppress: make(map[string]bool, len(in.Suppress)), kept: map[uint64]int32{},
		sink: in.Rejects, stats: stats}
	for _, p := range in.Suppress {
		f.suppress[p] = true
	}
	return f
}

// filter returns the rows of b the campaign keeps, in file order, after writing b's rejects (the
// reader's and its own) in line order and counting everything in the stats.
func (f *importFilter) filter(ctx context.Context, b importBatch) ([]Row, error) {
	f.stats.RowsRead += len(b.rows) + len(b.rejects)
	suppressed, err := f.storedSuppressions(ctx, b.rows)
	if err != nil {
		return nil, err
	}
	rejects := b.rejects
	sorted := true
	kept := b.rows[:0] // filtered in place: the batch is the filter's from here on
	for _, r := range b.rows {
		key, err := phoneKey(r.Phone)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.Line, err)
		}
		var rej *Reject
		if suppressed[r.Phone] || f.suppress[r.Phone] {
			rej = &Reject{Line: r.Line, Fields: r.Fields, Reason: RejectSuppressed,
				Detail: "the number is on the suppression (do-not-call) list"}
		} else if first, dup := f.kept[key]; dup {
			rej = &Reject{Line: r.Line, Fields: r.Fields, Reason: RejectDuplicatePhone,
				Detail: fmt.Sprintf("same number as line %d", first)}
		}
		if rej != nil {
			sorted = sorted && (len(rejects) == 0 || rejects[len(rejects)-1].Line < rej.Line)
			rejects = append(rejects, *rej)
			continue
		}
		f.kept[key] = int32(r.Line)
		f.stats.Accepted++
		if r.NameCut {
			f.stats.NamesCut++
		}
		if r.TimeZoneSource == TimeZoneDefault {
			f.stats.DefaultTimeZoneRows++
		}
		kept = append(kept, r)
	}
	if !sorted {
		slices.SortStableFunc(rejects, func(a, b Reject) int { return a.Line - b.Line })
	}
	for _, rej := range rejects {
		f.stats.Rejected[rej.Reason]++
		if f.sink != nil {
			if err := f.sink.Write(rej); err != nil {
				return nil, fmt.Errorf("write reject: %w", err)
			}
		}
	}
	return kept, nil
}

// storedSuppressions returns which numbers of rows are on the stored suppression list, in one
// query on a connection of its own (the import's transaction is busy with the COPY). Numbers
// suppressed while the import runs may be missed, as before: the dialer checks the list again
// before every call.
func (f *importFilter) storedSuppressions(ctx context.Context, rows []Row) (map[string]bool, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	phones := make([]string, len(rows))
	for i := range rows {
		phones[i] = rows[i].Phone
	}
	res, err := f.pool.Query(ctx, `SELECT phone FROM suppression WHERE phone = ANY($1::text[])`, phones)
	if err != nil {
		return nil, fmt.Errorf("look up suppressions: %w", err)
	}
	found, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up suppressions: %w", err)
	}
	suppressed := make(map[string]bool, len(found))
	for _, p := range found {
		suppressed[p] = true
	}
	return suppressed, nil
}

// phoneKey is the E.164 number e164 ("+" and at most 15 digits) as an integer, a compact key of
// the set of numbers an import has kept.
func phoneKey(e164 string) (uint64, error) {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' {
		return 0, fmt.Errorf("%q is not an E.164 number", e164)
	}
	n, err := strconv.ParseUint(e164[1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an E.164 number", e164)
	}
	return n, nil
}

// contactSource is the COPY's pgx.CopyFromSource: the rows the filter keeps, batch after batch,
// as contact columns (importColumns) of campaign campaignID.
type contactSource struct {
	ctx        context.Context
	campaignID int64
	batches    <-chan []Row
	rows       []Row
	i          int
	err        error
}

// Next moves to the next row, waiting for the filter's next batch when needed.
func (c *contactSource) Next() bool {
	c.i++
	for c.i >= len(c.rows) {
		select {
		case rows, ok := <-c.batches:
			if !ok {
				return false
			}
			c.rows, c.i = rows, 0
		case <-c.ctx.Done():
			c.err = c.ctx.Err()
			return false
		}
	}
	return true
}

// Values is the current row's columns.
func (c *contactSource) Values() ([]any, error) {
	r := &c.rows[c.i]
	return []any{c.campaignID, r.Line, r.Phone, r.Name, r.ExternalID, r.TimeZones, string(r.TimeZoneSource), r.Fields}, nil
}

// Err is why the rows ended early: the reader or the filter failed (their error is the import's).
func (c *contactSource) Err() error { return c.err }
