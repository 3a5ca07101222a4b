package campaign

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultWindowSpec is "09:00-20:00" every day.
const DefaultWindowSpec = "09:00-20:00"

const (
	windowMinutesPerDay = 24 * 60
	windowSecondsPerDay = 24 * 60 * 60
	// windowHorizonSeconds bounds how far ahead NextOpen and OpenUntil look.
	windowHorizonSeconds = 14 * windowSecondsPerDay
	windowAllDays        = uint8(1<<7 - 1)
)

// windowSpan is a half-open range [start, end) of minutes since local midnight,
// 0 <= start < end <= 1440.
type windowSpan struct{ start, end int }

// windowInterval is a half-open range [start, end) of Unix seconds.
type windowInterval struct{ start, end int64 }

// Window is a weekly schedule of local times at which calls may be placed.
//
// A Window is immutable and safe for concurrent use. The zero Window is never
// open (its String is ""); build one with ParseWindow or AlwaysOpen.
type Window struct {
	// days holds, per time.Weekday, sorted non-overlapping non-touching spans.
	days [7][]windowSpan
}

// AlwaysOpen is a window with no restriction (spec "always"), used by simulations.
func AlwaysOpen() Window {
	var w Window
	for d := range w.days {
		w.days[d] = []windowSpan{{0, windowMinutesPerDay}}
	}
	return w
}

// IsAlways reports whether the window is open at all times (spec "always", or
// 00:00-24:00 on every day).
func (w Window) IsAlways() bool {
	for _, spans := range w.days {
		if len(spans) != 1 || spans[0] != (windowSpan{0, windowMinutesPerDay}) {
			return false
		}
	}
	return true
}

// Contains reports whether t is inside the window in every one of zones: the
// local wall-clock reading of t (weekday and minute of day) in each zone is
// inside a range for that weekday. A nil zone means UTC; an empty zones slice
// means t's own location.
func (w Window) Contains(t time.Time, zones []*time.Location) bool {
	if len(zones) == 0 {
		return w.containsIn(t, t.Location())
	}
	for _, loc := range zones {
		if !w.containsIn(t, loc) {
			return false
		}
	}
	return true
}

func (w Window) containsIn(t time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	for _, s := range w.days[lt.Weekday()] {
		if m < s.start {
			return false
		}
		if m < s.end {
			return true
		}
	}
	return false
}

// NextOpen returns the earliest instant at or after t at which the window is
// open in every one of zones (t itself if already open). ok is false when there
// is none within 14 days (e.g. an empty intersection of zones far apart). Zones
// are interpreted as in Contains. The result is expressed in t's location.
//
// Around DST changes the answer is the first real instant whose wall clock
// reads inside a range: for a range starting at 02:30 on a spring-forward day
// in America/New_York that is 03:00 EDT, the moment the clock jumps past 02:30.
func (w Window) NextOpen(t time.Time, zones []*time.Location) (next time.Time, ok bool) {
	if w.Contains(t, zones) {
		return t, true
	}
	from := t.Unix()
	ivs := w.openIntervals(from, from+windowHorizonSeconds, t.Location(), zones)
	if len(ivs) == 0 {
		return time.Time{}, false
	}
	return time.Unix(ivs[0].start, 0).In(t.Location()), true
}

// OpenUntil returns the end of the open interval containing t (the instant the
// window closes in at least one zone); zero time and false if t is not inside
// the window. Zones are interpreted as in Contains. It looks at most 14 days
// ahead: if the window is still open then (e.g. AlwaysOpen), until is t's
// second plus 14 days. The result is expressed in t's location.
func (w Window) OpenUntil(t time.Time, zones []*time.Location) (until time.Time, ok bool) {
	if !w.Contains(t, zones) {
		return time.Time{}, false
	}
	from := t.Unix()
	ivs := w.openIntervals(from, from+windowHorizonSeconds, t.Location(), zones)
	if len(ivs) == 0 || ivs[0].start != from {
		// Unreachable when Contains and openIntervals agree (tested).
		return time.Time{}, false
	}
	return time.Unix(ivs[0].end, 0).In(t.Location()), true
}

// openIntervals returns the sorted, disjoint, non-touching instants in
// [from, to) at which the window is open in every zone.
func (w Window) openIntervals(from, to int64, tloc *time.Location, zones []*time.Location) []windowInterval {
	if len(zones) == 0 {
		return w.zoneIntervals(tloc, from, to)
	}
	ivs := w.zoneIntervals(zones[0], from, to)
	for _, loc := range zones[1:] {
		if len(ivs) == 0 {
			break
		}
		ivs = intersectWindowIntervals(ivs, w.zoneIntervals(loc, from, to))
	}
	return ivs
}

// zoneIntervals returns the instants in [from, to) at which the window is open
// in loc, as sorted, disjoint, non-touching intervals.
//
// The local wall clock is instant+offset, and the offset is constant between
// two zone transitions. So the range is walked one constant-offset segment at
// a time (segments come from time.Time.ZoneBounds): inside a segment with
// offset o, the instants whose wall clock lies in [day+start, day+end) are
// exactly [day+start-o, day+end-o), clipped to the segment. Wall-clock times
// skipped by a spring-forward gap thus belong to no segment, and times
// repeated by a fall-back overlap belong to both.
func (w Window) zoneIntervals(loc *time.Location, from, to int64) []windowInterval {
	if loc == nil {
		loc = time.UTC
	}
	var out []windowInterval
	for u := from; u < to; {
		lt := time.Unix(u, 0).In(loc)
		_, off := lt.Zone()
		segEnd := to
		if _, end := lt.ZoneBounds(); !end.IsZero() && end.Unix() > u && end.Unix() < to {
			segEnd = end.Unix()
		}
		o := int64(off)
		lastDay := windowFloorDiv(segEnd-1+o, windowSecondsPerDay)
		for day := windowFloorDiv(u+o, windowSecondsPerDay); day <= lastDay; day++ {
			// Day 0 of the Unix epoch, 1970-01-01, was a Thursday.
			wd := time.Weekday((day%7 + 7 + int64(time.Thursday)) % 7)
			base := day*windowSecondsPerDay - o
			for _, s := range w.days[wd] {
				a := max(base+int64(s.start)*60, u)
				b := min(base+int64(s.end)*60, segEnd)
				if a >= b {
					continue
				}
				if n := len(out); n > 0 && out[n-1].end == a {
					out[n-1].end = b // touching across midnight or a zone transition
				} else {
					out = append(out, windowInterval{a, b})
				}
			}
		}
		u = segEnd
	}
	return out
}

// intersectWindowIntervals intersects two sorted, disjoint interval lists. If
// both inputs are non-touching, so is the result.
func intersectWindowIntervals(a, b []windowInterval) []windowInterval {
	var out []windowInterval
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].start, b[j].start), min(a[i].end, b[j].end)
		if lo < hi {
			out = append(out, windowInterval{lo, hi})
		}
		if a[i].end < b[j].end {
			i++
		} else {
			j++
		}
	}
	return out
}

func windowFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ---- deciding for a contact ----

// CallingHours is a campaign's calling window, parsed once, deciding for one contact at a time
// whether it may be called at an instant. It is the one home of that decision: the hopper, the
// dial worker, the scheduling of a retry and the dry run all ask Decide. ParseCallingHours
// builds it from a campaign's spec; CallingHours{Window: w} uses a window already parsed.
//
// A CallingHours is immutable and safe for concurrent use.
type CallingHours struct {
	// Window is the campaign's calling window.
	Window Window
	// invalid is why the campaign's spec did not parse; nil when it did.
	invalid error
}

// ParseCallingHours parses a campaign's window spec (Settings.WindowSpec). A spec that does not
// parse gives hours that fail every contact with OutcomeInvalidWindow: specs are validated
// before they are stored, and a bad one stops its contacts, not the campaign.
func ParseCallingHours(spec string) CallingHours {
	w, err := ParseWindow(spec)
	return CallingHours{Window: w, invalid: err}
}

// Decide decides for a contact whose calling hours are those of timeZones (IANA names; the
// window must be open in every one of them) at now:
//
//   - Queue when the window is open now in every zone;
//   - else DeferUntil the earliest later instant at which it is (see Window.NextOpen);
//   - FailOutcome OutcomeNoCallingWindow when there is none within 14 days;
//   - FailOutcome OutcomeInvalidWindow when the campaign's spec did not parse.
//
// The policy for a zone that does not load (the runner's time-zone database lacks a zone the
// importer's had), and for a contact with no zone at all, is FailOutcome
// OutcomeInvalidTimeZone: the contact's local hours are unknown, and a contact is never called
// at hours that may be wrong for them. A zone is never replaced with UTC or the machine's zone.
func (h CallingHours) Decide(timeZones []string, now time.Time) Decision {
	if h.invalid != nil {
		return Decision{FailOutcome: OutcomeInvalidWindow}
	}
	zones, err := loadTimeZones(timeZones)
	if err != nil || len(zones) == 0 {
		return Decision{FailOutcome: OutcomeInvalidTimeZone}
	}
	next, ok := h.Window.NextOpen(now, zones)
	switch {
	case !ok:
		return Decision{FailOutcome: OutcomeNoCallingWindow}
	case next.After(now):
		return Decision{DeferUntil: next}
	default:
		return Decision{Queue: true}
	}
}

// LoadTimeZone loads an IANA time zone by name: the one rule for which names are zones, used by
// the CSV reader, the --timezone flag and the calling-window decision. "" and "Local", which
// time.LoadLocation takes for UTC and the machine's zone, are refused: they mean different
// things on different machines.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as Europe/London", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as Europe/London", name)
	}
	return loc, nil
}

// loadTimeZones loads IANA zones by name (LoadTimeZone); the error names the first that does
// not load.
func loadTimeZones(names []string) ([]*time.Location, error) {
	zones := make([]*time.Location, 0, len(names))
	for _, name := range names {
		loc, err := LoadTimeZone(name)
		if err != nil {
			return nil, fmt.Errorf("load time zone: %w", err)
		}
		zones = append(zones, loc)
	}
	return zones, nil
}

// ---- formatting ----

// windowWeekOrder is the order days are listed in canonical specs.
var windowWeekOrder = [7]time.Weekday{
	time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday,
}

var windowDayAbbrev = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// String returns the canonical spec of w, which ParseWindow parses back to an
// equal Window: "always", or clauses "; "-separated, one per distinct set of
// ranges, in order of their first day from Monday; days as 3-letter names
// ("mon-fri", "sat,sun", "fri-mon", omitted when every day); ranges as
// "HH:MM-HH:MM" joined by ", ". The zero Window gives "".
func (w Window) String() string {
	if w.IsAlways() {
		return "always"
	}
	var b strings.Builder
	var done uint8
	for _, d := range windowWeekOrder {
		if done&(1<<d) != 0 || len(w.days[d]) == 0 {
			continue
		}
		var mask uint8
		for _, e := range windowWeekOrder {
			if slices.Equal(w.days[e], w.days[d]) {
				mask |= 1 << e
			}
		}
		done |= mask
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		if mask != windowAllDays {
			b.WriteString(formatWindowDays(mask))
			b.WriteByte(' ')
		}
		for i, s := range w.days[d] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatWindowMinute(s.start))
			b.WriteByte('-')
			b.WriteString(formatWindowMinute(s.end))
		}
	}
	return b.String()
}

func formatWindowMinute(m int) string {
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

// formatWindowDays formats a non-empty, non-full set of weekdays (bit d set for
// time.Weekday d): runs of three or more consecutive days as "first-last", the
// others listed with ",". A run through Sunday into Monday is written as one
// wrapping range ("fri-mon") and listed last.
func formatWindowDays(mask uint8) string {
	type run struct{ first, n int } // positions in windowWeekOrder
	var runs []run
	for i := 0; i < 7; i++ {
		if mask&(1<<windowWeekOrder[i]) == 0 {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].first+runs[n-1].n == i {
			runs[n-1].n++
		} else {
			runs = append(runs, run{i, 1})
		}
	}
	if n := len(runs); n > 1 && runs[0].first == 0 && runs[n-1].first+runs[n-1].n == 7 &&
		runs[0].n+runs[n-1].n >= 3 {
		wrapped := run{runs[n-1].first, runs[n-1].n + runs[0].n}
		runs = append(runs[1:n-1], wrapped)
	}
	var parts []string
	for _, r := range runs {
		first := windowDayAbbrev[windowWeekOrder[r.first]]
		last := windowDayAbbrev[windowWeekOrder[(r.first+r.n-1)%7]]
		switch {
		case r.n == 1:
			parts = append(parts, first)
		case r.n == 2:
			parts = append(parts, first, last)
		default:
			parts = append(parts, first+"-"+last)
		}
	}
	return strings.Join(parts, ",")
}

// ---- parsing ----

var windowDayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tues": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "weds": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thur": time.Thursday, "thurs": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

const (
	windowWeekdays = uint8(1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday)
	windowWeekends = uint8(1<<time.Saturday | 1<<time.Sunday)
)

var windowDayGroups = map[string]uint8{
	"daily":    windowAllDays,
	"everyday": windowAllDays,
	"weekdays": windowWeekdays,
	"weekday":  windowWeekdays,
	"weekends": windowWeekends,
	"weekend":  windowWeekends,
}

type windowTokKind uint8

const (
	windowTokWord windowTokKind = iota + 1
	windowTokTime
	windowTokDash
	windowTokComma
	windowTokSemi
)

type windowTok struct {
	kind     windowTokKind
	pos, end int // byte offsets of the token in the spec
}

type windowParser struct {
	spec      string
	toks      []windowTok
	i         int    // next token
	lastRange string // text of the last range parsed, for errors
}

func (p *windowParser) errorf(format string, args ...any) error {
	return fmt.Errorf("window %q: %s", p.spec, fmt.Sprintf(format, args...))
}

// text returns the spec text from the start of token i to the end of token j.
func (p *windowParser) text(i, j int) string {
	return p.spec[p.toks[i].pos:p.toks[j].end]
}

// peek returns the kind of the token k places ahead, or 0 past the end.
func (p *windowParser) peek(k int) windowTokKind {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k].kind
	}
	return 0
}

// ParseWindow parses a spec such as "mon-fri 09:00-20:00; sat 10:00-14:00".
//
// Grammar (case-insensitive; spaces are allowed anywhere between tokens):
//
//	spec    = "always" | clause { sep clause } [ ";" ]
//	sep     = ";" | ","              (a "," separates clauses only when a day name follows it)
//	clause  = [ days ] range { "," range }
//	days    = dayitem { [ "," ] dayitem }
//	dayitem = day [ "-" day ]        (ranges may wrap: "fri-mon" = fri,sat,sun,mon)
//	        | "daily" | "everyday" | "weekdays" | "weekday" | "weekends" | "weekend"
//	day     = "mon" | "monday" | "tue" | "tues" | "tuesday" | "wed" | "weds" | "wednesday"
//	        | "thu" | "thur" | "thurs" | "thursday" | "fri" | "friday" | "sat" | "saturday"
//	        | "sun" | "sunday"
//	range   = time "-" time          (the end must be after the start; "–" may be used for "-")
//	time    = H:MM | HH:MM           (00:00 to 23:59; 24:00 only as the end of a range)
//
// Examples: "09:00-20:00", "mon-fri 09:00-12:00, 13:00-17:00; sat 10:00-14:00",
// "Mon,Wed,Fri 9:00-17:00, sat 10:00-12:00", "weekdays 8:30-21:00; weekends 10:00-18:00".
//
// A clause without days applies to every day. Clauses are additive: a later
// clause naming a day that is already covered adds its ranges to that day (the
// union is taken, so overlapping or touching ranges merge). Overnight ranges
// such as 22:00-02:00 are rejected; write them as two clauses split at
// midnight ("22:00-24:00; 00:00-02:00"). A spec whose every day is 00:00-24:00
// is the same window as "always".
//
// Errors quote the spec and the offending part, e.g.
// `window "mon-fry 09:00-17:00": unknown day "fry"`.
func ParseWindow(spec string) (Window, error) {
	p := &windowParser{spec: spec}
	trimmed := strings.TrimSpace(spec)
	if trimmed == "" {
		return Window{}, p.errorf("empty spec")
	}
	if strings.EqualFold(trimmed, "always") {
		return AlwaysOpen(), nil
	}
	if err := p.lex(); err != nil {
		return Window{}, err
	}
	var w Window
	clauses := 0
	for p.i < len(p.toks) {
		if p.peek(0) == windowTokSemi {
			p.i++ // empty clause, e.g. a trailing ";"
			continue
		}
		clauseStart := p.i
		mask, err := p.parseDays()
		if err != nil {
			return Window{}, err
		}
		if err := p.parseRanges(clauseStart, mask, &w); err != nil {
			return Window{}, err
		}
		clauses++
		switch p.peek(0) {
		case 0:
		case windowTokSemi:
			p.i++
		case windowTokComma:
			switch p.peek(1) {
			case windowTokWord:
				p.i++ // "," then a day: a new clause
			case 0:
				return Window{}, p.errorf("dangling \",\" after %q", p.lastRange)
			default:
				return Window{}, p.errorf("unexpected %q after \"%s,\"", p.text(p.i+1, p.i+1), p.lastRange)
			}
		case windowTokWord:
			return Window{}, p.errorf("unexpected %q after %q: separate clauses with \";\" and put the days before the times, e.g. %q",
				p.text(p.i, p.i), p.lastRange, "mon-fri 09:00-17:00; sat 10:00-14:00")
		default:
			return Window{}, p.errorf("unexpected %q after %q", p.text(p.i, p.i), p.lastRange)
		}
	}
	if clauses == 0 {
		return Window{}, p.errorf("empty spec")
	}
	for d := range w.days {
		w.days[d] = normalizeWindowSpans(w.days[d])
	}
	return w, nil
}

func (p *windowParser) lex() error {
	s := p.spec
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		start := i
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i += size
			continue
		case r == '-' || r == '–' || r == '—':
			i += size
			p.toks = append(p.toks, windowTok{windowTokDash, start, i})
		case r == ',':
			i += size
			p.toks = append(p.toks, windowTok{windowTokComma, start, i})
		case r == ';':
			i += size
			p.toks = append(p.toks, windowTok{windowTokSemi, start, i})
		case isWindowLetter(s[i]):
			for i < len(s) && isWindowLetter(s[i]) {
				i++
			}
			p.toks = append(p.toks, windowTok{windowTokWord, start, i})
		case s[i] >= '0' && s[i] <= '9':
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == ':' || s[i] == '.' || isWindowLetter(s[i])) {
				i++
			}
			p.toks = append(p.toks, windowTok{windowTokTime, start, i})
		default:
			return p.errorf("unexpected character %q at offset %d", s[i:i+size], start)
		}
	}
	return nil
}

func isWindowLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseDays parses an optional day list; no days means every day.
func (p *windowParser) parseDays() (uint8, error) {
	var mask uint8
	sawDay := false
	for p.peek(0) == windowTokWord {
		word := p.text(p.i, p.i)
		lower := strings.ToLower(word)
		if g, ok := windowDayGroups[lower]; ok {
			if p.peek(1) == windowTokDash {
				return 0, p.errorf("%q cannot be used in a day range", word)
			}
			mask |= g
			p.i++
		} else if d, ok := windowDayNames[lower]; ok {
			p.i++
			if p.peek(0) == windowTokDash {
				if p.peek(1) != windowTokWord {
					return 0, p.errorf("day range %q has no end day", p.text(p.i-1, p.i))
				}
				word2 := p.text(p.i+1, p.i+1)
				lower2 := strings.ToLower(word2)
				d2, ok := windowDayNames[lower2]
				if !ok {
					if _, isGroup := windowDayGroups[lower2]; isGroup {
						return 0, p.errorf("%q cannot be used in a day range", word2)
					}
					return 0, p.unknownDay(word2)
				}
				for e := d; ; e = (e + 1) % 7 {
					mask |= 1 << e
					if e == d2 {
						break
					}
				}
				p.i += 2
			} else {
				mask |= 1 << d
			}
		} else {
			return 0, p.unknownDay(word)
		}
		sawDay = true
		// Days may be separated by "," or just spaces. A "," between the days
		// and the first range is tolerated.
		if p.peek(0) == windowTokComma && (p.peek(1) == windowTokWord || p.peek(1) == windowTokTime) {
			p.i++
		}
	}
	if !sawDay {
		mask = windowAllDays
	}
	return mask, nil
}

func (p *windowParser) unknownDay(word string) error {
	if strings.EqualFold(word, "always") {
		return p.errorf("%q must be the whole spec", word)
	}
	return p.errorf("unknown day %q", word)
}

// parseRanges parses one or more ","-separated time ranges and adds them to the
// days in mask.
func (p *windowParser) parseRanges(clauseStart int, mask uint8, w *Window) error {
	if p.peek(0) != windowTokTime {
		clause := ""
		if p.i > clauseStart {
			clause = p.text(clauseStart, p.i-1)
		}
		if p.i >= len(p.toks) || p.peek(0) == windowTokSemi {
			return p.errorf("clause %q has no time range", clause)
		}
		if p.i == clauseStart {
			return p.errorf("expected a day or a time range, found %q", p.text(p.i, p.i))
		}
		return p.errorf("expected a time range after %q, found %q", clause, p.text(p.i, p.i))
	}
	for {
		startTok := p.i
		start, err := p.parseTime(false)
		if err != nil {
			return err
		}
		p.i++
		if p.peek(0) != windowTokDash {
			return p.errorf("range starting at %q has no \"-\" and end time", p.text(startTok, startTok))
		}
		p.i++
		if p.peek(0) != windowTokTime {
			return p.errorf("range %q has no end time", p.text(startTok, p.i-1))
		}
		end, err := p.parseTime(true)
		if err != nil {
			return err
		}
		rng := p.text(startTok, p.i)
		p.lastRange = rng
		p.i++
		switch {
		case end == start:
			return p.errorf("range %q is empty: the end must be after the start", rng)
		case end == 0:
			return p.errorf("range %q ends before it starts: write midnight at the end of a day as 24:00, e.g. %q",
				rng, formatWindowMinute(start)+"-24:00")
		case end < start:
			return p.errorf("range %q ends before it starts: overnight windows are not supported, split them at midnight into two clauses, e.g. %q",
				rng, overnightWindowHint(mask, start, end))
		}
		for d := range w.days {
			if mask&(1<<d) != 0 {
				w.days[d] = append(w.days[d], windowSpan{start, end})
			}
		}
		if p.peek(0) == windowTokComma && p.peek(1) == windowTokTime {
			p.i++
			continue
		}
		return nil
	}
}

// parseTime parses the time token at p.i as minutes since midnight.
func (p *windowParser) parseTime(isEnd bool) (int, error) {
	s := p.text(p.i, p.i)
	m, ok := parseWindowMinute(s)
	if !ok {
		return 0, p.errorf("bad time %q: want HH:MM between 00:00 and 24:00, e.g. \"09:30\"", s)
	}
	if m == windowMinutesPerDay && !isEnd {
		return 0, p.errorf("bad time %q: 24:00 is only allowed as the end of a range", s)
	}
	return m, nil
}

func parseWindowMinute(s string) (int, bool) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, false
	}
	h, m := 0, 0
	for _, c := range []byte(hs) {
		if c < '0' || c > '9' {
			return 0, false
		}
		h = h*10 + int(c-'0')
	}
	for _, c := range []byte(ms) {
		if c < '0' || c > '9' {
			return 0, false
		}
		m = m*10 + int(c-'0')
	}
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

// overnightWindowHint rewrites an overnight range as two clauses: the evening
// on the given days and the early morning on the days after.
func overnightWindowHint(mask uint8, start, end int) string {
	evening := formatWindowMinute(start) + "-24:00"
	morning := "00:00-" + formatWindowMinute(end)
	if mask == windowAllDays {
		return evening + "; " + morning
	}
	next := mask<<1&windowAllDays | mask>>6
	return formatWindowDays(mask) + " " + evening + "; " + formatWindowDays(next) + " " + morning
}

// normalizeWindowSpans sorts spans and merges overlapping or touching ones.
func normalizeWindowSpans(spans []windowSpan) []windowSpan {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b windowSpan) int { return a.start - b.start })
	out := spans[:1]
	for _, s := range spans[1:] {
		if last := &out[len(out)-1]; s.start <= last.end {
			last.end = max(last.end, s.end)
		} else {
			out = append(out, s)
		}
	}
	return slices.Clip(out)
}
