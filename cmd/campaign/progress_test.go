package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// screen is a terminal of a fixed width, enough of one to check what the status line leaves
// on it: it prints, wraps at the width, and understands \r, \n and the erase sequences the
// status line uses.
type screen struct {
	width int
	lines []string // finished lines (scrolled up), then the current one
	col   int
}

func newScreen(width int) *screen { return &screen{width: width, lines: []string{""}} }

func (s *screen) write(out string) {
	for len(out) > 0 {
		switch {
		case strings.HasPrefix(out, eraseLine):
			s.lines[len(s.lines)-1] = ""
			out = out[len(eraseLine):]
		case strings.HasPrefix(out, eraseToEOL):
			cur := []rune(s.lines[len(s.lines)-1])
			s.lines[len(s.lines)-1] = string(cur[:min(s.col, len(cur))])
			out = out[len(eraseToEOL):]
		case out[0] == '\r':
			s.col = 0
			out = out[1:]
		case out[0] == '\n':
			s.lines = append(s.lines, "")
			s.col = 0
			out = out[1:]
		default:
			r, size := utf8.DecodeRuneInString(out)
			out = out[size:]
			if s.col == s.width {
				s.lines = append(s.lines, "")
				s.col = 0
			}
			cur := []rune(s.lines[len(s.lines)-1])
			for len(cur) < s.col {
				cur = append(cur, ' ')
			}
			if s.col < len(cur) {
				cur[s.col] = r
			} else {
				cur = append(cur, r)
			}
			s.lines[len(s.lines)-1] = string(cur)
			s.col++
		}
	}
}

// statusLinesDrawn returns the status lines drawn in out: each is drawn as "\r", the line,
// and an erase to the end of the line.
func statusLinesDrawn(out string) []string {
	var lines []string
	parts := strings.Split(out, eraseToEOL)
	for _, p := range parts[:len(parts)-1] {
		lines = append(lines, p[strings.LastIndexAny(p, "\r\n")+1:])
	}
	return lines
}

// terminalBuffer collects what is written to a terminal, safely from several goroutines.
type terminalBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *terminalBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *terminalBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// busyProgress is a campaign in full swing with every kind of outcome.
func busyProgress() campaign.Progress {
	return campaign.Progress{
		Total: 1_000_000, Live: 300, Status: campaign.StatusRunning,
		ByState: map[campaign.ContactState]int{
			campaign.ContactCompleted: 412_345, campaign.ContactFailed: 23_456, campaign.ContactDoNotCall: 1_234,
			campaign.ContactPending: 562_665, campaign.ContactInCall: 300,
		},
		ByOutcome: map[campaign.Outcome]int{
			campaign.OutcomeCompleted: 300_000, campaign.OutcomeNoAnswer: 80_000, campaign.OutcomeVoicemail: 30_000,
			campaign.OutcomeBusy: 12_000, campaign.OutcomeFailedRetryable: 9_000, campaign.OutcomeFailedPermanent: 6_000,
		},
	}
}

func TestProgressLineFitsTheTerminal(t *testing.T) {
	now := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	due := now.Add(25*time.Minute + 10*time.Second)
	waiting := busyProgress()
	waiting.Live, waiting.Status = 0, campaign.StatusPaused
	waiting.ByState[campaign.ContactInCall] = 0
	waiting.NextDue = &due
	tomorrow := now.Add(20 * time.Hour)
	overnight := waiting
	overnight.Status = campaign.StatusRunning
	overnight.NextDue = &tomorrow
	small := campaign.Progress{Total: 9, Live: 2, Status: campaign.StatusRunning,
		ByState:   map[campaign.ContactState]int{campaign.ContactCompleted: 3, campaign.ContactInCall: 2, campaign.ContactPending: 4},
		ByOutcome: map[campaign.Outcome]int{campaign.OutcomeCompleted: 3}}

	for _, tc := range []struct {
		name  string
		p     campaign.Progress
		width int
		want  []string // what the line must show at this width
	}{
		{"busy/80", busyProgress(), 80, []string{"437035/1000000", "live 300", "completed 300000", "|"}},
		{"busy/40", busyProgress(), 40, []string{"437035/1000000", "live 300"}},
		{"busy/130", busyProgress(), 130, []string{"437035/1000000", "live 300", "completed 300000", "busy 12000", "█"}},
		{"paused/80", waiting, 80, []string{"437035/1000000", "paused", "next call due 14:05 (in 25m10s)"}},
		{"paused/40", waiting, 40, []string{"437035/1000000", "paused"}},
		{"tomorrow/80", overnight, 80, []string{"next call due Tue 09:40 (in 20h0m0s)"}},
		{"small/40", small, 40, []string{"3/9", "live 2", "completed 3"}},
		{"small/80", small, 80, []string{"3/9", "live 2", "completed 3", "█"}},
		{"small/20", small, 20, []string{"3/9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := progressLine(tc.p, now, tc.width)
			require.Less(t, utf8.RuneCountInString(line), tc.width, "%q", line)
			require.NotContains(t, line, "\n")
			for _, w := range tc.want {
				require.Contains(t, line, w)
			}
		})
	}
}

// TestStatusLineKeepsLogsApart logs while the bar is shown: on the terminal every log record
// is a clean line of its own, and the bar stays the last line.
func TestStatusLineKeepsLogsApart(t *testing.T) {
	var out terminalBuffer
	line := newStatusLine(&out)
	logger := slog.New(slog.NewTextHandler(line, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	fmt.Fprintln(line, "Campaign c (id 1): 9 contacts, 0 rejected.")
	line.draw("3/9 | live 2 | completed 3")
	logger.Info("vapi account at its concurrency limit; contact put back", "vapi_call_id", "call-1")
	line.draw("4/9 | live 1 | completed 4")
	fmt.Fprint(line, "a message in ")
	fmt.Fprint(line, "two writes\n")
	logger.Warn("cannot read the campaign's progress; retrying")
	line.draw("9/9 | live 0 | completed 9")
	line.clear()
	fmt.Fprintln(line, "Campaign c: 9 of 9 contacts final in 3s")

	s := newScreen(200)
	s.write(out.String())
	require.Equal(t, []string{
		"Campaign c (id 1): 9 contacts, 0 rejected.",
		`level=INFO msg="vapi account at its concurrency limit; contact put back" vapi_call_id=call-1`,
		"a message in two writes",
		`level=WARN msg="cannot read the campaign's progress; retrying"`,
		"Campaign c: 9 of 9 contacts final in 3s",
		"",
	}, s.lines)
}

// TestProgressLogLineWhenWaiting is the progress of a run without a terminal: a log line that
// says when the next call is due, not the same counts again and again.
func TestProgressLogLineWhenWaiting(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	a := &app{logger: slog.New(slog.NewTextHandler(&out, nil)), now: func() time.Time { return now }}
	v := newProgressView(a, &campaign.Campaign{ID: 7})
	due := now.Add(4 * time.Hour)
	p := campaign.Progress{Total: 600, Status: campaign.StatusRunning, NextDue: &due,
		ByState:   map[campaign.ContactState]int{campaign.ContactCompleted: 501, campaign.ContactPending: 99},
		ByOutcome: map[campaign.Outcome]int{campaign.OutcomeCompleted: 400, campaign.OutcomeNoAnswer: 101}}

	v.update(p)
	require.Contains(t, out.String(), "done=501 total=600 live=0")
	require.Contains(t, out.String(), "next_due=2026-11-23T17:40:00Z next_due_in=4h0m0s")

	// Nothing new for 50 s: no line; a minute on, one line.
	for i := 0; i < 10; i++ {
		now = now.Add(5 * time.Second)
		v.update(p)
	}
	require.Equal(t, 1, strings.Count(out.String(), "msg=progress"), out.String())
	now = now.Add(10 * time.Second)
	v.update(p)
	require.Equal(t, 2, strings.Count(out.String(), "msg=progress"), out.String())
	require.Contains(t, out.String(), "next_due_in=3h59m0s")

	// A pause shows at once (5 s on).
	now = now.Add(5 * time.Second)
	p.Status = campaign.StatusPaused
	v.update(p)
	require.Contains(t, out.String(), "status=paused")
}

// TestRunProgressOnTerminal runs a simulated campaign on an 80-column terminal, with more live
// calls asked for than the account allows, so refusals may be logged while the bar is shown:
// every status line drawn fits, and no other line carries a piece of the bar.
func TestRunProgressOnTerminal(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("phone,name,first_name,amount_due,due_date,customer_id,timezone\n")
	for i := range 60 {
		fmt.Fprintf(&rows, "+1415555%04d,Customer %d,C%d,10.00,2026-12-01,c%d,America/Los_Angeles\n", 2000+i, i, i, i)
	}
	file := writeFile(t, dir, "customers.csv", rows.String())

	var out terminalBuffer
	line := newStatusLine(&out)
	a := &app{in: bytes.NewReader(nil), out: &bytes.Buffer{}, errOut: line, getenv: func(string) string { return "" },
		isTerminal: true, statusLine: line, termWidth: func() int { return 80 }, now: time.Now}
	code := execute(context.Background(), a, []string{"run", file, "--simulate", "--sim-time-scale", "600",
		"--rate", "0", "--max-concurrent", "40", "--allow-missing-variables", "--log-level", "info",
		"--rejects", filepath.Join(dir, "rejects.csv"), "--database-url", b.databaseURL()})
	require.Equal(t, exitOK, code, "stderr: %s", out.String())

	// Every status line drawn fits; log lines may be wider than the terminal and wrap.
	draws := statusLinesDrawn(out.String())
	require.NotEmpty(t, draws)
	for _, d := range draws {
		require.Less(t, utf8.RuneCountInString(d), 80, "%q", d)
	}
	s := newScreen(80)
	s.write(out.String())
	for _, l := range s.lines {
		if strings.Contains(l, "msg=") || strings.HasPrefix(l, "Campaign ") {
			require.NotContains(t, l, "| live", "a log line with a piece of the bar: %q", l)
		}
	}
	var header int
	for _, l := range s.lines {
		if strings.HasPrefix(l, "Campaign customers-") && strings.HasSuffix(l, ": 60 contacts, 0 rejected.") {
			header++
		}
	}
	require.Equal(t, 1, header, "the import's line is a line of its own")
}

// TestRepeatHandlerSummarizes logs a burst of the same record, as the dialers do when Vapi
// refuses calls at its concurrency limit: one line shows per 30 s, with the number held back.
func TestRepeatHandlerSummarizes(t *testing.T) {
	var out bytes.Buffer
	h := newRepeatHandler(slog.NewTextHandler(&out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	logger := slog.New(h).With("campaign_id", 1)
	t0 := time.Date(2026, 11, 23, 13, 40, 0, 0, time.UTC)
	refused := func(at time.Time, call string) {
		r := slog.NewRecord(at, slog.LevelInfo, "vapi account at its concurrency limit; contact put back", 0)
		r.AddAttrs(slog.String("vapi_call_id", call))
		require.NoError(t, logger.Handler().Handle(context.Background(), r))
	}
	for i := range 50 {
		refused(t0.Add(time.Duration(i)*200*time.Millisecond), fmt.Sprintf("call-%d", i))
	}
	logger.Warn("something else")
	refused(t0.Add(31*time.Second), "call-50")
	refused(t0.Add(32*time.Second), "call-51")
	refused(t0.Add(33*time.Second), "call-52")
	h.flush(t0.Add(40 * time.Second))

	require.Equal(t, []string{
		`level=INFO msg="vapi account at its concurrency limit; contact put back" campaign_id=1 vapi_call_id=call-0`,
		`level=WARN msg="something else" campaign_id=1`,
		`level=INFO msg="vapi account at its concurrency limit; contact put back" campaign_id=1 vapi_call_id=call-50 repeats_not_shown=49`,
		`level=INFO msg="vapi account at its concurrency limit; contact put back" repeats_not_shown=2`,
	}, strings.Split(strings.TrimSpace(out.String()), "\n"))
}
