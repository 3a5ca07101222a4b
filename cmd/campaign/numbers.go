package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
)

// resolveCallerNumbers makes the pool of numbers the calls come from: the --phone-number-id
// values (repeated or comma-separated) then the --phone-numbers-file ids, repeats dropped, first
// seen first; PhoneNumberID becomes the first of them ("" for none).
func (o *callOptions) resolveCallerNumbers() error {
	pool := slices.Clone(o.PhoneNumberIDs)
	if o.PhoneNumbersFile != "" {
		ids, err := readPhoneNumbersFile(o.PhoneNumbersFile)
		if err != nil {
			return err
		}
		pool = append(pool, ids...)
	}
	var out []string
	for _, id := range pool {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			return usageErrorf("--phone-number-id: an empty phone number id")
		case strings.ContainsAny(id, " \t\"'"):
			return usageErrorf("--phone-number-id %q: a Vapi phone number id has no spaces or quotes", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	o.PhoneNumberIDs, o.PhoneNumberID = out, ""
	if len(out) > 0 {
		o.PhoneNumberID = out[0]
	}
	return nil
}

// setCallerNumbers makes pool the options' numbers (PhoneNumberID its first).
func (o *callOptions) setCallerNumbers(pool []string) {
	o.PhoneNumberIDs, o.PhoneNumberID = slices.Clone(pool), ""
	if len(pool) > 0 {
		o.PhoneNumberID = pool[0]
	}
}

// readPhoneNumbersFile reads a --phone-numbers-file: one Vapi phone number id per line; blank
// lines and what follows a # are ignored.
func readPhoneNumbersFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("--phone-numbers-file: %v", err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.ContainsAny(text, " \t,;\"'") {
			return nil, usageErrorf("--phone-numbers-file %s line %d: want one phone number id per line, got %q", path, line, text)
		}
		ids = append(ids, text)
	}
	if err := sc.Err(); err != nil {
		return nil, usageErrorf("--phone-numbers-file %s: %v", path, err)
	}
	if len(ids) == 0 {
		return nil, usageErrorf("--phone-numbers-file %s has no phone number id", path)
	}
	return ids, nil
}

// checkPerNumberLimit refuses a per-number limit below 0 (0 is none).
func checkPerNumberLimit(flag string, n int) error {
	if n < 0 {
		return usageErrorf("--%s must be 0 (no limit) or more, got %d", flag, n)
	}
	return nil
}

// perNumberLimitText is a per-number limit for people: the number, or "none".
func perNumberLimitText(n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprint(n)
}
