package main

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeployFiles checks what docker-compose.yml and the Dockerfile promise: compose refuses to
// start serve without VAPI_API_KEY, and both run `campaign healthcheck` (the distroless image
// has no shell or curl) with arguments the command accepts.
func TestDeployFiles(t *testing.T) {
	compose, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\s+VAPI_API_KEY: \$\{VAPI_API_KEY:\?[^}]+\}$`, string(compose))
	m := regexp.MustCompile(`(?m)^\s+test: (\["CMD", "campaign", "healthcheck".*\])$`).FindSubmatch(compose)
	require.NotNil(t, m, "serve's healthcheck runs campaign healthcheck")
	checkHealthcheckArgs(t, m[1])

	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	m = regexp.MustCompile(`(?m)^\s+CMD (\["campaign", "healthcheck".*\])$`).FindSubmatch(dockerfile)
	require.NotNil(t, m, "the image has a HEALTHCHECK that runs campaign healthcheck")
	require.Regexp(t, `(?m)^HEALTHCHECK .*\\$`, string(dockerfile))
	checkHealthcheckArgs(t, m[1])
}

// checkHealthcheckArgs runs the JSON exec form of a healthcheck with --help appended: the
// command and its flags exist.
func checkHealthcheckArgs(t *testing.T, execForm []byte) {
	t.Helper()
	var args []string
	require.NoError(t, json.Unmarshal(execForm, &args))
	if args[0] == "CMD" {
		args = args[1:]
	}
	require.Equal(t, "campaign", args[0])
	b := setup(t)
	require.Equal(t, exitOK, b.run(t, append(args[1:], "--help")...), "%v: %s", args, b.stderr)
	require.Contains(t, b.stdout.String(), "/healthz")
}
