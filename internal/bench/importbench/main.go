//go:build unix

// Command importbench measures how fast `campaign run --dry-run` imports a large CSV of customers
// into Postgres, and compares it with two floors measured in the same run: a bare psql \copy of the
// same file into a table of text columns, and River's InsertManyFast of as many id-only jobs.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-import                                              # 1,000,000 rows
//	go run ./internal/bench/importbench -bin bin/campaign -rows 20000   # quick smoke run
//
// after `make build`. It:
//
//  1. generates a deterministic CSV of -rows rows and 10 columns (phone, name, first_name,
//     last_name, email, amount_due, due_date, customer_id, city, timezone) in the work directory
//     (-dir, default .bench/ in the repository root), or reuses the one already there when its row
//     count, seed and generator version match. Phones are distinct US numbers that libphonenumber
//     accepts, written in several common formats; about 1% of rows have a missing or garbage phone
//     and 0.5% repeat an earlier phone, so the import's reject path runs too. About 10% of rows
//     name a time zone;
//  2. creates a scratch database on the server (dropped at the end, so every run starts from the
//     same state and the user's campaigns are never touched), runs
//     `BIN run FILE --dry-run --preview 0 --format json` into it and records the wall time,
//     the peak RSS and the CPU time of that process, and the rows it accepted and rejected (wall
//     time well above CPU time is time spent waiting, mostly on Postgres);
//  3. loads the same file with psql's \copy into a TEMP table of 10 text columns, in the same
//     database, and times the psql process;
//  4. inserts -rows id-only River jobs (arguments {"id": N}) with InsertManyFastTx, in batches of
//     10,000 in one transaction, as the import inserts its rows, into the same database's
//     river_job table (which the CLI's migration created), and times it;
//  5. prints a short report to stdout and writes the same figures as one JSON line to
//     DIR/import-bench.json.
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// psql (the PostgreSQL client) must be installed. Progress goes to stderr, the report to stdout.
//
// The target, judged on 1,000,000 rows only, is a campaign import of at most 5 s with a peak RSS
// under 100 MB (issue 15). Missing it is reported, not an error: the exit status is non-zero only when a
// step fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nyaruka/phonenumbers"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// generatorVersion changes whenever the generated file would change for the same rows and seed,
// so that a file left by an older version is regenerated rather than reused.
const generatorVersion = 1

// The target of the benchmark, judged at targetRows rows.
const (
	targetRows     = 1_000_000
	targetDuration = 5 * time.Second
	targetRSSBytes = 100_000_000 // 100 MB
)

// columns is the header of the generated file, in order.
var columns = []string{
	"phone", "name", "first_name", "last_name", "email",
	"amount_due", "due_date", "customer_id", "city", "timezone",
}

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "importbench"

func main() { prog.Main(run) }

func run(ctx context.Context) error {
	var common benchkit.CommonFlags
	common.Define("the campaign binary to benchmark", "work directory for the CSV, the rejects and the results")
	rows := flag.Int("rows", targetRows, "data rows in the generated CSV")
	seed := flag.Uint64("seed", 1, "seed of the generated data")
	profile := flag.Bool("profile-postgres", false,
		"afterwards, time the imported contacts into copies of the contact table, one index or constraint at a time")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	if *rows < 1 {
		return fmt.Errorf("-rows must be at least 1, got %d", *rows)
	}

	// Check the tools before spending minutes on anything.
	ws, err := common.Workspace(benchkit.ToolCampaign, benchkit.ToolPsql)
	if err != nil {
		return err
	}

	data, err := ensureData(ws.Dir, *rows, *seed)
	if err != nil {
		return err
	}

	// The server the CLI uses is resolved first, so that starting the managed Postgres is never
	// timed. Each run imports into a scratch database of its own on that server, dropped at the end:
	// repeated runs then measure the same thing (no bloat from earlier runs' deleted rows) and
	// never touch the campaigns in the user's database.
	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, ws.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()
	name := fmt.Sprintf("importbench-%d", time.Now().Unix())

	imp, err := runImport(ctx, ws.Bin, scratchURL, data.Path, name, filepath.Join(ws.Dir, "import.rejects.csv"))
	if err != nil {
		return err
	}
	checkImport(imp, data)

	cp, err := runCopy(ctx, ws.Psql, scratchURL, data.Path, *rows)
	if err != nil {
		return err
	}
	rv, err := runRiverInsert(ctx, scratchURL, *rows)
	if err != nil {
		return err
	}

	res := newResult(data, dbLabel, imp, cp, rv)
	if *profile {
		if res.PostgresProfile, err = profilePostgres(ctx, scratchURL, name); err != nil {
			return err
		}
	}
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "import-bench.json"), res)
}

// ---------------------------------------------------------------------------------------------
// Step 1: the data.

// dataset describes a generated CSV file; it is also the sidecar file that decides reuse.
type dataset struct {
	Path             string         `json:"-"`
	Reused           bool           `json:"-"`
	GeneratorVersion int            `json:"generator_version"`
	Rows             int            `json:"rows"`
	Seed             uint64         `json:"seed"`
	Bytes            int64          `json:"bytes"`
	ExpectedRejected map[string]int `json:"expected_rejected"` // by the CLI's reject reason
}

// expectedRejectedTotal is the number of rows the import should reject.
func (d *dataset) expectedRejectedTotal() int {
	n := 0
	for _, c := range d.ExpectedRejected {
		n += c
	}
	return n
}

// ensureData returns the CSV of rows rows for seed in dir, generating it unless a file made by
// this generator version with the same rows and seed is already there.
func ensureData(dir string, rows int, seed uint64) (*dataset, error) {
	path := filepath.Join(dir, fmt.Sprintf("customers-%d.csv", rows))
	metaPath := path + ".meta.json"
	if d, ok := reusable(path, metaPath, rows, seed); ok {
		prog.Progress("reusing %s (%s rows, %.1f MB)", path, benchkit.Thousands(int64(rows)), float64(d.Bytes)/1e6)
		return d, nil
	}

	prog.Progress("generating %s (%s rows)…", path, benchkit.Thousands(int64(rows)))
	start := time.Now()
	_ = os.Remove(metaPath) // a file without its sidecar is never reused
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("create data file: %w", err)
	}
	d, err := generate(f, rows, seed)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	d.Path = path
	meta, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(metaPath, append(meta, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", metaPath, err)
	}
	prog.Progress("generated %.1f MB in %.1f s", float64(d.Bytes)/1e6, time.Since(start).Seconds())
	return d, nil
}

// reusable reads the sidecar of an earlier generation and says whether its file can be reused.
func reusable(path, metaPath string, rows int, seed uint64) (*dataset, bool) {
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, false
	}
	var d dataset
	if json.Unmarshal(raw, &d) != nil || d.GeneratorVersion != generatorVersion || d.Rows != rows || d.Seed != seed {
		return nil, false
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != d.Bytes {
		return nil, false
	}
	d.Path, d.Reused = path, true
	return &d, true
}

// areaCode is a real US area code, with the city and time zone it serves.
type areaCode struct {
	code, city, zone string
}

var areaCodes = []areaCode{
	{"201", "Jersey City", "America/New_York"},
	{"212", "New York", "America/New_York"},
	{"213", "Los Angeles", "America/Los_Angeles"},
	{"305", "Miami", "America/New_York"},
	{"312", "Chicago", "America/Chicago"},
	{"404", "Atlanta", "America/New_York"},
	{"415", "San Francisco", "America/Los_Angeles"},
	{"503", "Portland", "America/Los_Angeles"},
	{"512", "Austin", "America/Chicago"},
	{"602", "Phoenix", "America/Phoenix"},
	{"617", "Boston", "America/New_York"},
	{"646", "New York", "America/New_York"},
	{"702", "Las Vegas", "America/Los_Angeles"},
	{"713", "Houston", "America/Chicago"},
	{"718", "Brooklyn", "America/New_York"},
	{"801", "Salt Lake City", "America/Denver"},
	{"818", "Burbank", "America/Los_Angeles"},
	{"917", "New York", "America/New_York"},
}

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
	"Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
	"Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
	"Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
	"Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
	"Melissa", "George", "Deborah", "Maria", "Luis", "Wei", "Aisha", "Priya", "Omar",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
	"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
	"Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
	"Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
	"Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
	"Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Chen", "Patel", "Kim", "O'Brien",
}

// prefix is the first six digits of a US number: an area code (index into areaCodes) and an
// exchange.
type prefix struct {
	area     int
	exchange int
}

// validPrefixes lists every (area code, exchange) pair whose numbers libphonenumber accepts:
// exchanges 200-999 except the N11 service codes and 555. US number validity depends on the first
// six digits only, so both ends of the line range are checked.
func validPrefixes() ([]prefix, error) {
	var out []prefix
	for ai, ac := range areaCodes {
		for ex := 200; ex <= 999; ex++ {
			if ex%100 == 11 || ex == 555 {
				continue
			}
			ok := true
			for _, line := range []string{"0000", "9999"} {
				n, err := phonenumbers.Parse("+1"+ac.code+strconv.Itoa(ex)+line, "US")
				if err != nil || !phonenumbers.IsValidNumber(n) {
					ok = false
					break
				}
			}
			if ok {
				out = append(out, prefix{ai, ex})
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("libphonenumber accepts none of the area codes' numbers")
	}
	return out, nil
}

// Row kinds, per thousand rows: missing phone, garbage phone, duplicate of an earlier phone.
const (
	perMilleMissing   = 5
	perMilleGarbage   = 5
	perMilleDuplicate = 5
	perMilleTimeZone  = 100
)

// generate writes the CSV to w. Everything comes from seed: the same rows and seed give the same
// bytes. Distinct phones are the phone space (prefixes x 10,000 lines) walked with a stride
// coprime to its size, so they never repeat and spread over all area codes and exchanges.
func generate(w io.Writer, rows int, seed uint64) (*dataset, error) {
	prefixes, err := validPrefixes()
	if err != nil {
		return nil, err
	}
	space := uint64(len(prefixes)) * 10_000
	if uint64(rows) > space {
		return nil, fmt.Errorf("-rows %d is more than the %d distinct numbers the generator has", rows, space)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	stride := uint64(float64(space) * 0.6180339887) // golden ratio: neighbours land far apart
	for gcd(stride, space) != 1 {
		stride++
	}
	offset := rng.Uint64N(space)

	lowerFirst := lowerAll(firstNames)
	lowerLast := lowerAll(lastNames)

	d := &dataset{
		GeneratorVersion: generatorVersion,
		Rows:             rows,
		Seed:             seed,
		ExpectedRejected: map[string]int{},
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countingWriter{w: bw}
	if _, err := io.WriteString(cw, strings.Join(columns, ",")+"\n"); err != nil {
		return nil, err
	}

	var (
		issued  []uint32 // phone-space indexes issued so far, for duplicates
		next    uint64   // distinct phones issued
		buf     = make([]byte, 0, 256)
		digits  [10]byte // the national number of the current row
		hasZone bool
	)
	issued = make([]uint32, 0, rows)
	for i := 0; i < rows; i++ {
		buf = buf[:0]
		kind := rng.IntN(1000)
		area := -1 // no phone: pick the city at random
		switch {
		case kind < perMilleMissing:
			d.ExpectedRejected["missing_phone"]++
		case kind < perMilleMissing+perMilleGarbage:
			buf = append(buf, "not-a-number"...)
			d.ExpectedRejected["invalid_phone"]++
		default:
			var idx uint64
			if kind < perMilleMissing+perMilleGarbage+perMilleDuplicate && len(issued) > 0 {
				idx = uint64(issued[rng.IntN(len(issued))])
				d.ExpectedRejected["duplicate_phone"]++
			} else {
				idx = (next*stride + offset) % space
				next++
				issued = append(issued, uint32(idx))
			}
			p := prefixes[idx/10_000]
			area = p.area
			copy(digits[:3], areaCodes[p.area].code)
			putDigits(digits[3:6], p.exchange)
			putDigits(digits[6:], int(idx%10_000))
			buf = appendPhone(buf, &digits, rng.IntN(5))
		}
		if area < 0 {
			area = rng.IntN(len(areaCodes))
		}
		fi, li := rng.IntN(len(firstNames)), rng.IntN(len(lastNames))
		cents := 500 + rng.IntN(499_500)
		month, day := 1+rng.IntN(12), 1+rng.IntN(28)
		hasZone = rng.IntN(1000) < perMilleTimeZone

		buf = append(buf, ',')
		buf = appendField(buf, firstNames[fi]+" "+lastNames[li])
		buf = append(buf, ',')
		buf = appendField(buf, firstNames[fi])
		buf = append(buf, ',')
		buf = appendField(buf, lastNames[li])
		buf = append(buf, ',')
		buf = append(buf, lowerFirst[fi]...)
		buf = append(buf, '.')
		buf = append(buf, lowerLast[li]...)
		buf = strconv.AppendInt(buf, int64(i+1), 10)
		buf = append(buf, "@example.com,"...)
		buf = strconv.AppendInt(buf, int64(cents/100), 10)
		buf = append(buf, '.', byte('0'+cents%100/10), byte('0'+cents%10), ',')
		buf = append(buf, "2026-"...)
		buf = append(buf, byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), ',')
		buf = append(buf, 'C')
		buf = appendPadded(buf, i+1, 8)
		buf = append(buf, ',')
		buf = append(buf, areaCodes[area].city...)
		buf = append(buf, ',')
		if hasZone {
			buf = append(buf, areaCodes[area].zone...)
		}
		buf = append(buf, '\n')
		if _, err := cw.Write(buf); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	d.Bytes = cw.n
	return d, nil
}

// appendPhone appends the 10-digit national number in one of five common ways of writing it.
func appendPhone(buf []byte, n *[10]byte, style int) []byte {
	switch style {
	case 0: // (212) 345-6789
		buf = append(buf, '(')
		buf = append(buf, n[0:3]...)
		buf = append(buf, ") "...)
		buf = append(buf, n[3:6]...)
		buf = append(buf, '-')
		return append(buf, n[6:]...)
	case 1: // 212-345-6789
		buf = append(buf, n[0:3]...)
		buf = append(buf, '-')
		buf = append(buf, n[3:6]...)
		buf = append(buf, '-')
		return append(buf, n[6:]...)
	case 2: // +1 212 345 6789
		buf = append(buf, "+1 "...)
		buf = append(buf, n[0:3]...)
		buf = append(buf, ' ')
		buf = append(buf, n[3:6]...)
		buf = append(buf, ' ')
		return append(buf, n[6:]...)
	case 3: // 2123456789
		return append(buf, n[:]...)
	default: // +12123456789
		buf = append(buf, "+1"...)
		return append(buf, n[:]...)
	}
}

// appendField appends s as a CSV field, quoted when it needs to be.
func appendField(buf []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	buf = append(buf, strings.ReplaceAll(s, `"`, `""`)...)
	return append(buf, '"')
}

// putDigits writes v into dst as len(dst) decimal digits, zero-padded.
func putDigits(dst []byte, v int) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// appendPadded appends v in decimal with at least width digits.
func appendPadded(buf []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// lowerAll returns the names in lower case with anything but letters removed, for e-mail
// addresses.
func lowerAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r
			}
			if r >= 'A' && r <= 'Z' {
				return r + ('a' - 'A')
			}
			return -1
		}, n)
	}
	return out
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ---------------------------------------------------------------------------------------------
// Step 2: the campaign import.

// importResult is what one `campaign run --dry-run` did and cost.
type importResult struct {
	Wall         time.Duration
	CPU          time.Duration // user + system time of the CLI process itself (not the database's)
	PeakRSSBytes int64

	// From the CLI's JSON report.
	RowsRead         int            `json:"rows_read"`
	Accepted         int            `json:"accepted"`
	Rejected         int            `json:"rejected"`
	RejectedByReason map[string]int `json:"rejected_by_reason"`
}

// runImport runs the CLI's dry-run import of file as campaign name into the database at dbURL,
// timing it. The time includes migrating the fresh scratch database (well under a second).
func runImport(ctx context.Context, bin, dbURL, file, name, rejects string) (*importResult, error) {
	prog.Progress("running %s run %s --dry-run …", bin, file)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "run", file,
		"--dry-run", "--preview", "0", "--format", "json",
		"--name", name, "--rejects", rejects)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL) // not a flag: a password would show in ps
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("`campaign run --dry-run` failed after %.1f s: %w (its messages are above)", wall.Seconds(), err)
	}
	res := &importResult{
		Wall:         wall,
		CPU:          cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		PeakRSSBytes: peakRSS(cmd.ProcessState),
	}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		return nil, fmt.Errorf("`campaign run --format json` printed something that is not its JSON report: %w", err)
	}
	return res, nil
}

// peakRSS is the peak resident set size of a finished process, in bytes (0 if unknown).
func peakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes on macOS
	}
	return int64(ru.Maxrss) * 1024 // KiB on Linux and the BSDs
}

// checkImport warns when the import did not see the file as generated: the figures would then
// not measure what they claim to.
func checkImport(imp *importResult, d *dataset) {
	if imp.RowsRead != d.Rows {
		prog.Progress("warning: the CLI read %d rows, the file has %d", imp.RowsRead, d.Rows)
	}
	if imp.Rejected != d.expectedRejectedTotal() || !sameCounts(imp.RejectedByReason, d.ExpectedRejected) {
		prog.Progress("warning: the CLI rejected %v, the generator expected %v",
			formatCounts(imp.RejectedByReason), formatCounts(d.ExpectedRejected))
	}
}

func sameCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ---------------------------------------------------------------------------------------------
// Step 3: the psql \copy baseline.

// copyResult is what the psql \copy of the file cost.
type copyResult struct {
	Wall time.Duration
	Rows int
}

var copyCount = regexp.MustCompile(`(?m)^COPY (\d+)$`)

// runCopy loads file into a TEMP table of text columns with psql's \copy, in one psql session,
// timing the psql process. Nothing is left in the database.
func runCopy(ctx context.Context, psql, dbURL, file string, rows int) (*copyResult, error) {
	prog.Progress("running psql \\copy of the same file …")
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = c + " text"
	}
	create := "CREATE TEMP TABLE importbench_copy (" + strings.Join(cols, ", ") + ")"
	copyCmd := `\copy importbench_copy FROM '` + strings.ReplaceAll(file, `'`, `''`) + `' WITH (FORMAT csv, HEADER true)`

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "--dbname="+dbURL, "-c", create, "-c", copyCmd)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL) // not a flag: a password would show in ps
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("psql \\copy failed: %w (its messages are above)", err)
	}
	m := copyCount.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("psql \\copy did not report a row count; it printed %q", out.String())
	}
	n, _ := strconv.Atoi(m[1])
	if n != rows {
		prog.Progress("warning: psql \\copy loaded %d rows, the file has %d", n, rows)
	}
	return &copyResult{Wall: wall, Rows: n}, nil
}

// ---------------------------------------------------------------------------------------------
// Step 4: River's InsertManyFast.

// riverBatch is how many jobs one InsertManyFastTx call inserts.
const riverBatch = 10_000

// idArgs is a job whose only argument is an id, as a job that refers to a row would be.
type idArgs struct {
	ID int64 `json:"id"`
}

// Kind implements river.JobArgs.
func (idArgs) Kind() string { return "importbench_id" }

// riverResult is what inserting the id-only jobs cost.
type riverResult struct {
	Wall time.Duration
	Jobs int
}

// runRiverInsert inserts n id-only jobs with an insert-only River client, in batches of
// riverBatch in one transaction, timing it from the transaction's start to its commit. The jobs
// are never worked; the scratch database is dropped at the end.
func runRiverInsert(ctx context.Context, dbURL string, n int) (*riverResult, error) {
	prog.Progress("inserting %s id-only River jobs with InsertManyFast …", benchkit.Thousands(int64(n)))
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	params := make([]river.InsertManyParams, riverBatch)
	start := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	inserted := 0
	for inserted < n {
		batch := params[:min(riverBatch, n-inserted)]
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: idArgs{ID: int64(inserted + i + 1)}}
		}
		k, err := client.InsertManyFastTx(ctx, tx, batch)
		if err != nil {
			return nil, fmt.Errorf("river InsertManyFast: %w", err)
		}
		inserted += k
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("river InsertManyFast: commit: %w", err)
	}
	return &riverResult{Wall: time.Since(start), Jobs: inserted}, nil
}

// ---------------------------------------------------------------------------------------------
// Step 5: the report.

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time      string `json:"time"`
	Rows      int    `json:"rows"`
	Columns   int    `json:"columns"`
	FileBytes int64  `json:"file_bytes"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Database  string `json:"database"`

	Campaign struct {
		Seconds          float64        `json:"seconds"`
		CPUSeconds       float64        `json:"cpu_seconds"` // the CLI's own; the rest is waiting (mostly on Postgres)
		RowsPerSecond    float64        `json:"rows_per_second"`
		PeakRSSBytes     int64          `json:"peak_rss_bytes"`
		RowsRead         int            `json:"rows_read"`
		Accepted         int            `json:"accepted"`
		Rejected         int            `json:"rejected"`
		RejectedByReason map[string]int `json:"rejected_by_reason"`
	} `json:"campaign_run_dry_run"`

	Copy struct {
		Seconds       float64 `json:"seconds"`
		RowsPerSecond float64 `json:"rows_per_second"`
	} `json:"psql_copy"`

	River struct {
		Jobs          int     `json:"jobs"`
		BatchSize     int     `json:"batch_size"`
		Seconds       float64 `json:"seconds"`
		JobsPerSecond float64 `json:"jobs_per_second"`
	} `json:"river_insert_many_fast"`

	// Ratio is the campaign import's time over the psql \copy's.
	Ratio float64 `json:"ratio"`
	// RiverRatio is the campaign import's time over River's InsertManyFast of as many jobs.
	RiverRatio float64 `json:"river_ratio"`

	Target struct {
		Rows        int     `json:"rows"`
		MaxSeconds  float64 `json:"max_seconds"`
		MaxRSSBytes int64   `json:"max_rss_bytes"`
		Judged      bool    `json:"judged"` // only at Rows rows
		Met         bool    `json:"met"`
		TimeMet     bool    `json:"time_met"`
		RSSMet      bool    `json:"rss_met"`
	} `json:"target"`

	// PostgresProfile is set with -profile-postgres: see profilePostgres.
	PostgresProfile []pgCost `json:"postgres_profile,omitempty"`
}

func newResult(d *dataset, db string, imp *importResult, cp *copyResult, rv *riverResult) *result {
	r := &result{
		Time:      time.Now().UTC().Format(time.RFC3339),
		Rows:      d.Rows,
		Columns:   len(columns),
		FileBytes: d.Bytes,
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Database:  db,
	}
	c := &r.Campaign
	c.Seconds = imp.Wall.Seconds()
	c.CPUSeconds = imp.CPU.Seconds()
	c.RowsPerSecond = float64(d.Rows) / c.Seconds
	c.PeakRSSBytes = imp.PeakRSSBytes
	c.RowsRead, c.Accepted, c.Rejected = imp.RowsRead, imp.Accepted, imp.Rejected
	c.RejectedByReason = imp.RejectedByReason
	r.Copy.Seconds = cp.Wall.Seconds()
	r.Copy.RowsPerSecond = float64(d.Rows) / r.Copy.Seconds
	r.Ratio = c.Seconds / r.Copy.Seconds
	r.River.Jobs, r.River.BatchSize = rv.Jobs, riverBatch
	r.River.Seconds = rv.Wall.Seconds()
	r.River.JobsPerSecond = float64(rv.Jobs) / r.River.Seconds
	r.RiverRatio = c.Seconds / r.River.Seconds

	t := &r.Target
	t.Rows, t.MaxSeconds, t.MaxRSSBytes = targetRows, targetDuration.Seconds(), targetRSSBytes
	t.TimeMet = imp.Wall <= targetDuration
	t.RSSMet = imp.PeakRSSBytes > 0 && imp.PeakRSSBytes < targetRSSBytes
	t.Judged = d.Rows == targetRows
	t.Met = t.Judged && t.TimeMet && t.RSSMet
	return r
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	c := &r.Campaign
	fmt.Fprintf(w, "import benchmark: %s rows x %d columns (%.1f MB), %d cores, %s\n",
		benchkit.Thousands(int64(r.Rows)), r.Columns, float64(r.FileBytes)/1e6, r.Cores, r.GoVersion)
	fmt.Fprintf(w, "campaign run --dry-run : %s  %s rows/s   peak RSS %s   CPU %.1f s   (accepted %s, rejected %s)\n",
		benchkit.Seconds(c.Seconds), benchkit.Rate(c.RowsPerSecond, 9), benchkit.Megabytes(c.PeakRSSBytes), c.CPUSeconds,
		benchkit.Thousands(int64(c.Accepted)), benchkit.Thousands(int64(c.Rejected)))
	fmt.Fprintf(w, "psql \\copy (same file) : %s  %s rows/s\n", benchkit.Seconds(r.Copy.Seconds), benchkit.Rate(r.Copy.RowsPerSecond, 9))
	fmt.Fprintf(w, "river InsertManyFast   : %s  %s jobs/s   (%s id-only jobs, batches of %s, one transaction)\n",
		benchkit.Seconds(r.River.Seconds), benchkit.Rate(r.River.JobsPerSecond, 9),
		benchkit.Thousands(int64(r.River.Jobs)), benchkit.Thousands(int64(r.River.BatchSize)))
	fmt.Fprintf(w, "ratio                  : %5.1fx the time of a bare \\copy, %.1fx the time of River's InsertManyFast\n",
		r.Ratio, r.RiverRatio)

	t := &r.Target
	goal := fmt.Sprintf("<= %.0f s and < %.0f MB RSS", t.MaxSeconds, float64(t.MaxRSSBytes)/1e6)
	switch {
	case !t.Judged:
		fmt.Fprintf(w, "target                 : %s at %s rows: not judged on %s rows\n",
			goal, benchkit.Thousands(int64(t.Rows)), benchkit.Thousands(int64(r.Rows)))
	case t.Met:
		fmt.Fprintf(w, "target                 : %s: met\n", goal)
	default:
		var why []string
		if !t.TimeMet {
			why = append(why, fmt.Sprintf("took %.1f s", c.Seconds))
		}
		if !t.RSSMet {
			why = append(why, "peak RSS "+benchkit.Megabytes(c.PeakRSSBytes))
		}
		fmt.Fprintf(w, "target                 : %s: MISSED (%s)\n", goal, strings.Join(why, ", "))
	}
	if len(r.PostgresProfile) > 0 {
		printPGProfile(w, r.PostgresProfile, c.Accepted)
	}
}
