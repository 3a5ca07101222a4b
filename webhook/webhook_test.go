package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

const (
	globalSecret = "global-secret-Zq9"
	hmacSecret   = "hmac-secret-Xw4"
	campaign7    = "campaign-7-secret-Ab1"
	campaign8    = "campaign-8-secret-Cd2"

	callID     = "019d2ad0-6eb1-7aac-9377-0fc25d8bc1ad"
	attemptKey = "cmp-7-g-1"
	fullNumber = "+14155551234"
)

// fakeRecorder keeps every event; RecordFunc, when set, decides the result.
type fakeRecorder struct {
	RecordFunc func(ctx context.Context, e *webhook.Event) error

	mu     sync.Mutex
	events []*webhook.Event
}

func (r *fakeRecorder) Record(ctx context.Context, e *webhook.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.RecordFunc != nil {
		return r.RecordFunc(ctx, e)
	}
	return nil
}

func (r *fakeRecorder) Events() []*webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*webhook.Event(nil), r.events...)
}

// fakeSecrets serves campaign secrets from a map; CampaignSecretFunc, when
// set, replaces the map.
type fakeSecrets struct {
	CampaignSecretFunc func(ctx context.Context, campaignID int64) (string, error)

	mu      sync.Mutex
	secrets map[int64]string
	asked   []int64
}

func (s *fakeSecrets) CampaignSecret(ctx context.Context, campaignID int64) (string, error) {
	s.mu.Lock()
	s.asked = append(s.asked, campaignID)
	s.mu.Unlock()
	if s.CampaignSecretFunc != nil {
		return s.CampaignSecretFunc(ctx, campaignID)
	}
	return s.secrets[campaignID], nil
}

func (s *fakeSecrets) Asked() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.asked...)
}

type testBundle struct {
	handler  http.Handler
	recorder *fakeRecorder
	secrets  *fakeSecrets
	now      time.Time
	logs     *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup builds a handler that knows the global secret, campaign 7's and 8's
// secrets, and the HMAC secret; mutate adjusts the config first.
func setup(t testing.TB, mutate func(*webhook.Config)) *testBundle {
	t.Helper()
	b := &testBundle{
		recorder: &fakeRecorder{},
		secrets:  &fakeSecrets{secrets: map[int64]string{7: campaign7, 8: campaign8}},
		now:      time.Date(2026, 8, 1, 12, 5, 0, 0, time.UTC),
		logs:     &syncBuffer{},
	}
	cfg := webhook.Config{
		Recorder:   b.recorder,
		Secrets:    b.secrets,
		Secret:     globalSecret,
		HMACSecret: hmacSecret,
		Now:        func() time.Time { return b.now },
		Logger:     slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := webhook.NewHandler(cfg)
	require.NoError(t, err)
	b.handler = h
	return b
}

// post sends body with the given headers and returns the response.
func (b *testBundle) post(t testing.TB, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/vapi/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func withSecret(s string) map[string]string { return map[string]string{"X-Vapi-Secret": s} }

// sign returns the HMAC headers for body at ts.
func sign(secret, ts string, body []byte) map[string]string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return map[string]string{"X-Signature": hex.EncodeToString(mac.Sum(nil)), "X-Timestamp": ts}
}

func requireOK(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{}`, rec.Body.String())
}

func TestStatusUpdateRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := readTestdata(t, "status-update.json")

	requireOK(t, b.post(t, body, withSecret(globalSecret)))

	events := b.recorder.Events()
	require.Len(t, events, 1)
	e := events[0]
	require.Equal(t, vapi.ServerMessageTypeStatusUpdate, e.Type)
	require.Equal(t, callID, e.CallID)
	require.Equal(t, attemptKey, e.AttemptKey) // from metadata: the call has no name
	require.Equal(t, int64(7), e.CampaignID)
	require.Equal(t, "ended", e.Status)
	require.Equal(t, body, e.Body)
	require.Equal(t, b.now, e.ReceivedAt)
	require.NotNil(t, e.Message.StatusUpdate)
	require.Equal(t, "customer-did-not-answer", e.Message.StatusUpdate.EndedReason)
	require.Empty(t, b.secrets.Asked(), "the global secret needs no lookup")
}

func TestEndOfCallReportRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := readTestdata(t, "end-of-call-report.json")

	requireOK(t, b.post(t, body, withSecret(campaign7)))

	events := b.recorder.Events()
	require.Len(t, events, 1)
	e := events[0]
	require.Equal(t, vapi.ServerMessageTypeEndOfCallReport, e.Type)
	require.Equal(t, callID, e.CallID)
	require.Equal(t, attemptKey, e.AttemptKey) // call.name
	require.Equal(t, int64(7), e.CampaignID)   // "7", a numeric string
	require.Empty(t, e.Status)
	require.Equal(t, body, e.Body)
	require.Equal(t, b.now, e.ReceivedAt)
	r := e.Message.EndOfCallReport
	require.NotNil(t, r)
	require.Equal(t, "customer-ended-call", r.EndedReason)
	require.Equal(t, "Jane confirmed she will pay the $120.50 balance on Friday.", r.SummaryText())
	require.Equal(t, []int64{7}, b.secrets.Asked())
}

func TestOtherTypeRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := readTestdata(t, "hang.json")

	requireOK(t, b.post(t, body, withSecret(campaign7)))

	events := b.recorder.Events()
	require.Len(t, events, 1)
	e := events[0]
	require.Equal(t, vapi.ServerMessageType("hang"), e.Type)
	require.Equal(t, callID, e.CallID)
	require.Equal(t, attemptKey, e.AttemptKey)
	require.Equal(t, int64(7), e.CampaignID)
	require.Empty(t, e.Status)
	require.Equal(t, body, e.Body)
	require.Nil(t, e.Message.StatusUpdate)
	require.Nil(t, e.Message.EndOfCallReport)
	require.NotEmpty(t, e.Message.Raw)
}

func TestEventFields(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name       string
		body       string
		callID     string
		attemptKey string
		campaignID int64
	}{
		{"no call", `{"message":{"type":"hang"}}`, "", "", 0},
		{"call not an object", `{"message":{"type":"hang","call":"x"}}`, "", "", 0},
		{"name wins over metadata", `{"message":{"type":"hang","call":{"id":"c","name":"n","assistantOverrides":{"metadata":{"attempt_key":"k","campaign_id":3}}}}}`, "c", "n", 3},
		{"metadata attempt key", `{"message":{"type":"status-update","status":"queued","call":{"id":"c","assistantOverrides":{"metadata":{"attempt_key":"k","campaign_id":"12"}}}}}`, "c", "k", 12},
		{"campaign id not numeric", `{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":"cmp-2026q3"}}}}}`, "", "", 0},
		{"campaign id fractional", `{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":7.5}}}}}`, "", "", 0},
		{"campaign id negative", `{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":-7}}}}}`, "", "", 0},
		{"campaign id object", `{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":{"a":1}}}}}}`, "", "", 0},
		{"metadata not an object", `{"message":{"type":"hang","call":{"id":"c","assistantOverrides":{"metadata":[1]}}}}`, "c", "", 0},
		{"large campaign id as string", `{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":"9007199254740993"}}}}}`, "", "", 9007199254740993},
		{"end-of-call-report", `{"message":{"type":"end-of-call-report","endedReason":"voicemail","call":{"id":"c","name":"n","assistantOverrides":{"metadata":{"campaign_id":5}}}}}`, "c", "n", 5},
		{"squad call", `{"message":{"type":"hang","call":{"id":"c","squadId":"s","squadOverrides":{"metadata":{"attempt_key":"k","campaign_id":4}}}}}`, "c", "k", 4},
		{"squad status-update", `{"message":{"type":"status-update","status":"queued","call":{"id":"c","squadId":"s","squadOverrides":{"metadata":{"attempt_key":"k","campaign_id":6}}}}}`, "c", "k", 6},
		{"squad end-of-call-report", `{"message":{"type":"end-of-call-report","endedReason":"voicemail","call":{"id":"c","name":"n","squadOverrides":{"metadata":{"campaign_id":8}}}}}`, "c", "n", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			requireOK(t, b.post(t, []byte(tc.body), withSecret(globalSecret)))
			events := b.recorder.Events()
			require.Len(t, events, 1)
			require.Equal(t, tc.callID, events[0].CallID)
			require.Equal(t, tc.attemptKey, events[0].AttemptKey)
			require.Equal(t, tc.campaignID, events[0].CampaignID)
		})
	}
}

func TestGlobalSecret(t *testing.T) {
	t.Parallel()

	t.Run("any campaign", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		requireOK(t, b.post(t, readTestdata(t, "end-of-call-report.json"), withSecret(globalSecret)))
		require.Len(t, b.recorder.Events(), 1)
		require.Empty(t, b.secrets.Asked())
	})

	t.Run("message without campaign", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		requireOK(t, b.post(t, []byte(`{"message":{"type":"status-update","status":"ringing"}}`), withSecret(globalSecret)))
		require.Len(t, b.recorder.Events(), 1)
	})

	t.Run("only a global secret configured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *webhook.Config) { c.Secrets = nil; c.HMACSecret = "" })
		requireOK(t, b.post(t, readTestdata(t, "status-update.json"), withSecret(globalSecret)))
		rec := b.post(t, readTestdata(t, "status-update.json"), withSecret(campaign7))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.Len(t, b.recorder.Events(), 1)
	})
}

func TestPerCampaignSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.Secret = "" })
	requireOK(t, b.post(t, readTestdata(t, "status-update.json"), withSecret(campaign7)))
	requireOK(t, b.post(t, readTestdata(t, "end-of-call-report.json"), withSecret(campaign7)))
	require.Len(t, b.recorder.Events(), 2)
	require.Equal(t, []int64{7, 7}, b.secrets.Asked())
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	statusUpdate := readTestdata(t, "status-update.json")
	noCampaign := []byte(`{"message":{"type":"status-update","status":"ringing","call":{"id":"c"}}}`)
	unknownCampaign := []byte(`{"message":{"type":"status-update","status":"ringing","call":{"id":"c","assistantOverrides":{"metadata":{"campaign_id":99}}}}}`)

	for _, tc := range []struct {
		name    string
		body    []byte
		headers map[string]string
		mutate  func(*webhook.Config)
	}{
		{"missing secret", statusUpdate, nil, nil},
		{"empty secret", statusUpdate, withSecret(""), nil},
		{"wrong secret", statusUpdate, withSecret("nope"), nil},
		{"global secret with a suffix", statusUpdate, withSecret(globalSecret + "x"), nil},
		{"global secret prefix", statusUpdate, withSecret(globalSecret[:5]), nil},
		{"secret of another campaign", statusUpdate, withSecret(campaign8), nil},
		{"campaign secret, message names no campaign", noCampaign, withSecret(campaign7), nil},
		{"unknown campaign", unknownCampaign, withSecret(campaign7), nil},
		{"unknown campaign, empty secret", unknownCampaign, withSecret(""), nil},
		{"the HMAC secret as a shared secret", statusUpdate, withSecret(hmacSecret), nil},
		{"campaign secret without Secrets", statusUpdate, withSecret(campaign7), func(c *webhook.Config) { c.Secrets = nil }},
		{"signature when HMAC is off", statusUpdate, sign(hmacSecret, "1785585900", statusUpdate), func(c *webhook.Config) { c.HMACSecret = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.mutate)
			rec := b.post(t, tc.body, tc.headers)
			require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
			require.Empty(t, b.recorder.Events())
			require.NotContains(t, rec.Body.String(), "secret")
		})
	}
}

// A request that presents no credential is refused before its body is read.
func TestNoCredentialsBodyNotRead(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := &countingReader{r: bytes.NewReader(readTestdata(t, "status-update.json"))}
	req := httptest.NewRequest(http.MethodPost, "/vapi/webhook", body)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Zero(t, body.n)
	require.Empty(t, b.secrets.Asked())
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestSecretsError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.secrets.CampaignSecretFunc = func(context.Context, int64) (string, error) {
		return "", errors.New("database is down")
	}
	rec := b.post(t, readTestdata(t, "status-update.json"), withSecret(campaign7))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Empty(t, b.recorder.Events())
	require.Contains(t, b.logs.String(), "database is down")
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "status-update.json")
	now := time.Date(2026, 8, 1, 12, 5, 0, 0, time.UTC)
	secs := strconv.FormatInt(now.Unix(), 10)
	millis := strconv.FormatInt(now.Add(-2*time.Second).UnixMilli(), 10)

	withPrefix := sign(hmacSecret, millis, body)
	withPrefix["X-Signature"] = "sha256=" + withPrefix["X-Signature"]
	upper := sign(hmacSecret, secs, body)
	upper["X-Signature"] = strings.ToUpper(upper["X-Signature"])
	badTimestamp := sign(hmacSecret, "yesterday", body)
	noTimestamp := sign(hmacSecret, secs, body)
	delete(noTimestamp, "X-Timestamp")
	otherTimestamp := sign(hmacSecret, secs, body)
	otherTimestamp["X-Timestamp"] = strconv.FormatInt(now.Unix()-1, 10)
	truncated := sign(hmacSecret, secs, body)
	truncated["X-Signature"] = truncated["X-Signature"][:40]
	staleButSecret := sign(hmacSecret, strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), body)
	staleButSecret["X-Vapi-Secret"] = globalSecret
	badButSecret := sign("wrong", secs, body)
	badButSecret["X-Vapi-Secret"] = campaign7

	for _, tc := range []struct {
		name    string
		body    []byte
		headers map[string]string
		mutate  func(*webhook.Config)
		want    int
	}{
		{"valid, seconds", body, sign(hmacSecret, secs, body), nil, http.StatusOK},
		{"valid, milliseconds, sha256= prefix", body, withPrefix, nil, http.StatusOK},
		{"valid, upper-case hex", body, upper, nil, http.StatusOK},
		{"valid, at the edge of the skew", body, sign(hmacSecret, strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10), body), nil, http.StatusOK},
		{"valid, HMAC only", body, sign(hmacSecret, secs, body), func(c *webhook.Config) { c.Secret = ""; c.Secrets = nil }, http.StatusOK},
		{"valid, custom skew", body, sign(hmacSecret, strconv.FormatInt(now.Add(-20*time.Minute).Unix(), 10), body), func(c *webhook.Config) { c.MaxSkew = time.Hour }, http.StatusOK},
		{"stale signature, valid shared secret", body, staleButSecret, nil, http.StatusOK},
		{"wrong signature, valid campaign secret", body, badButSecret, nil, http.StatusOK},
		{"wrong key", body, sign("wrong", secs, body), nil, http.StatusUnauthorized},
		{"tampered body", append(bytes.Clone(body), ' '), sign(hmacSecret, secs, body), nil, http.StatusUnauthorized},
		{"timestamp not signed", body, otherTimestamp, nil, http.StatusUnauthorized},
		{"truncated signature", body, truncated, nil, http.StatusUnauthorized},
		{"not hex", body, map[string]string{"X-Signature": "zz", "X-Timestamp": secs}, nil, http.StatusUnauthorized},
		{"stale", body, sign(hmacSecret, strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), body), nil, http.StatusUnauthorized},
		{"stale, milliseconds", body, sign(hmacSecret, strconv.FormatInt(now.Add(-6*time.Minute).UnixMilli(), 10), body), nil, http.StatusUnauthorized},
		{"from the future", body, sign(hmacSecret, strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), body), nil, http.StatusUnauthorized},
		{"absurd timestamp", body, sign(hmacSecret, "9223372036854775807", body), nil, http.StatusUnauthorized},
		{"timestamp not a number", body, badTimestamp, nil, http.StatusUnauthorized},
		{"timestamp missing", body, noTimestamp, nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.mutate)
			b.now = now
			rec := b.post(t, tc.body, tc.headers)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusOK {
				require.Len(t, b.recorder.Events(), 1)
				require.Equal(t, tc.body, b.recorder.Events()[0].Body)
			} else {
				require.Empty(t, b.recorder.Events())
			}
		})
	}
}

// bigTranscript returns an end-of-call report whose transcript makes the
// body at least size bytes.
func bigTranscript(t testing.TB, size int) []byte {
	t.Helper()
	var doc map[string]map[string]any
	require.NoError(t, json.Unmarshal(readTestdata(t, "end-of-call-report.json"), &doc))
	artifact := doc["message"]["artifact"].(map[string]any)
	line := "User: Yes, I can pay the balance on Friday, thank you for calling.\n"
	var (
		transcript string
		body       []byte
	)
	for {
		var err error
		body, err = json.Marshal(doc)
		require.NoError(t, err)
		if len(body) >= size {
			break
		}
		transcript += strings.Repeat(line, (size-len(body))/len(line)+1)
		artifact["transcript"] = transcript
	}
	require.GreaterOrEqual(t, len(body), size)
	return body
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()

	t.Run("1 MB transcript accepted by default", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := bigTranscript(t, 1<<20)
		requireOK(t, b.post(t, body, withSecret(globalSecret)))
		events := b.recorder.Events()
		require.Len(t, events, 1)
		require.Equal(t, body, events[0].Body)
		require.Greater(t, len(events[0].Message.EndOfCallReport.TranscriptText()), 1<<19)
	})

	t.Run("over the default with Content-Length", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		rec := b.post(t, bigTranscript(t, int(webhook.DefaultMaxBodyBytes)+1), withSecret(globalSecret))
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		require.Empty(t, b.recorder.Events())
	})

	t.Run("exactly the limit", func(t *testing.T) {
		t.Parallel()
		body := readTestdata(t, "status-update.json")
		b := setup(t, func(c *webhook.Config) { c.MaxBodyBytes = int64(len(body)) })
		requireOK(t, b.post(t, body, withSecret(globalSecret)))
		rec := b.post(t, append(bytes.Clone(body), ' '), withSecret(globalSecret))
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		require.Len(t, b.recorder.Events(), 1)
	})

	t.Run("over the limit without Content-Length", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *webhook.Config) { c.MaxBodyBytes = 1 << 10 })
		body := bigTranscript(t, 4<<10)
		req := httptest.NewRequest(http.MethodPost, "/vapi/webhook", io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1 // unknown, as with chunked encoding
		req.Header.Set("X-Vapi-Secret", globalSecret)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		require.Empty(t, b.recorder.Events())
	})

	t.Run("chunked over a real connection", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *webhook.Config) { c.MaxBodyBytes = 1 << 10 })
		srv := httptest.NewServer(b.handler)
		t.Cleanup(srv.Close)
		body := bigTranscript(t, 64<<10)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/vapi/webhook", io.MultiReader(bytes.NewReader(body)))
		require.NoError(t, err)
		req.Header.Set("X-Vapi-Secret", globalSecret)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		require.Empty(t, b.recorder.Events())
	})
}

func TestBadRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"not JSON", `hello`},
		{"truncated", `{"message":{"type":"status-update"`},
		{"trailing garbage", `{"message":{"type":"hang"}} x`},
		{"array", `[]`},
		{"null", `null`},
		{"string", `"message"`},
		{"no message", `{"type":"status-update"}`},
		{"message not an object", `{"message":"status-update"}`},
		{"message null", `{"message":null}`},
		{"message array", `{"message":[{"type":"hang"}]}`},
		{"missing type", `{"message":{"status":"ended"}}`},
		{"empty type", `{"message":{"type":""}}`},
		{"null type", `{"message":{"type":null}}`},
		{"status of the wrong type", `{"message":{"type":"status-update","status":{"a":1}}}`},
		{"call of the wrong type", `{"message":{"type":"end-of-call-report","endedReason":"x","call":"c"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			rec := b.post(t, []byte(tc.body), withSecret(globalSecret))
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			require.Empty(t, b.recorder.Events())
		})
	}
}

// A body that breaks off (the client went away) is bad input, not our
// failure.
func TestBrokenBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := io.MultiReader(strings.NewReader(`{"message":{"type":`), iotest.ErrReader(io.ErrUnexpectedEOF))
	req := httptest.NewRequest(http.MethodPost, "/vapi/webhook", body)
	req.Header.Set("X-Vapi-Secret", globalSecret)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Empty(t, b.recorder.Events())
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		req := httptest.NewRequest(method, "/vapi/webhook", nil)
		req.Header.Set("X-Vapi-Secret", globalSecret)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		require.Equal(t, http.MethodPost, rec.Header().Get("Allow"), method)
	}
	require.Empty(t, b.recorder.Events())
}

func TestRecorderError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.recorder.RecordFunc = func(context.Context, *webhook.Event) error {
		return errors.New("insert webhook event: connection refused")
	}
	rec := b.post(t, readTestdata(t, "end-of-call-report.json"), withSecret(globalSecret))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Len(t, b.recorder.Events(), 1)
	require.Contains(t, b.logs.String(), "connection refused")
	require.Contains(t, b.logs.String(), "vapi_call_id="+callID)
}

// TestEventAuth checks that the event says how it was authenticated and for which campaign: the
// recorder must apply it to that campaign's attempts only.
func TestEventAuth(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "status-update.json") // metadata campaign_id 7
	secs := strconv.FormatInt(time.Date(2026, 8, 1, 12, 5, 0, 0, time.UTC).Unix(), 10)
	for _, tc := range []struct {
		headers map[string]string
		want    webhook.AuthMethod
	}{
		{withSecret(campaign7), webhook.AuthCampaignSecret},
		{withSecret(globalSecret), webhook.AuthGlobalSecret},
		{sign(hmacSecret, secs, body), webhook.AuthHMAC},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			requireOK(t, b.post(t, body, tc.headers))
			events := b.recorder.Events()
			require.Len(t, events, 1)
			require.Equal(t, tc.want, events[0].Auth)
			require.Equal(t, int64(7), events[0].CampaignID)
		})
	}
}

// TestRecorderRejects checks that an event the recorder stores but rejects (it names another
// campaign's call) is answered 200, so that Vapi does not deliver it again, logged without
// secrets, and observed as rejected.
func TestRecorderRejects(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	b := setup(t, func(c *webhook.Config) { c.Observer = obs })
	b.recorder.RecordFunc = func(context.Context, *webhook.Event) error {
		return fmt.Errorf("%w: attempt 3 belongs to campaign 8, not to campaign 7", webhook.ErrRejected)
	}
	requireOK(t, b.post(t, readTestdata(t, "end-of-call-report.json"), withSecret(campaign7)))
	require.Len(t, b.recorder.Events(), 1)
	logs := b.logs.String()
	require.Contains(t, logs, "event rejected")
	require.Contains(t, logs, "belongs to campaign 8, not to campaign 7")
	require.Contains(t, logs, "auth=campaign_secret")
	require.NotContains(t, logs, campaign7)
	require.Equal(t, []observed{{vapi.ServerMessageTypeEndOfCallReport, webhook.ResultRejected}}, obs.seen)
}

func TestRecorderPanic(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.recorder.RecordFunc = func(context.Context, *webhook.Event) error { panic("boom") }
	rec := b.post(t, readTestdata(t, "status-update.json"), withSecret(globalSecret))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Contains(t, b.logs.String(), "boom")
}

// The recorder's context is not canceled when the client goes away: an event
// that was delivered gets stored.
func TestRecordSurvivesClientCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var recordErr error
	b.recorder.RecordFunc = func(ctx context.Context, _ *webhook.Event) error {
		recordErr = ctx.Err()
		_, hasDeadline := ctx.Deadline()
		require.True(t, hasDeadline)
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/vapi/webhook", bytes.NewReader(readTestdata(t, "status-update.json")))
	req.Header.Set("X-Vapi-Secret", globalSecret)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	requireOK(t, rec)
	require.NoError(t, recordErr)
}

// Dedupe is the store's job: every delivery reaches the recorder.
func TestDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := readTestdata(t, "end-of-call-report.json")
	requireOK(t, b.post(t, body, withSecret(campaign7)))
	requireOK(t, b.post(t, body, withSecret(campaign7)))
	events := b.recorder.Events()
	require.Len(t, events, 2)
	require.Equal(t, events[0].Body, events[1].Body)
	require.Equal(t, events[0].CallID, events[1].CallID)
}

// Logs carry neither secrets nor whole phone numbers, even though Vapi echoes
// the call's server headers (with the secret) in every message.
func TestLogsHideSecretsAndNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	var doc map[string]map[string]any
	require.NoError(t, json.Unmarshal(readTestdata(t, "end-of-call-report.json"), &doc))
	call := doc["message"]["call"].(map[string]any)
	call["assistantOverrides"].(map[string]any)["server"] = map[string]any{
		"url":     "https://runner.example.com/vapi/webhook",
		"headers": map[string]string{"X-Vapi-Secret": campaign7},
	}
	body, err := json.Marshal(doc)
	require.NoError(t, err)

	now := strconv.FormatInt(b.now.Unix(), 10)
	requireOK(t, b.post(t, body, withSecret(campaign7)))                              // debug line
	require.Equal(t, 401, b.post(t, body, withSecret(campaign8)).Code)                // wrong campaign
	require.Equal(t, 401, b.post(t, body, withSecret("not-"+globalSecret)).Code)      // wrong secret
	require.Equal(t, 401, b.post(t, body, sign("wrong-"+hmacSecret, now, body)).Code) // wrong signature
	require.Equal(t, 400, b.post(t, []byte(`{"message":{"type":"status-update","timestamp":{"secret":"`+campaign7+`","n":"`+fullNumber+`"}}}`), withSecret(globalSecret)).Code)
	b.recorder.RecordFunc = func(context.Context, *webhook.Event) error { return errors.New("store failed") }
	require.Equal(t, 500, b.post(t, body, withSecret(globalSecret)).Code)

	logs := b.logs.String()
	require.Contains(t, logs, "webhook: event recorded")
	require.Contains(t, logs, "customer_number=***1234")
	require.Contains(t, logs, "webhook: unauthorized")
	require.Contains(t, logs, "webhook: malformed body")
	for _, secret := range []string{globalSecret, hmacSecret, campaign7, campaign8, "not-" + globalSecret, "wrong-" + hmacSecret} {
		require.NotContains(t, logs, secret)
	}
	require.NotContains(t, logs, fullNumber)
	require.NotContains(t, logs, "4155551234")
	require.NotContains(t, logs, "4155550000") // the caller id
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                 "",
		"+14155551234":     "***1234",
		"+1 (415) 555-12":  "***5512",
		"1234":             "***",
		"+44 20 7946 0958": "***0958",
		"abc":              "***",
	} {
		require.Equal(t, want, webhook.MaskPhone(in), in)
	}
}

func TestNewHandlerConfig(t *testing.T) {
	t.Parallel()
	rec := webhook.RecorderFunc(func(context.Context, *webhook.Event) error { return nil })

	_, err := webhook.NewHandler(webhook.Config{Secret: "s"})
	require.ErrorContains(t, err, "no recorder")
	_, err = webhook.NewHandler(webhook.Config{Recorder: rec})
	require.ErrorContains(t, err, "no secret")
	_, err = webhook.NewHandler(webhook.Config{Recorder: rec, Secret: "s", MaxSkew: -time.Second})
	require.ErrorContains(t, err, "skew")
	_, err = webhook.NewHandler(webhook.Config{Recorder: rec, Secret: "s", MaxBodyBytes: -1})
	require.ErrorContains(t, err, "body")

	for _, cfg := range []webhook.Config{
		{Recorder: rec, Secret: "s"},
		{Recorder: rec, HMACSecret: "s"},
		{Recorder: rec, Secrets: webhook.SecretsFunc(func(context.Context, int64) (string, error) { return "", nil })},
	} {
		h, err := webhook.NewHandler(cfg)
		require.NoError(t, err)
		require.NotNil(t, h)
	}
}

// Through a real server, with the adapters a store would use.
func TestOverHTTP(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []*webhook.Event
	)
	h, err := webhook.NewHandler(webhook.Config{
		Recorder: webhook.RecorderFunc(func(_ context.Context, e *webhook.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, e)
			return nil
		}),
		Secrets: webhook.SecretsFunc(func(_ context.Context, id int64) (string, error) {
			if id == 7 {
				return campaign7, nil
			}
			return "", nil
		}),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	for _, name := range []string{"status-update.json", "end-of-call-report.json", "hang.json"} {
		body := readTestdata(t, name)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/vapi/webhook", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-vapi-secret", campaign7) // header names are case-insensitive
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		answer, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		require.JSONEq(t, `{}`, string(answer))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 3)
	require.Equal(t, []vapi.ServerMessageType{"status-update", "end-of-call-report", "hang"},
		[]vapi.ServerMessageType{got[0].Type, got[1].Type, got[2].Type})
}
