package campaign_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// importLines is a CSV of n data lines (lines 2 to n+1 of the file) of phone and name columns;
// number gives each data line's phone cell.
func importLines(n int, number func(line int) string) string {
	var b strings.Builder
	b.WriteString("phone,name\n")
	for line := 2; line <= n+1; line++ {
		fmt.Fprintf(&b, "%s,Customer %d\n", number(line), line)
	}
	return b.String()
}

// TestImportKeepsFileOrderAcrossBatches imports a file of several of the loader's batches whose
// duplicates, suppressed numbers and bad numbers fall in different batches from the lines they
// repeat: every contact is stored in line order (id order is line order), and the rejects come
// out in line order with the reason and the line each duplicate repeats.
func TestImportKeepsFileOrderAcrossBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	store := campaign.NewStore(pool)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

	const lines = 20_000
	distinct := func(line int) string { return fmt.Sprintf("+1415555%04d", line%10_000) }
	number := func(line int) string {
		switch {
		case line%1000 == 7:
			return "not a number"
		case line%997 == 0:
			return distinct(line / 3) // an earlier line's number, usually batches back
		}
		return distinct(line)
	}
	storedSuppressed, fileSuppressed := distinct(4321), distinct(8765)
	_, err := store.AddSuppressions(ctx, []campaign.Suppression{{Phone: storedSuppressed, Reason: "manual", Source: "cli"}}, now)
	require.NoError(t, err)

	// What the import must decide, worked out line by line.
	var (
		wantAccepted []int
		wantRejects  [][3]string // line, reason, detail
	)
	firstLine := map[string]int{}
	for line := 2; line <= lines+1; line++ {
		p := number(line)
		switch {
		case p == "not a number":
			wantRejects = append(wantRejects, [3]string{strconv.Itoa(line), string(campaign.RejectInvalidPhone), ""})
		case p == storedSuppressed || p == fileSuppressed:
			wantRejects = append(wantRejects, [3]string{strconv.Itoa(line), string(campaign.RejectSuppressed),
				"the number is on the suppression (do-not-call) list"})
		case firstLine[p] != 0:
			wantRejects = append(wantRejects, [3]string{strconv.Itoa(line), string(campaign.RejectDuplicatePhone),
				fmt.Sprintf("same number as line %d", firstLine[p])})
		default:
			firstLine[p] = line
			wantAccepted = append(wantAccepted, line)
		}
	}

	f, rejects := fileImport(t, "/in/ordered.csv", importLines(lines, number), now)
	f.Suppress = []string{fileSuppressed}
	c, err := store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, lines, c.ImportStats.RowsRead)
	require.Equal(t, len(wantAccepted), c.ImportStats.Accepted)

	var gotAccepted []int
	rows, err := pool.Query(ctx, `SELECT line FROM contact WHERE campaign_id = $1 ORDER BY id`, c.ID)
	require.NoError(t, err)
	for rows.Next() {
		var line int
		require.NoError(t, rows.Scan(&line))
		gotAccepted = append(gotAccepted, line)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, wantAccepted, gotAccepted, "contacts in id order are the accepted lines in file order")

	records, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"phone", "name", "line", "reason", "detail"}, records[0])
	require.Len(t, records[1:], len(wantRejects))
	counts := map[campaign.RejectReason]int{}
	for i, rec := range records[1:] {
		want := wantRejects[i]
		require.Equal(t, want[0], rec[2], "reject %d in line order", i)
		require.Equal(t, want[1], rec[3], "line %s", rec[2])
		if want[2] != "" {
			require.Equal(t, want[2], rec[4], "line %s", rec[2])
		}
		counts[campaign.RejectReason(rec[3])]++
	}
	require.Equal(t, counts, c.ImportStats.Rejected)
	require.Positive(t, counts[campaign.RejectDuplicatePhone])
	require.Positive(t, counts[campaign.RejectSuppressed])
}

// failingReader reads r, then fails with err once after bytes have been read.
type failingReader struct {
	r     io.Reader
	bytes int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.bytes <= 0 {
		return 0, f.err
	}
	if len(p) > f.bytes {
		p = p[:f.bytes]
	}
	n, err := f.r.Read(p)
	f.bytes -= n
	return n, err
}

// failingWriter accepts bytes bytes, then fails every write with err.
type failingWriter struct {
	bytes int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.bytes < len(p) {
		return 0, f.err
	}
	f.bytes -= len(p)
	return len(p), nil
}

// TestImportFailsMidFileLeavingNothing fails an import well into its file, at each of its stages
// (reading the file, writing a reject, Postgres refusing a row of the COPY): the import returns
// that cause, and neither the campaign nor any of its contacts is left.
func TestImportFailsMidFileLeavingNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const lines = 30_000
	// Every 100th line is a bad number, so rejects are written all along the file.
	body := importLines(lines, func(line int) string {
		if line%100 == 0 {
			return "bad"
		}
		return fmt.Sprintf("+1415%07d", 5_550_000+line)
	})
	readErr, writeErr := errors.New("disk went away"), errors.New("rejects disk full")

	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, pool *pgxpool.Pool, f *campaign.FileImport)
		want  string
	}{
		{"the file fails", func(t *testing.T, _ *pgxpool.Pool, f *campaign.FileImport) {
			r, err := campaign.NewReader(&failingReader{r: strings.NewReader(body), bytes: len(body) / 2, err: readErr},
				campaign.ReaderOptions{DefaultRegion: "US", DefaultTimeZone: "UTC"})
			require.NoError(t, err)
			f.Reader = r
		}, readErr.Error()},
		{"the rejects file fails", func(t *testing.T, _ *pgxpool.Pool, f *campaign.FileImport) {
			f.Rejects = &failingWriter{bytes: 8 << 10, err: writeErr} // the CSV writer's buffer is 4 KB
		}, writeErr.Error()},
		{"Postgres refuses a row", func(t *testing.T, pool *pgxpool.Pool, _ *campaign.FileImport) {
			_, err := pool.Exec(ctx, `
				CREATE FUNCTION refuse_line() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF NEW.line = 25001 THEN RAISE EXCEPTION 'refused line %', NEW.line; END IF;
					RETURN NEW;
				END $$;
				CREATE TRIGGER refuse_line BEFORE INSERT ON contact FOR EACH ROW EXECUTE FUNCTION refuse_line()`)
			require.NoError(t, err)
		}, "refused line 25001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := testdb.Pool(t)
			store := campaign.NewStore(pool)
			f, _ := fileImport(t, "/in/failing.csv", body, now)
			f.Name = "failing"
			tt.setup(t, pool, &f)
			_, err := store.ImportFile(ctx, f)
			require.ErrorContains(t, err, tt.want)

			var campaigns, contacts int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaign`).Scan(&campaigns))
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact`).Scan(&contacts))
			require.Zero(t, campaigns, "no campaign left")
			require.Zero(t, contacts, "no contact left")

			// The same file imports whole once the cause is gone.
			f, _ = fileImport(t, "/in/failing.csv", body, now)
			f.Name = "failing"
			_, err = pool.Exec(ctx, `DROP TRIGGER IF EXISTS refuse_line ON contact`)
			require.NoError(t, err)
			c, err := store.ImportFile(ctx, f)
			require.NoError(t, err)
			require.Equal(t, lines-lines/100, c.ImportStats.Accepted)
		})
	}
}

// TestImportsAtOnceBoundedByPool runs imports on a Store whose pool has 8 connections, so 2
// imports at once: while two read files that stay open, a third fails at once with
// ErrImportsBusy and writes nothing; once one of the two has finished, the third goes through,
// and the one still open finishes whole.
func TestImportsAtOnceBoundedByPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testdb.Pool(t).Config()
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := campaign.NewStore(pool)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

	const heldRows = 5_000
	open := make([]*io.PipeWriter, 2)
	results := make(chan error, len(open))
	for i := range open {
		pr, pw := io.Pipe()
		open[i] = pw
		t.Cleanup(func() { _ = pw.Close() })
		go func() {
			r, err := campaign.NewReader(pr, campaign.ReaderOptions{DefaultRegion: "US", DefaultTimeZone: "UTC"})
			if err != nil {
				results <- err
				return
			}
			f, _ := fileImport(t, "/in/held.csv", "phone\n", now)
			f.Reader, f.Name = r, fmt.Sprintf("held-%d", i)
			_, err = store.ImportFile(ctx, f)
			results <- err
		}()
		// More than the reader's 64 KB of header sniffing: when the write returns (a pipe's write
		// waits for its reader), the import has read rows, so it holds its slot.
		_, err := io.WriteString(pw, importLines(heldRows, func(line int) string { return fmt.Sprintf("+141555%d%04d", 5+i, line) }))
		require.NoError(t, err)
	}

	third := func() (*campaign.Campaign, error) {
		f, _ := fileImport(t, "/in/third.csv", "phone\n+14155550100\n", now)
		f.Name = "third"
		return store.ImportFile(ctx, f)
	}
	_, err = third()
	require.ErrorIs(t, err, campaign.ErrImportsBusy)
	require.ErrorContains(t, err, "2 at once on a pool of 8 connections")
	var campaigns int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaign`).Scan(&campaigns))
	require.Zero(t, campaigns, "the refused import wrote nothing (the open ones are not committed yet)")

	require.NoError(t, open[0].Close())
	require.NoError(t, <-results)
	c, err := third()
	require.NoError(t, err, "a slot is free again")
	require.Equal(t, 1, c.ImportStats.Accepted)

	require.NoError(t, open[1].Close())
	require.NoError(t, <-results)
	var contacts int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact`).Scan(&contacts))
	require.Equal(t, 2*heldRows+1, contacts)
}
