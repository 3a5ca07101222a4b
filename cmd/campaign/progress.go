package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/campaign-run/campaign/campaign"
)

// ANSI sequences of the status line.
const (
	eraseLine  = "\x1b[2K" // erase the whole line the cursor is on
	eraseToEOL = "\x1b[K"  // erase from the cursor to the end of the line
)

// statusLine is a terminal (stderr) that keeps one status line, the progress bar of a run, at
// its bottom. Everything else written to it (log records, messages) appears above that line:
// the line is erased, the text written, and the line drawn again below it. So logs and the bar
// never share a line.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the status line as drawn; "" when none is shown
	// midLine is set when the last write did not end its line: the status line is drawn again
	// only once that line is complete.
	midLine bool
}

func newStatusLine(w io.Writer) *statusLine { return &statusLine{w: w} }

// Write writes p above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return s.w.Write(p)
	}
	var b bytes.Buffer
	if !s.midLine {
		b.WriteString("\r" + eraseLine)
	}
	b.Write(p)
	s.midLine = len(p) > 0 && p[len(p)-1] != '\n'
	if !s.midLine {
		b.WriteString(s.line)
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// draw shows line as the status line, in place of the previous one.
func (s *statusLine) draw(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := "\r"
	if s.midLine {
		prefix, s.midLine = "\n", false // leave the unfinished text its own line
	}
	s.line = line
	_, _ = io.WriteString(s.w, prefix+line+eraseToEOL) // a status line that fails to draw is no error
}

// clear erases the status line; what is written next starts on the empty line.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return
	}
	s.line = ""
	if !s.midLine {
		_, _ = io.WriteString(s.w, "\r"+eraseLine)
	}
}

// progressView shows a run's progress: a status line on a terminal, fitted to its width, else
// a log line when something changed (every 5 s at most, every minute at least).
type progressView struct {
	line    *statusLine // nil: not a terminal
	repeats *repeatHandler
	width   func() int // the terminal's width in cells; 0 when unknown
	logger  *slog.Logger
	c       *campaign.Campaign
	now     func() time.Time
	lastLog time.Time
	lastKey string
}

func newProgressView(a *app, c *campaign.Campaign) *progressView {
	v := &progressView{line: a.statusLine, repeats: a.logRepeats, width: a.termWidth, logger: a.logger, c: c, now: a.now}
	if v.width == nil {
		v.width = func() int { return 0 }
	}
	return v
}

// update shows p.
func (v *progressView) update(p campaign.Progress) {
	now := v.now()
	if v.line != nil {
		width := v.width()
		if width <= 0 {
			width = 80
		}
		v.line.draw(progressLine(p, now, width))
		return
	}
	done := p.FinalCount()
	attrs := []any{"campaign_id", v.c.ID, "done", done, "total", p.Total, "live", p.Live, "outcomes", outcomeList(p)}
	if p.Status == campaign.StatusPaused || p.Status == campaign.StatusScheduled {
		attrs = append(attrs, "status", p.Status)
	}
	due, waiting := waitingUntil(p, now)
	if waiting {
		attrs = append(attrs, "next_due", due.Format(time.RFC3339), "next_due_in", untilText(now, due))
	}
	// The same figures again say nothing: the time of the next call changes only when one is
	// scheduled, and the countdown alone is not worth a line more than once a minute.
	key := fmt.Sprint(done, p.Total, p.Live, outcomeList(p), p.Status, due)
	since := now.Sub(v.lastLog)
	if since < 5*time.Second || (key == v.lastKey && since < time.Minute) {
		return
	}
	v.lastLog, v.lastKey = now, key
	v.logger.Info("progress", attrs...)
}

// finish removes the status line and writes the counts of the log records held back.
func (v *progressView) finish() {
	if v.line != nil {
		v.line.clear()
	}
	if v.repeats != nil {
		v.repeats.flush(v.now())
	}
}

// waitingUntil reports whether nothing of p is due now or in progress, and when the next
// contact is due: the time of the next retry, callback or window opening.
func waitingUntil(p campaign.Progress, now time.Time) (time.Time, bool) {
	if p.NextDue == nil || !p.NextDue.After(now) || p.Live > 0 ||
		p.ByState[campaign.ContactQueued] > 0 || p.ByState[campaign.ContactInCall] > 0 {
		return time.Time{}, false
	}
	return *p.NextDue, true
}

// untilText is how long from now until t, e.g. "3m20s" or "2h5m".
func untilText(now, t time.Time) string {
	d := t.Sub(now)
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// Widths of the progress bar in the status line, in cells: it shrinks to fit before it goes.
const (
	minBarWidth = 10
	maxBarWidth = 30
)

// progressLine renders the status line of p at most width-1 cells wide (the last column is
// left empty, so no terminal wraps the line). What does not fit goes, least important first:
// the outcomes one by one (the rarest first) but the most frequent, the bar (shrunk, then
// dropped), that outcome, the live calls; the count of final contacts, "paused" (or
// "scheduled") and the time the next call is due stay.
func progressLine(p campaign.Progress, now time.Time, width int) string {
	room := width - 1
	done := p.FinalCount()
	var state []string
	if p.Status == campaign.StatusPaused || p.Status == campaign.StatusScheduled {
		state = append(state, string(p.Status)) // scheduled: its start was moved ahead meanwhile
	}
	if due, ok := waitingUntil(p, now); ok {
		at := due.In(now.Location())
		stamp := at.Format("15:04")
		if at.Format(time.DateOnly) != now.Format(time.DateOnly) {
			stamp = at.Format("Mon 15:04")
		}
		state = append(state, "next call due "+stamp+" (in "+untilText(now, due)+")")
	}
	live := fmt.Sprintf("live %d", p.Live)
	outcomes := outcomeCounts(p)

	count := fmt.Sprintf("%d/%d", done, p.Total)
	join := func(bar string, withLive bool, outcomes []string) string {
		parts := []string{bar}
		parts = append(parts, state...)
		if withLive {
			parts = append(parts, live)
		}
		if len(outcomes) > 0 {
			parts = append(parts, strings.Join(outcomes, ", "))
		}
		return strings.Join(parts, " | ")
	}
	cells := utf8.RuneCountInString

	// The outcomes go first, the rarest first, while a bar fits beside what is left; then the
	// bar, the last outcome, the live calls.
	top := min(1, len(outcomes))
	for n := len(outcomes); n >= top; n-- {
		beside := cells(join(count, true, outcomes[:n])) - cells(count)
		if bar, ok := fitBar(done, p.Total, room-beside); ok {
			return join(bar, true, outcomes[:n])
		}
	}
	for _, line := range []string{join(count, true, outcomes[:top]), join(count, true, nil), join(count, false, nil)} {
		if cells(line) <= room {
			return line
		}
	}
	return truncate(join(count, false, nil), room)
}

// fitBar renders the bar of done out of total at most room cells wide, with its percentage
// and count, and reports whether one fits.
func fitBar(done, total, room int) (string, bool) {
	if total <= 0 {
		return "", false
	}
	render := func(width int) string {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(io.Discard),
			progressbar.OptionSetWidth(width),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false))
		_ = bar.Set(done)
		return strings.TrimSpace(strings.TrimPrefix(bar.String(), "\r"))
	}
	full := render(maxBarWidth)
	width := maxBarWidth - (utf8.RuneCountInString(full) - room)
	if width >= maxBarWidth {
		return full, true
	}
	if width < minBarWidth {
		return "", false
	}
	return render(width), true
}

// outcomeCounts lists p's outcomes as "outcome n", the most frequent first.
func outcomeCounts(p campaign.Progress) []string {
	keys := make([]campaign.Outcome, 0, len(p.ByOutcome))
	for o, n := range p.ByOutcome {
		if o != "" && n > 0 {
			keys = append(keys, o)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if p.ByOutcome[keys[i]] != p.ByOutcome[keys[j]] {
			return p.ByOutcome[keys[i]] > p.ByOutcome[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, p.ByOutcome[k])
	}
	return parts
}

// truncate cuts s to at most n cells, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// repeatWindow is how long, on a terminal, further log records with the message of one just
// written are held back and counted instead of written.
const repeatWindow = 30 * time.Second

// repeatHandler writes log records to next, but of a burst of records with the same level and
// message (e.g. one per call Vapi refused at its concurrency limit) only the first in each
// repeatWindow: the others are counted, and the count is written with the next one shown
// (repeats_not_shown=N), or by flush. It keeps a terminal readable under the progress bar.
type repeatHandler struct {
	next  slog.Handler
	state *repeatState // shared with the handlers derived by WithAttrs and WithGroup
}

type repeatState struct {
	mu   sync.Mutex
	base slog.Handler // the handler flush writes to
	seen map[repeatKey]*repeatCount
}

type repeatKey struct {
	level slog.Level
	msg   string
}

type repeatCount struct {
	since time.Time // when the record last written was logged
	held  int       // records since then, not written
}

func newRepeatHandler(next slog.Handler) *repeatHandler {
	return &repeatHandler{next: next, state: &repeatState{base: next, seen: map[repeatKey]*repeatCount{}}}
}

// Enabled reports whether next handles records of level.
func (h *repeatHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle writes r, or counts it when a record with its level and message was written less
// than repeatWindow before.
func (h *repeatHandler) Handle(ctx context.Context, r slog.Record) error {
	key := repeatKey{r.Level, r.Message}
	s := h.state
	s.mu.Lock()
	c := s.seen[key]
	if c != nil && r.Time.Sub(c.since) < repeatWindow {
		c.held++
		s.mu.Unlock()
		return nil
	}
	held := 0
	if c != nil {
		held = c.held
	}
	s.seen[key] = &repeatCount{since: r.Time}
	s.mu.Unlock()
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeats_not_shown", held))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry attrs, counted with this one's.
func (h *repeatHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &repeatHandler{next: h.next.WithAttrs(attrs), state: h.state}
}

// WithGroup returns a handler whose attributes go in group name, counted with this one's.
func (h *repeatHandler) WithGroup(name string) slog.Handler {
	return &repeatHandler{next: h.next.WithGroup(name), state: h.state}
}

// flush writes, for each message whose repeats were held back, one record with their number.
func (h *repeatHandler) flush(now time.Time) {
	s := h.state
	s.mu.Lock()
	var out []slog.Record
	for key, c := range s.seen {
		if c.held > 0 {
			r := slog.NewRecord(now, key.level, key.msg, 0)
			r.AddAttrs(slog.Int("repeats_not_shown", c.held))
			out = append(out, r)
		}
	}
	s.seen = map[repeatKey]*repeatCount{}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	for _, r := range out {
		_ = s.base.Handle(context.Background(), r) // a log record that cannot be written is no error
	}
}
