package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSimulatorCommand(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []*vapi.ServerMessage
	var headers []http.Header
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m, err := vapi.ParseServerMessage(b)
		if err == nil {
			mu.Lock()
			got, headers = append(got, m), append(headers, r.Header.Clone())
			mu.Unlock()
		}
	}))
	defer rc.Close()

	stderr := &syncBuffer{}
	a := &app{in: bytes.NewReader(nil), out: io.Discard, errOut: stderr,
		getenv: func(k string) string {
			return map[string]string{"VAPI_API_KEY": "k1-secret-value", envWebhookSecret: "whs"}[k]
		},
		now: time.Now}
	cmd := newSimulatorCmd(a, nil)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--time-scale", "60", "--seed", "42"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`VAPI_BASE_URL=(\S+)`)
	var base string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 5*time.Second, 10*time.Millisecond)
	require.NotContains(t, stderr.String(), "k1-secret-value", "a key from the environment may be real: never printed")
	require.Contains(t, stderr.String(), "VAPI_API_KEY=(the key you gave; not shown)")

	client, err := vapi.NewClient("k1-secret-value", &vapi.Config{BaseURL: base})
	require.NoError(t, err)
	start := time.Now()
	call, err := client.CreateCall(ctx, &vapi.CreateCallDTO{
		AssistantID: "a1f0c6a2-7b1e-4c59-9d33-000000000001", PhoneNumberID: "pn",
		Customer: &vapi.CreateCustomerDTO{Number: "+12015550101"},
		AssistantOverrides: &vapi.AssistantOverrides{
			VariableValues: map[string]any{"first_name": "Ann"},
			Metadata:       map[string]any{"row": "1"},
			Server:         &vapi.Server{URL: rc.URL, Headers: map[string]string{"X-Token": "t"}},
		},
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		var ended, report bool
		for _, m := range got {
			ended = ended || (m.StatusUpdate != nil && m.StatusUpdate.Status == vapi.CallStatusEnded)
			report = report || m.EndOfCallReport != nil
		}
		return ended && report
	}, 10*time.Second, 20*time.Millisecond)
	t.Logf("call %s ended and reported after %s", call.ID, time.Since(start))
	mu.Lock()
	for i, h := range headers {
		require.Equal(t, "t", h.Get("X-Token"))
		require.Equal(t, "whs", h.Get("X-Vapi-Secret"))
		if r := got[i].EndOfCallReport; r != nil {
			d, ok := r.Duration()
			require.True(t, ok)
			require.GreaterOrEqual(t, d, 30*time.Second)
			require.Equal(t, "1", r.Call.AssistantOverrides.Metadata["row"])
		}
	}
	mu.Unlock()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "simulator did not stop")
	}
}

func TestSimulatorCommandFlags(t *testing.T) {
	t.Parallel()
	a := &app{in: bytes.NewReader(nil), out: io.Discard, errOut: io.Discard, getenv: func(string) string { return "" }, now: time.Now}
	for _, args := range [][]string{{"--concurrency-mode", "x"}, {"--time-scale", "0"}, {"--fault-webhook-drop", "2"}} {
		cmd := newSimulatorCmd(a, func(*simulatorOptions) error { return errors.New("ran despite the usage error") })
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		var ue *usageError
		require.ErrorAs(t, cmd.Execute(), &ue, args)
	}

	// The key and the spec come from the environment; flags win.
	b := setupFlags(t)
	b.env["VAPI_API_KEY"] = "key-from-env"
	b.env["VAPI_OPENAPI_SPEC"] = "/specs/openapi.json"
	o, code := parse(t, b, newSimulatorCmd, "simulator", "--openapi-spec", "/flag/openapi.json", "--mix-busy", "0.5",
		"--phone-number-id", "pn-1", "--phone-number-id", "pn-2")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "key-from-env", o.APIKey)
	require.Equal(t, "/flag/openapi.json", o.SpecFile)
	require.Equal(t, 0.5, o.Mix.Busy)
	require.Equal(t, []string{"pn-1", "pn-2"}, o.PhoneNumberIDs)
}
