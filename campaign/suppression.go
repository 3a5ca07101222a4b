package campaign

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ReadSuppressionList reads numbers never to call and returns them in E.164. The input is either
// one number per line, or a CSV whose header names a phone column (found as for contacts).
// Numbers without a country code are read in defaultRegion. A line that is not a phone number
// is an error naming the line, so a suppression list is never half-applied by mistake.
func ReadSuppressionList(r io.Reader, defaultRegion string) ([]string, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read suppression list: %w", err)
	}
	firstLine, _, _ := strings.Cut(strings.TrimPrefix(string(first), "\ufeff"), "\n")
	firstLine = strings.TrimSpace(firstLine)
	if _, _, _, perr := ParsePhone(firstLine, defaultRegion); perr != nil && firstLine != "" {
		return readSuppressionCSV(br, defaultRegion)
	}
	var numbers []string
	sc := bufio.NewScanner(br)
	for line := 1; sc.Scan(); line++ {
		raw := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if raw == "" {
			continue
		}
		e164, _, _, err := ParsePhone(raw, defaultRegion)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a phone number: %w", line, raw, err)
		}
		numbers = append(numbers, e164)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read suppression list: %w", err)
	}
	return numbers, nil
}

func readSuppressionCSV(r io.Reader, defaultRegion string) ([]string, error) {
	reader, err := NewReader(r, ReaderOptions{DefaultRegion: defaultRegion})
	if err != nil {
		return nil, err
	}
	var numbers []string
	for {
		row, rej, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return numbers, nil
		}
		if err != nil {
			return nil, err
		}
		if rej != nil {
			return nil, fmt.Errorf("line %d: %s: %s", rej.Line, rej.Reason, rej.Detail)
		}
		numbers = append(numbers, row.Phone)
	}
}
