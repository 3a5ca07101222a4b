package export

import (
	"bufio"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/campaign-run/campaign/campaign"
)

// jsonlContacts writes contacts as JSON Lines: one object per contact, keyed by the header.
type jsonlContacts struct {
	w    *bufio.Writer
	keys [][]byte // `"name":` for each column, the first preceded by '{', the others by ','
	line []byte
}

func newJSONLContacts(w *bufio.Writer, header []string) *jsonlContacts {
	j := &jsonlContacts{w: w, keys: make([][]byte, len(header))}
	for i, h := range header {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		j.keys[i] = append(appendJSONString([]byte{sep}, h), ':')
	}
	return j
}

func (j *jsonlContacts) write(x *contactRows, r *campaign.ContactResult) error {
	b, k := j.line[:0], 0
	key := func() {
		b = append(b, j.keys[k]...)
		k++
	}
	for i := range x.width {
		key()
		f := ""
		if i < len(r.Fields) {
			f = r.Fields[i]
		}
		b = appendJSONString(b, f)
	}
	loc := x.zones.get(r.TimeZone)
	key()
	b = appendJSONString(b, string(r.State))
	key()
	b = appendJSONString(b, r.Outcome)
	key()
	b = appendJSONString(b, r.LastEndedReason)
	key()
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	for _, t := range []time.Time{r.FirstCallAt, r.LastCallAt} {
		key()
		b = appendJSONTime(b, t, time.UTC)
		key()
		b = appendJSONTime(b, t, loc)
	}
	key()
	b = appendJSONString(b, r.TimeZone)
	for _, v := range []struct {
		v        float64
		decimals int
	}{{r.DurationSeconds, 3}, {r.CostUSD, 6}} {
		key()
		if r.Calls > 0 {
			b = append(b, formatNumber(v.v, v.decimals)...)
		} else {
			b = append(b, "null"...)
		}
	}
	for _, s := range []string{r.SuccessEvaluation, r.Summary, r.RecordingURL, r.LastCallID, r.Phone, r.IneligibleReason,
		r.CallerNumberID, r.CallerNumber} {
		key()
		b = appendJSONString(b, s)
	}
	for _, v := range r.Structured {
		key()
		if v == "" {
			v = "null"
		}
		b = append(b, v...)
	}
	if k == 0 {
		b = append(b, '{')
	}
	b = append(b, '}', '\n')
	j.line = b
	_, err := j.w.Write(b)
	return err
}

// appendJSONTime appends t in loc as an RFC 3339 JSON string, or null when t is zero or loc nil.
func appendJSONTime(b []byte, t time.Time, loc *time.Location) []byte {
	if t.IsZero() || loc == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.In(loc).AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, everything else as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
