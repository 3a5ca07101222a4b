package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/campaign-run/campaign/webhook"
)

// A receiver that accepts a global secret and per-campaign secrets, mounted
// where the calls are told to post.
func ExampleNewHandler() {
	h, err := webhook.NewHandler(webhook.Config{
		Recorder: webhook.RecorderFunc(func(_ context.Context, e *webhook.Event) error {
			// A store would insert e.Body here, then apply the event.
			fmt.Println(e.Type, e.CallID, e.CampaignID, e.AttemptKey, e.Status)
			return nil
		}),
		Secrets: webhook.SecretsFunc(func(_ context.Context, campaignID int64) (string, error) {
			if campaignID == 7 {
				return "campaign-7-secret", nil
			}
			return "", nil // unknown campaign: 401
		}),
		Secret: "global-secret", // VAPI_WEBHOOK_SECRET
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/vapi/webhook", h)

	body := `{"message":{"type":"status-update","status":"in-progress","call":{"id":"c-1",` +
		`"assistantOverrides":{"metadata":{"campaign_id":7,"attempt_key":"cmp-7-g-1"}}}}}`
	for _, secret := range []string{"campaign-7-secret", "guess"} {
		req := httptest.NewRequest(http.MethodPost, "/vapi/webhook", strings.NewReader(body))
		req.Header.Set("X-Vapi-Secret", secret)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// status-update c-1 7 cmp-7-g-1 in-progress
	// 200 {}
	// 401 {"error":"unauthorized"}
}
