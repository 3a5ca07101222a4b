package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/webhook"
)

// FuzzHandler: whatever the body, an authenticated request gets 200, 400 or
// 413, never a 5xx or a panic, and a 200 hands the exact body to the
// recorder.
func FuzzHandler(f *testing.F) {
	for _, name := range []string{"status-update.json", "end-of-call-report.json", "hang.json"} {
		f.Add(readTestdata(f, name))
	}
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `{"message":{}}`, `{"message":{"type":""}}`,
		`{"message":{"type":"hang","call":{"assistantOverrides":{"metadata":{"campaign_id":"7"}}}}}`,
		`{"message":{"type":"status-update","timestamp":"x","status":"ended","call":{"id":1}}}`,
		`{"message":{"type":"end-of-call-report","startedAt":"yesterday","costs":[{"type":"model"}]}}`,
		`{"message":{"type":7}}`, "{\"message\":{\"type\":\"\xff\"}}",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		b := setup(t, func(c *webhook.Config) { c.MaxBodyBytes = 1 << 16 })
		rec := b.post(t, body, withSecret(globalSecret))
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge}, rec.Code, rec.Body.String())
		events := b.recorder.Events()
		if rec.Code == http.StatusOK {
			require.Len(t, events, 1)
			require.True(t, bytes.Equal(body, events[0].Body))
			require.NotEmpty(t, events[0].Type)
			require.NotNil(t, events[0].Message)
		} else {
			require.Empty(t, events)
		}
	})
}

// BenchmarkHandler measures one authenticated end-of-call report of about
// 20 KB, recorded by a recorder that does nothing.
func BenchmarkHandler(b *testing.B) {
	for _, auth := range []string{"global_secret", "campaign_secret", "hmac"} {
		b.Run(auth, func(b *testing.B) {
			tb := setup(b, nil)
			body := bigTranscript(b, 20<<10)
			var headers map[string]string
			switch auth {
			case "global_secret":
				headers = withSecret(globalSecret)
			case "campaign_secret":
				headers = withSecret(campaign7)
			case "hmac":
				headers = sign(hmacSecret, "1785585900", body) // tb.now
			}
			discard := webhook.RecorderFunc(func(context.Context, *webhook.Event) error { return nil })
			h, err := webhook.NewHandler(webhook.Config{
				Recorder:   discard,
				Secrets:    tb.secrets,
				Secret:     globalSecret,
				HMACSecret: hmacSecret,
				Now:        func() time.Time { return tb.now },
			})
			require.NoError(b, err)
			tb.handler = h
			require.Equal(b, http.StatusOK, tb.post(b, body, headers).Code)

			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if rec := tb.post(b, body, headers); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
