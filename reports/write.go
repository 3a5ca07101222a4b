package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Format is a report's output format.
type Format string

// Formats.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
	FormatCSV  Format = "csv"
	FormatHTML Format = "html"
)

// ParseFormat checks a format name ("" means text).
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return FormatText, nil
	case FormatText, FormatJSON, FormatCSV, FormatHTML:
		return f, nil
	}
	return "", fmt.Errorf("unknown report format %q: want text, json, csv or html", s)
}

// Write writes r to w in format f.
func Write(w io.Writer, r *Report, f Format) error {
	bw := bufio.NewWriter(w)
	var err error
	switch f {
	case FormatText:
		err = WriteText(bw, r)
	case FormatJSON:
		err = WriteJSON(bw, r)
	case FormatCSV:
		err = WriteCSV(bw, r)
	case FormatHTML:
		err = WriteHTML(bw, r)
	default:
		err = fmt.Errorf("unknown report format %q", f)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// WriteJSON writes r as one indented JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// The helpers below format figures the same way in the text, CSV and HTML forms.

// timeLayout is how the text and HTML forms show an instant (always UTC).
const timeLayout = "2006-01-02 15:04 MST"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// fmtTimePtr is fmtTime, or none for nil.
func fmtTimePtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return fmtTime(*t)
}

// pct is a share as a percentage with one decimal; "–" for nil.
func pct(s *float64) string {
	if s == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", *s*100)
}

// usd is an amount in dollars: cents from a dollar up, else four decimals.
func usd(v float64) string {
	if math.Abs(v) >= 1 {
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// usdPtr is usd, or "–" for nil.
func usdPtr(v *float64) string {
	if v == nil {
		return "–"
	}
	return usd(*v)
}

// seconds is a duration in seconds as 45.2s, 2m05s or 1h02m.
func seconds(s float64) string {
	d := time.Duration(math.Round(s)) * time.Second
	switch {
	case s < 60:
		return fmt.Sprintf("%.1fs", s)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// secondsPtr is seconds, or "–" for nil.
func secondsPtr(s *float64) string {
	if s == nil {
		return "–"
	}
	return seconds(*s)
}

// bucketLabel names a duration bucket: "< 30s", "30s–1m", "10m+".
func bucketLabel(b DurationBucket) string {
	switch {
	case b.ToSeconds == nil:
		return shortSeconds(b.FromSeconds) + "+"
	case b.FromSeconds == 0:
		return "< " + shortSeconds(*b.ToSeconds)
	}
	return shortSeconds(b.FromSeconds) + "–" + shortSeconds(*b.ToSeconds)
}

// bucketAxis is a duration bucket's short name under a chart's column: its lower bound.
func bucketAxis(b DurationBucket) string {
	switch {
	case b.ToSeconds == nil:
		return shortSeconds(b.FromSeconds) + "+"
	case b.FromSeconds == 0:
		return "<" + shortSeconds(*b.ToSeconds)
	}
	return shortSeconds(b.FromSeconds)
}

// shortSeconds is a bucket bound: 30s, 2m.
func shortSeconds(s float64) string {
	if s >= 60 && math.Mod(s, 60) == 0 {
		return fmt.Sprintf("%.0fm", s/60)
	}
	return fmt.Sprintf("%.0fs", s)
}

// stageLabel is the text of a funnel stage.
func stageLabel(stage string) string {
	switch stage {
	case StageConnected:
		return "connected to a person"
	case StageSuccessful:
		return "successful (success evaluation)"
	}
	return stage
}

// keyLabel shows a group key, "(none)" for "".
func keyLabel(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

// reasonLabel shows an ended reason, "(no result yet)" for "".
func reasonLabel(r string) string {
	if r == "" {
		return "(no result yet)"
	}
	return r
}

// rejectsText lists import rejects by reason, in reason order.
func rejectsText(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
