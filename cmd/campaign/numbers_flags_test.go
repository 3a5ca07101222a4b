package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// TestNumberPoolFlags: --phone-number-id repeats and takes commas (VAPI_PHONE_NUMBER_ID too),
// --phone-numbers-file adds one id a line after them, repeats dropped; the first is the
// campaign's phone number. The strategy and the per-number limits are checked.
func TestNumberPoolFlags(t *testing.T) {
	b := setupFlags(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "numbers.txt")
	require.NoError(t, os.WriteFile(file, []byte("# our lines\npn-c\n\n  pn-a   # again\npn-d\n"), 0o600))

	o, code := parse(t, b, newRunCmd, "run", "f.csv", "--dry-run", "--phone-number-id", "pn-a",
		"--phone-number-id", "pn-b,pn-c", "--phone-numbers-file", file)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, []string{"pn-a", "pn-b", "pn-c", "pn-d"}, o.PhoneNumberIDs)
	require.Equal(t, "pn-a", o.PhoneNumberID)
	require.Equal(t, string(campaign.StrategyRoundRobin), o.NumberStrategy, "the default")
	require.True(t, o.SameNumberOnRetry, "the default")
	require.Zero(t, o.PerNumberMaxConcurrent)
	require.Zero(t, o.PerNumberDailyCap)

	b.env["VAPI_PHONE_NUMBER_ID"] = "pn-x,pn-y"
	o, code = parse(t, b, newRunCmd, "run", "f.csv", "--dry-run", "--number-strategy", "local-presence",
		"--per-number-max-concurrent", "2", "--per-number-daily-cap", "100", "--same-number-on-retry=false")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, []string{"pn-x", "pn-y"}, o.PhoneNumberIDs, "from the environment")
	require.Equal(t, "local-presence", o.NumberStrategy)
	require.Equal(t, 2, o.PerNumberMaxConcurrent)
	require.Equal(t, 100, o.PerNumberDailyCap)
	require.False(t, o.SameNumberOnRetry)
	delete(b.env, "VAPI_PHONE_NUMBER_ID")

	// A real run is satisfied by the file alone.
	b.env[envAPIKey] = "key"
	o, code = parse(t, b, newRunCmd, "run", "f.csv", "--assistant-id", "a", "--phone-numbers-file", file)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "pn-c", o.PhoneNumberID)
	delete(b.env, envAPIKey)

	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, []byte("# none yet\n\n"), 0o600))
	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("pn-a\npn-b pn-c\n"), 0o600))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown strategy", []string{"--number-strategy", "random"}, `--number-strategy: unknown number strategy "random"`},
		{"negative concurrency", []string{"--per-number-max-concurrent", "-1"}, "--per-number-max-concurrent must be 0 (no limit) or more"},
		{"negative daily cap", []string{"--per-number-daily-cap", "-3"}, "--per-number-daily-cap must be 0 (no limit) or more"},
		{"empty id", []string{"--phone-number-id", "pn-a,"}, "--phone-number-id: an empty phone number id"},
		{"id with a space", []string{"--phone-number-id", "pn a"}, `--phone-number-id "pn a"`},
		{"missing file", []string{"--phone-numbers-file", filepath.Join(dir, "nope.txt")}, "--phone-numbers-file: open"},
		{"empty file", []string{"--phone-numbers-file", empty}, "has no phone number id"},
		{"two ids a line", []string{"--phone-numbers-file", bad}, `line 2: want one phone number id per line, got "pn-b pn-c"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUsage(t, b, newRunCmd, tt.want, append([]string{"run", "f.csv", "--dry-run"}, tt.args...)...)
		})
	}
}

// TestNumberPoolResumeAndSetFlags: resume replaces the pool only when a number flag is given;
// set and resume change the per-number limits (0 removes one).
func TestNumberPoolResumeAndSetFlags(t *testing.T) {
	b := setupFlags(t)
	b.env[envAPIKey] = "key"
	o, code := parse(t, b, newResumeCmd, "resume", "nov", "--phone-number-id", "pn-a,pn-b")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, routingGiven{PhoneNumberID: true}, o.Given)
	require.Equal(t, []string{"pn-a", "pn-b"}, o.PhoneNumberIDs)
	require.Equal(t, "pn-a", o.PhoneNumberID)
	o, code = parse(t, b, newResumeCmd, "resume", "nov", "--per-number-daily-cap", "50")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, routingGiven{}, o.Given, "the campaign's pool stays")
	require.Equal(t, 50, *o.Pacing.PerNumberDailyCap)
	require.Nil(t, o.Pacing.PerNumberMaxConcurrent)

	s, code := parse(t, b, newSetCmd, "set", "nov", "--per-number-max-concurrent", "3", "--per-number-daily-cap", "0")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 3, *s.Pacing.PerNumberMaxConcurrent)
	require.Equal(t, 0, *s.Pacing.PerNumberDailyCap, "0 removes the cap")
	requireUsage(t, b, newSetCmd, "--per-number-max-concurrent must be 0 (no limit) or more", "set", "nov", "--per-number-max-concurrent", "-1")
}

// TestApplyLikeNumberPool: run --like copies the source's pool, strategy, per-number limits and
// retry rule unless their flags are given; a number flag replaces the whole pool.
func TestApplyLikeNumberPool(t *testing.T) {
	src := &campaign.Campaign{Name: "nov", Settings: campaign.Settings{
		PhoneNumberID: "pn-a", PhoneNumberIDs: []string{"pn-a", "pn-b"}, NumberStrategy: campaign.StrategyLocalPresence,
		PerNumberMaxConcurrent: 2, PerNumberDailyCap: 90, NewNumberOnRetry: true,
	}}
	o := &runOptions{SameNumberOnRetry: true}
	o.applyLike(&likeSource{campaign: src}, func(string) bool { return false })
	require.Equal(t, []string{"pn-a", "pn-b"}, o.PhoneNumberIDs)
	require.Equal(t, "pn-a", o.PhoneNumberID)
	require.Equal(t, "local-presence", o.NumberStrategy)
	require.Equal(t, 2, o.PerNumberMaxConcurrent)
	require.Equal(t, 90, o.PerNumberDailyCap)
	require.False(t, o.SameNumberOnRetry)

	o = &runOptions{NumberStrategy: "round-robin", SameNumberOnRetry: true}
	o.PhoneNumberIDs = []string{"pn-z"}
	o.applyLike(&likeSource{campaign: src}, func(flag string) bool {
		return flag == "phone-number-id" || flag == "number-strategy" || flag == "same-number-on-retry"
	})
	require.Equal(t, []string{"pn-z"}, o.PhoneNumberIDs, "the flag's pool, not the source's")
	require.Equal(t, "round-robin", o.NumberStrategy)
	require.True(t, o.SameNumberOnRetry)
	require.Equal(t, 2, o.PerNumberMaxConcurrent, "still copied")
}
