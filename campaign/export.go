package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits of the structured-data columns of an export.
const (
	// MaxStructuredDepth is how deep nested objects of the structured data are followed: a value
	// at this depth is a leaf even when it is an object (it is exported as JSON).
	MaxStructuredDepth = 8
	// MaxStructuredPaths bounds the structured-data paths of one export, so that data keyed by
	// something unbounded (ids, dates) cannot make a file of millions of columns.
	MaxStructuredPaths = 1000
)

// ErrTooManyStructuredPaths is returned (wrapped) when a campaign's structured data has more
// than MaxStructuredPaths distinct leaf paths.
var ErrTooManyStructuredPaths = errors.New("too many distinct structured-data keys")

// ContactOutcomes lists every value a contact's outcome can take, "" (no outcome yet) aside:
// the call outcomes, then those the hopper gives a contact it fails without calling (see
// Decision.FailOutcome: a window that never opens, a time zone it cannot load).
func ContactOutcomes() []string {
	var names []string
	for _, o := range slices.Concat(callOutcomes(), uncalledOutcomes()) {
		names = append(names, string(o))
	}
	return names
}

// ContactStates lists every contact state, in the order of a contact's life.
func ContactStates() []ContactState {
	return []ContactState{ContactPending, ContactQueued, ContactInCall, ContactCompleted, ContactFailed,
		ContactCancelled, ContactDoNotCall}
}

// ExportFilter selects what an export reads. Empty lists select everything; a row must match
// one of the States (if any are given) and one of the Outcomes (if any).
type ExportFilter struct {
	// States are contact states.
	States []ContactState
	// Outcomes are outcomes ("" = none yet): the contact's outcome in EachContact, the
	// attempt's in EachAttempt.
	Outcomes []string
}

// StructuredPath is where a value sits in a call's structured data: the keys of the nested
// objects from the top, e.g. ["customer", "email"].
type StructuredPath []string

// ResultsSnapshot is a consistent, read-only view of one campaign's results, for exports: every
// read sees the database as it was when the snapshot was taken, so a campaign that is still
// running exports coherently (the key set found by StructuredPaths matches the rows). Close it
// when done; it holds a connection and a transaction.
type ResultsSnapshot struct {
	pool       *pgxpool.Pool
	tx         pgx.Tx
	snapshotID string
	campaignID int64
	// minID and maxID bound the ids of the campaign's contacts (minID > maxID when it has
	// none), so that scans in contact order stay within the campaign.
	minID, maxID int64
}

// BeginResults takes a snapshot of a campaign's results. A campaign that does not exist is
// ErrNotFound.
func (s *Store) BeginResults(ctx context.Context, campaignID int64) (*ResultsSnapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin results snapshot: %w", err)
	}
	snap := &ResultsSnapshot{pool: s.pool, tx: tx, campaignID: campaignID}
	ok := false
	defer func() {
		if !ok {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	// Exports are a few big scans: JIT compilation would cost more than it saves.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("begin results snapshot: %w", err)
	}
	var exists bool
	err = tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM campaign WHERE id = $1), pg_export_snapshot(),
		       coalesce((SELECT min(id) FROM contact WHERE campaign_id = $1), 1),
		       coalesce((SELECT max(id) FROM contact WHERE campaign_id = $1), 0)`, campaignID).
		Scan(&exists, &snap.snapshotID, &snap.minID, &snap.maxID)
	if err != nil {
		return nil, fmt.Errorf("begin results snapshot: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	ok = true
	return snap, nil
}

// Close ends the snapshot.
func (r *ResultsSnapshot) Close(ctx context.Context) error {
	return r.tx.Rollback(context.WithoutCancel(ctx))
}

// StructuredPaths returns every leaf path of the structured data of the campaign's calls, in no
// particular order: the keys of nested objects are followed down to MaxStructuredDepth; a leaf is
// any other value (string, number, boolean, null, array) or an empty object (see
// StructuredShape). A path can be both a leaf and a prefix of others when calls disagree on its
// type. Structured data that is not a JSON object is ignored.
//
// It learns the shape from a few calls, then asks the database for calls that do not fit it
// (one scan with a few cheap jsonb operators per call, since all calls of an assistant share
// their keys), learns from those, and asks again until every call fits; if that takes more than
// a few rounds, it lists the keys of every call instead (a slower scan).
func (r *ResultsSnapshot) StructuredPaths(ctx context.Context) ([]StructuredPath, error) {
	shape := &StructuredShape{}
	for range maxShapeRounds {
		docs, err := r.unfitStructuredData(ctx, shape)
		if err != nil {
			return nil, err
		}
		if len(docs) == 0 {
			return shape.Leaves(), nil
		}
		for _, d := range docs {
			if err := shape.Add(d); err != nil {
				return nil, fmt.Errorf("structured-data keys: %w", err)
			}
		}
		if shape.leaves > MaxStructuredPaths {
			return nil, fmt.Errorf("structured-data keys: %w: more than %d", ErrTooManyStructuredPaths, MaxStructuredPaths)
		}
	}
	return r.structuredPathsByScan(ctx)
}

// maxShapeRounds bounds StructuredPaths' rounds of learning from calls that do not fit, and
// unfitBatch the calls fetched each round.
const (
	maxShapeRounds = 8
	unfitBatch     = 500
)

// unfitStructuredData returns up to unfitBatch structured-data objects of the campaign's calls
// that shape does not describe: a key it does not know, a leaf that is a non-empty object, an
// object that is a leaf.
func (r *ResultsSnapshot) unfitStructuredData(ctx context.Context, shape *StructuredShape) ([][]byte, error) {
	args := []any{r.campaignID, r.minID, r.maxID}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var conds []string
	var visit func(n *StructuredShape, expr string, depth int)
	visit = func(n *StructuredShape, expr string, depth int) {
		keys := n.keys()
		// A key it does not know.
		conds = append(conds, fmt.Sprintf(`(jsonb_typeof(%[1]s) = 'object' AND %[1]s - %[2]s::text[] <> '{}'::jsonb)`, expr, param(keys)))
		for _, k := range keys {
			c := n.children[k]
			if len(c.children) == 0 && depth+1 >= MaxStructuredDepth {
				continue // a leaf at the depth limit is a leaf whatever it holds
			}
			cexpr := fmt.Sprintf(`(%s -> %s::text)`, expr, param(k))
			switch {
			case len(c.children) == 0:
				conds = append(conds, fmt.Sprintf(`(jsonb_typeof(%[1]s) = 'object' AND %[1]s <> '{}'::jsonb)`, cexpr))
			default:
				if !c.leaf {
					conds = append(conds, fmt.Sprintf(`(jsonb_typeof(%[1]s) <> 'object' OR %[1]s = '{}'::jsonb)`, cexpr))
				}
				visit(c, cexpr, depth+1)
			}
		}
	}
	visit(shape, "a.structured_data", 0)
	rows, err := r.tx.Query(ctx, `
		SELECT a.structured_data::text FROM attempt a
		WHERE a.campaign_id = $1 AND a.contact_id BETWEEN $2 AND $3 AND jsonb_typeof(a.structured_data) = 'object'
		  AND (`+strings.Join(conds, "\n\t\t  OR ")+`)
		LIMIT `+strconv.Itoa(unfitBatch), args...)
	if err != nil {
		return nil, fmt.Errorf("structured-data keys: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("structured-data keys: %w", err)
	}
	return docs, nil
}

// structuredPathsByScan is StructuredPaths by listing the keys of every call's structured data,
// level by level.
func (r *ResultsSnapshot) structuredPathsByScan(ctx context.Context) ([]StructuredPath, error) {
	var (
		leaves []StructuredPath
		seen   = map[string]bool{}
	)
	addLeaf := func(p StructuredPath) {
		if k := strings.Join(p, "\x00"); !seen[k] {
			seen[k] = true
			leaves = append(leaves, p)
		}
	}
	prefixes := []StructuredPath{{}}
	for len(prefixes) > 0 {
		prefix := prefixes[0]
		prefixes = prefixes[1:]
		// One scan reads two levels under the prefix: structured data is usually flat or one level
		// deep, so one scan in all. Each row is a key k under the prefix with, if k holds an object
		// in some call, one of its keys k2; k2 NULL means k holds something else (a leaf) in some
		// call. For k2: does it hold a non-empty object (followed) and something else (a leaf)?
		doc := `a.structured_data`
		args := []any{r.campaignID, r.minID, r.maxID}
		if len(prefix) > 0 {
			doc = `(a.structured_data #> $4::text[])`
			args = append(args, []string(prefix))
		}
		rows, err := r.tx.Query(ctx, `
			SELECT k, k2, coalesce(bool_or(jsonb_typeof(v2) = 'object' AND v2 <> '{}'::jsonb), false),
			       coalesce(bool_or(jsonb_typeof(v2) <> 'object' OR v2 = '{}'::jsonb), false)
			FROM attempt a
			CROSS JOIN LATERAL jsonb_object_keys(`+doc+`) k
			CROSS JOIN LATERAL (SELECT `+doc+` -> k AS v) x
			LEFT JOIN LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(x.v) = 'object' THEN x.v END) k2 ON true
			LEFT JOIN LATERAL (SELECT x.v -> k2 AS v2) y ON true
			WHERE a.campaign_id = $1 AND a.contact_id BETWEEN $2 AND $3 AND jsonb_typeof(`+doc+`) = 'object'
			GROUP BY k, k2`, args...)
		if err != nil {
			return nil, fmt.Errorf("structured-data keys: %w", err)
		}
		var (
			key          string
			sub          pgtype.Text
			nested, leaf bool
		)
		_, err = pgx.ForEachRow(rows, []any{&key, &sub, &nested, &leaf}, func() error {
			path := append(slices.Clip(prefix), key)
			switch {
			case !sub.Valid, len(path) >= MaxStructuredDepth: // an object at the depth limit is a leaf
				addLeaf(path)
			default:
				path = append(path, sub.String)
				if nested && len(path) < MaxStructuredDepth {
					prefixes = append(prefixes, path)
				}
				if leaf || (nested && len(path) >= MaxStructuredDepth) {
					addLeaf(path)
				}
			}
			if len(leaves) > MaxStructuredPaths {
				return fmt.Errorf("%w: more than %d", ErrTooManyStructuredPaths, MaxStructuredPaths)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("structured-data keys: %w", err)
		}
	}
	return leaves, nil
}

// StructuredShape is the shape of a campaign's structured data: the tree of the keys its calls
// used. It defines how structured data becomes columns: the keys of a non-empty object are
// followed, down to MaxStructuredDepth; anything else is a leaf, exported whole (an array as
// its JSON, an empty object as {}, an object at the depth limit as its JSON). A key that is an
// object in one call and something else in another is both a leaf and a prefix of other paths.
// The zero value is the shape of no data.
type StructuredShape struct {
	leaf     bool // a leaf in some call
	children map[string]*StructuredShape
	leaves   int // leaf paths in the whole tree (kept at the root)
}

// Add learns the shape of one call's structured data; data that is not a JSON object is
// ignored, and invalid JSON is an error.
func (s *StructuredShape) Add(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("structured data: %w", err)
	}
	if obj, ok := v.(map[string]any); ok {
		s.add(s, obj, 0)
	}
	return nil
}

func (s *StructuredShape) add(root *StructuredShape, obj map[string]any, depth int) {
	for k, v := range obj {
		if s.children == nil {
			s.children = map[string]*StructuredShape{}
		}
		c := s.children[k]
		if c == nil {
			c = &StructuredShape{}
			s.children[k] = c
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 && depth+1 < MaxStructuredDepth {
			c.add(root, sub, depth+1)
			continue
		}
		if !c.leaf {
			c.leaf = true
			root.leaves++
		}
	}
}

// keys returns the node's keys, sorted.
func (s *StructuredShape) keys() []string {
	keys := make([]string, 0, len(s.children))
	for k := range s.children {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Leaves returns the leaf paths, key by key in sorted order.
func (s *StructuredShape) Leaves() []StructuredPath {
	var out []StructuredPath
	var walk func(n *StructuredShape, prefix StructuredPath)
	walk = func(n *StructuredShape, prefix StructuredPath) {
		for _, k := range n.keys() {
			c := n.children[k]
			p := append(slices.Clip(prefix), k)
			if c.leaf {
				out = append(out, p)
			}
			walk(c, p)
		}
	}
	walk(s, nil)
	return out
}

// ContactResult is one contact of a campaign with what its calls came to. Calls are the
// attempts that placed a call or may have (not the ones refused before dialing, nor those Vapi
// refused for lack of a concurrency slot): they give the times, totals and last-call fields.
type ContactResult struct {
	ID     int64
	Line   int
	Fields []string // the original row, in header order
	Phone  string   // E.164
	// TimeZone is the first of the contact's zones, whose calling hours all apply.
	TimeZone string
	State    ContactState
	Outcome  string
	// Attempts is the contact's counted attempts (what --max-attempts caps).
	Attempts int
	// Calls is the number of calls placed; FirstCallAt and LastCallAt are the first and last
	// call's start (or creation, for calls that never started); zero without calls.
	Calls                   int
	FirstCallAt, LastCallAt time.Time
	// DurationSeconds and CostUSD are the totals over the calls.
	DurationSeconds float64
	CostUSD         float64
	// The last call's fields.
	LastEndedReason   string
	SuccessEvaluation string
	Summary           string
	RecordingURL      string
	LastCallID        string
	// IneligibleReason is why the pre-dial hook made the contact ineligible ("" otherwise).
	IneligibleReason string
	// CallerNumberID and CallerNumber are the phone number id the last call came from and its
	// E.164 number ("" when unknown).
	CallerNumberID, CallerNumber string
	// Structured holds, for each path given to EachContact, the value at that path in the
	// structured data of the contact's latest call that has any, as JSON text; "" when absent,
	// and when the path is a prefix of another path given and the value is a non-empty object
	// (its leaves have values of their own).
	Structured []string
}

// attemptRow is one call of the attempts stream that EachContact merges with the contacts.
type attemptRow struct {
	contactID         int64
	at                pgtype.Timestamptz
	duration, cost    float64
	endedReason       string
	successEvaluation string
	summary           string
	recordingURL      string
	callID            string
	callerID, caller  string
	hasStructured     bool
	structured        []string
}

// contactFilterSQL is the SQL of f's conditions on contact c, each starting with AND, its
// arguments appended to args.
func contactFilterSQL(f ExportFilter, args *[]any) string {
	var sql strings.Builder
	if len(f.States) > 0 {
		*args = append(*args, f.States)
		fmt.Fprintf(&sql, ` AND c.state = ANY($%d::text[])`, len(*args))
	}
	if len(f.Outcomes) > 0 {
		*args = append(*args, f.Outcomes)
		fmt.Fprintf(&sql, ` AND c.outcome = ANY($%d::text[])`, len(*args))
	}
	return sql.String()
}

// callBatchSize is how many calls the calls stream hands over at a time.
const callBatchSize = 512

// callBatch is a batch of the calls stream; the rows' structured slices share values.
type callBatch struct {
	rows   []attemptRow
	values []string
}

func newCallBatch(paths int) *callBatch {
	return &callBatch{rows: make([]attemptRow, 0, callBatchSize), values: make([]string, callBatchSize*paths)}
}

// EachContact calls fn for every contact of the campaign that passes f, in file order, with its
// calls' results and, for each of paths, its structured value. The row passed to fn is reused:
// fn must not keep it (or its slices) after it returns.
//
// Two streams, each one index scan in contact order, run at once in the snapshot: the contacts on
// this snapshot's connection, their calls on a second connection; they are merged here. Memory
// stays flat in the campaign's size. (Aggregating the calls in SQL, with a window or a
// GROUP BY over the same index scan, costs Postgres about twice the CPU of the whole merge.)
func (r *ResultsSnapshot) EachContact(ctx context.Context, f ExportFilter, paths []StructuredPath, fn func(*ContactResult) error) error {
	if r.minID > r.maxID {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The calls, on a second connection that shares the snapshot.
	batches := make(chan *callBatch, 4)
	free := make(chan *callBatch, 6)
	streamErr := make(chan error, 1)
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	defer conn.Release()
	tx2, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	defer func() { _ = tx2.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx2.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+r.snapshotID+`'`); err != nil {
		return fmt.Errorf("export contacts: share snapshot: %w", err)
	}
	if _, err := tx2.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	go func() {
		defer close(batches)
		streamErr <- streamCalls(ctx, tx2, r, f, paths, batches, free)
	}()
	defer func() {
		cancel()
		for range batches { // let the stream end
		}
	}()

	args := []any{r.campaignID, r.minID, r.maxID}
	sql := `
		SELECT c.id, c.line, c.fields, c.phone, coalesce(c.time_zones[1], ''), c.state, c.outcome, c.attempts,
		       c.predial_reason
		FROM contact c
		WHERE c.campaign_id = $1 AND c.id BETWEEN $2 AND $3` + contactFilterSQL(f, &args) + `
		ORDER BY c.id`
	rows, err := r.tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	// Cancelled first, so that leaving early does not read the rest of the rows.
	defer func() {
		cancel()
		rows.Close()
	}()

	var (
		c     = ContactResult{Structured: make([]string, len(paths))}
		batch *callBatch
		next  int // index in batch.rows of the next call
		done  bool
	)
	dest := []any{&c.ID, &c.Line, &c.Fields, &c.Phone, &c.TimeZone, &c.State, &c.Outcome, &c.Attempts, &c.IneligibleReason}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("export contacts: %w", err)
		}
		c.Calls, c.FirstCallAt, c.LastCallAt, c.DurationSeconds, c.CostUSD = 0, time.Time{}, time.Time{}, 0, 0
		c.LastEndedReason, c.SuccessEvaluation, c.Summary, c.RecordingURL, c.LastCallID = "", "", "", "", ""
		c.CallerNumberID, c.CallerNumber = "", ""
		clear(c.Structured)
		for !done {
			if batch == nil || next == len(batch.rows) {
				if batch != nil {
					free <- batch
				}
				var ok bool
				if batch, ok = <-batches; !ok {
					done, batch = true, nil
					if err := <-streamErr; err != nil {
						return err
					}
					break
				}
				next = 0
			}
			a := &batch.rows[next]
			if a.contactID > c.ID {
				break
			}
			next++
			if a.contactID < c.ID {
				continue // a contact the filter left out
			}
			c.Calls++
			if a.at.Valid {
				if c.FirstCallAt.IsZero() || a.at.Time.Before(c.FirstCallAt) {
					c.FirstCallAt = a.at.Time
				}
				if a.at.Time.After(c.LastCallAt) {
					c.LastCallAt = a.at.Time
				}
			}
			c.DurationSeconds += a.duration
			c.CostUSD += a.cost
			c.LastEndedReason, c.SuccessEvaluation, c.Summary = a.endedReason, a.successEvaluation, a.summary
			c.RecordingURL, c.LastCallID = a.recordingURL, a.callID
			c.CallerNumberID, c.CallerNumber = a.callerID, a.caller
			if a.hasStructured {
				copy(c.Structured, a.structured)
			}
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export contacts: %w", err)
	}
	return nil
}

// streamCalls sends the campaign's calls, in contact order then attempt order, in batches,
// taking emptied batches back from free.
func streamCalls(ctx context.Context, tx pgx.Tx, r *ResultsSnapshot, f ExportFilter, paths []StructuredPath,
	out chan<- *callBatch, free <-chan *callBatch) error {
	var sql strings.Builder
	sql.WriteString(`
		SELECT a.contact_id, coalesce(a.started_at, a.call_created_at), coalesce(a.duration_seconds, 0),
		       coalesce(a.cost, 0)::float8, a.ended_reason, a.success_evaluation, a.summary, a.recording_url,
		       coalesce(a.vapi_call_id, ''), a.phone_number_id,
		       coalesce((SELECT number FROM caller_number WHERE id = a.phone_number_id), ''),
		       a.structured_data IS NOT NULL`)
	args := []any{r.campaignID, r.minID, r.maxID}
	for _, p := range paths {
		args = append(args, []string(p))
		if !isPrefix(p, paths) {
			fmt.Fprintf(&sql, `, coalesce((a.structured_data #> $%d::text[])::text, '')`, len(args))
			continue
		}
		// A key that holds an object in other calls: its leaves have columns of their own.
		fmt.Fprintf(&sql, `, coalesce(CASE WHEN jsonb_typeof(a.structured_data #> $%[1]d::text[]) = 'object'
			AND a.structured_data #> $%[1]d::text[] <> '{}'::jsonb THEN NULL
			ELSE (a.structured_data #> $%[1]d::text[])::text END, '')`, len(args))
	}
	args = callsArgs(args...)
	sql.WriteString(`
		FROM attempt a
		WHERE a.campaign_id = $1 AND a.contact_id BETWEEN $2 AND $3
		  AND ` + callsSQL(len(args)-1))
	if len(f.States) > 0 || len(f.Outcomes) > 0 {
		// Only the calls of the contacts exported.
		sql.WriteString(`
		  AND a.contact_id IN (SELECT c.id FROM contact c WHERE c.campaign_id = $1 AND c.id BETWEEN $2 AND $3` +
			contactFilterSQL(f, &args) + `)`)
	}
	sql.WriteString(`
		ORDER BY a.contact_id, a.number`)
	rows, err := tx.Query(ctx, sql.String(), args...)
	if err != nil {
		return fmt.Errorf("export calls: %w", err)
	}
	defer rows.Close()
	var (
		a      attemptRow
		values = make([]string, len(paths))
		dest   = make([]any, 0, 12+len(paths))
	)
	dest = append(dest, &a.contactID, &a.at, &a.duration, &a.cost, &a.endedReason, &a.successEvaluation, &a.summary,
		&a.recordingURL, &a.callID, &a.callerID, &a.caller, &a.hasStructured)
	for i := range values {
		dest = append(dest, &values[i])
	}
	n := len(paths)
	b := newCallBatch(n)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("export calls: %w", err)
		}
		i := len(b.rows)
		a.structured = b.values[i*n : (i+1)*n : (i+1)*n]
		if a.hasStructured {
			copy(a.structured, values)
		}
		b.rows = append(b.rows, a)
		if len(b.rows) < callBatchSize {
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case b = <-free:
			b.rows = b.rows[:0]
		default:
			b = newCallBatch(n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export calls: %w", err)
	}
	if len(b.rows) > 0 {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// isPrefix reports whether p is a proper prefix of one of paths.
func isPrefix(p StructuredPath, paths []StructuredPath) bool {
	for _, q := range paths {
		if len(q) > len(p) && slices.Equal(q[:len(p)], p) {
			return true
		}
	}
	return false
}

// AttemptResult is one attempt of a campaign with its contact's keys.
type AttemptResult struct {
	// The contact's.
	ContactLine       int
	ContactPhone      string // E.164
	ContactExternalID string
	ContactState      ContactState
	TimeZone          string // the contact's first zone

	Number     int
	Key        string
	State      AttemptState
	VapiCallID string
	// CreatedAt is when the attempt was journaled, before POST /call.
	CreatedAt time.Time
	// StartedAt and EndedAt are nil until the call started or ended.
	StartedAt, EndedAt *time.Time
	EndedReason        string
	Outcome            string
	// The numbers below are nil when Vapi reported none.
	DurationSeconds *float64
	CostUSD         *float64
	// Cost breakdown (Vapi's costBreakdown): USD by component, then token and character counts.
	// AnalysisUSD sums the analysis costs (summary, structured data, success evaluation,
	// structured output).
	TransportUSD, STTUSD, LLMUSD, TTSUSD, VapiUSD, AnalysisUSD                *float64
	LLMPromptTokens, LLMCompletionTokens, TTSCharacters                       *float64
	SuccessEvaluation, Summary, RecordingURL, StructuredData, Error, Decision string
	// CallerNumberID and CallerNumber are the phone number id the call came from and its E.164
	// number ("" when unknown).
	CallerNumberID, CallerNumber string
}

// breakdownNumber is the SQL of a number at a path of the cost breakdown; NULL when absent or
// not a number.
func breakdownNumber(path ...string) string {
	value := "a.cost_breakdown"
	for _, k := range path {
		value += "->'" + k + "'"
	}
	return fmt.Sprintf(`CASE WHEN jsonb_typeof(%[1]s) = 'number' THEN (%[1]s)::float8 END`, value)
}

// EachAttempt calls fn for every attempt of the campaign that passes f (contact state, attempt
// outcome), in contact file order then attempt number: every journaled attempt, including those
// that placed no call. The row passed to fn is reused: fn must not keep a pointer to it (a copy
// is safe: every row gets pointers of its own).
func (r *ResultsSnapshot) EachAttempt(ctx context.Context, f ExportFilter, fn func(*AttemptResult) error) error {
	if r.minID > r.maxID {
		return nil
	}
	var sql strings.Builder
	sql.WriteString(`
		SELECT ct.line, ct.phone, ct.external_id, ct.state, coalesce(ct.time_zones[1], ''),
		       a.number, a.key, a.state, coalesce(a.vapi_call_id, ''), a.created_at, a.started_at, a.ended_at,
		       a.ended_reason, a.outcome, a.duration_seconds, a.cost::float8, `)
	for _, k := range []string{"transport", "stt", "llm", "tts", "vapi"} {
		sql.WriteString(breakdownNumber(k) + ", ")
	}
	// The analysis steps' costs; their token counts (summaryPromptTokens, …) aside.
	analysis := make([]string, 0, 4)
	for _, k := range []string{"summary", "structuredData", "successEvaluation", "structuredOutput"} {
		analysis = append(analysis, "coalesce("+breakdownNumber("analysisCostBreakdown", k)+", 0)")
	}
	sql.WriteString(`CASE WHEN jsonb_typeof(a.cost_breakdown->'analysisCostBreakdown') = 'object' THEN ` +
		strings.Join(analysis, " + ") + ` END, `)
	for _, k := range []string{"llmPromptTokens", "llmCompletionTokens", "ttsCharacters"} {
		sql.WriteString(breakdownNumber(k) + ", ")
	}
	sql.WriteString(`a.success_evaluation, a.summary, a.recording_url, coalesce(a.structured_data::text, ''),
		       a.error, a.decision, a.phone_number_id,
		       coalesce((SELECT number FROM caller_number WHERE id = a.phone_number_id), '')
		FROM attempt a JOIN contact ct ON ct.id = a.contact_id
		WHERE a.campaign_id = $1 AND a.contact_id BETWEEN $2 AND $3`)
	args := []any{r.campaignID, r.minID, r.maxID}
	if len(f.States) > 0 {
		args = append(args, f.States)
		fmt.Fprintf(&sql, ` AND ct.state = ANY($%d::text[])`, len(args))
	}
	if len(f.Outcomes) > 0 {
		args = append(args, f.Outcomes)
		fmt.Fprintf(&sql, ` AND a.outcome = ANY($%d::text[])`, len(args))
	}
	sql.WriteString(` ORDER BY a.contact_id, a.number`)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := r.tx.Query(ctx, sql.String(), args...)
	if err != nil {
		return fmt.Errorf("export attempts: %w", err)
	}
	// Cancelled first, so that leaving early does not read the rest of the rows.
	defer func() {
		cancel()
		rows.Close()
	}()
	var a AttemptResult
	dest := []any{&a.ContactLine, &a.ContactPhone, &a.ContactExternalID, &a.ContactState, &a.TimeZone,
		&a.Number, &a.Key, &a.State, &a.VapiCallID, &a.CreatedAt, &a.StartedAt, &a.EndedAt,
		&a.EndedReason, &a.Outcome, &a.DurationSeconds, &a.CostUSD,
		&a.TransportUSD, &a.STTUSD, &a.LLMUSD, &a.TTSUSD, &a.VapiUSD, &a.AnalysisUSD,
		&a.LLMPromptTokens, &a.LLMCompletionTokens, &a.TTSCharacters,
		&a.SuccessEvaluation, &a.Summary, &a.RecordingURL, &a.StructuredData, &a.Error, &a.Decision,
		&a.CallerNumberID, &a.CallerNumber}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("export attempts: %w", err)
		}
		if err := fn(&a); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export attempts: %w", err)
	}
	return nil
}

// String writes the path with dots, quoting keys that hold a dot or a space or are empty, for
// messages: customer.email.
func (p StructuredPath) String() string {
	parts := make([]string, len(p))
	for i, k := range p {
		if strings.ContainsAny(k, ". ") || k == "" {
			k = strconv.Quote(k)
		}
		parts[i] = k
	}
	return strings.Join(parts, ".")
}
