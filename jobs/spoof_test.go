package jobs_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/metrics"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/webhook"
)

const (
	spoofGlobalSecret = "global-secret-Spf"
	spoofHMACSecret   = "hmac-secret-Spf"
)

// spoofCampaign is a running campaign with its secret and two attempts: one whose call was
// created (its call id stored) and one still creating (no call id yet).
type spoofCampaign struct {
	id                int64
	secret            string
	created, creating *campaign.Attempt
	callID            string // the created attempt's call id
}

// spoofBundle is two campaigns, A and B, in a database of their own, behind the real webhook
// receiver (per-campaign secrets, the global secret and HMAC) and recorder on loopback.
type spoofBundle struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	url     string
	metrics *metrics.Metrics
	a, b    spoofCampaign
}

func setupSpoof(t *testing.T) *spoofBundle {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.SchemaURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	store := campaign.NewStore(pool)

	m := metrics.New(store)
	rec := &jobs.Recorder{Store: store, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	handler, err := webhook.NewHandler(webhook.Config{Recorder: rec, Secrets: rec, Secret: spoofGlobalSecret,
		HMACSecret: spoofHMACSecret, Now: time.Now, Observer: m})
	require.NoError(t, err)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)

	b := &spoofBundle{ctx: ctx, pool: pool, url: srv.URL, metrics: m}
	b.a = b.newCampaign(t, store, "a", 1000)
	b.b = b.newCampaign(t, store, "b", 2000)
	return b
}

// newCampaign imports a running campaign of two contacts and begins an attempt for each; the
// first one's call is created.
func (b *spoofBundle) newCampaign(t *testing.T, store *campaign.Store, name string, firstNumber int) spoofCampaign {
	t.Helper()
	now := time.Now()
	csv := fmt.Sprintf("phone\n+1415555%04d\n+1415555%04d\n", firstNumber, firstNumber+1)
	r, err := campaign.NewReader(strings.NewReader(csv), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := store.Import(b.ctx, campaign.NewCampaign{Name: name, Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", WebhookSecret: "secret-" + name,
		MaxConcurrent: 10, MaxAttempts: 3, RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, store.Start(b.ctx, c.ID, now))
	// Queue the contacts as the hopper does (without jobs).
	_, err = b.pool.Exec(b.ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE campaign_id = $1 RETURNING 1)
		UPDATE campaign SET queued_contacts = (SELECT count(*) FROM c) WHERE id = $1`, c.ID)
	require.NoError(t, err)
	contacts, err := store.Contacts(b.ctx, c.ID, 2)
	require.NoError(t, err)
	require.Len(t, contacts, 2)
	sc := spoofCampaign{id: c.ID, secret: "secret-" + name, callID: "call-" + name}
	for i, ct := range contacts {
		g, err := store.BeginAttempt(b.ctx, ct.ID, now)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "%+v", g)
		if i == 0 {
			sc.created = g.Attempt
		} else {
			sc.creating = g.Attempt
		}
	}
	require.NoError(t, store.CallCreated(b.ctx, sc.created.ID, sc.callID, now, now))
	return sc
}

// spoofAuth is how a request authenticates.
type spoofAuth int

const (
	authSecretA spoofAuth = iota // campaign A's secret
	authSecretB                  // campaign B's secret
	authGlobal                   // the global secret
	authHMAC                     // an HMAC signature
)

// webhookReq is one server message to post.
type webhookReq struct {
	auth spoofAuth
	// typ is end-of-call-report or status-update (status "ended").
	typ string
	// campaignID goes into the call's metadata (0: none); callID into call.id and key into
	// call.name ("": absent).
	campaignID  int64
	callID, key string
	// summary and cost are the report's (end-of-call-report only).
	summary string
	cost    float64
}

// post sends r and returns the status code.
func (b *spoofBundle) post(t *testing.T, r webhookReq) int {
	t.Helper()
	call := map[string]any{}
	if r.callID != "" {
		call["id"] = r.callID
	}
	if r.key != "" {
		call["name"] = r.key
	}
	if r.campaignID != 0 {
		call["assistantOverrides"] = map[string]any{"metadata": map[string]any{"campaign_id": r.campaignID}}
	}
	msg := map[string]any{"type": r.typ, "call": call, "endedReason": "customer-ended-call"}
	switch r.typ {
	case "end-of-call-report":
		msg["cost"] = r.cost
		msg["analysis"] = map[string]any{"summary": r.summary}
	case "status-update":
		msg["status"] = "ended"
	}
	body, err := json.Marshal(map[string]any{"message": msg})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.url+jobs.WebhookPath, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	switch r.auth {
	case authSecretA:
		req.Header.Set(webhook.SecretHeader, b.a.secret)
	case authSecretB:
		req.Header.Set(webhook.SecretHeader, b.b.secret)
	case authGlobal:
		req.Header.Set(webhook.SecretHeader, spoofGlobalSecret)
	case authHMAC:
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(spoofHMACSecret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		req.Header.Set(webhook.SignatureHeader, hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set(webhook.TimestampHeader, ts)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// attempts is every attempt row as JSON, to tell whether anything changed.
func (b *spoofBundle) attempts(t *testing.T) string {
	t.Helper()
	var s string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT json_agg(a ORDER BY id)::text FROM attempt a`).Scan(&s))
	return s
}

// attemptResult is what a report or status-update leaves on an attempt.
type attemptResult struct {
	state, callID, summary, lastStatus string
	cost                               *float64
	reported                           bool
}

func (b *spoofBundle) result(t *testing.T, id int64) attemptResult {
	t.Helper()
	var r attemptResult
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT state, coalesce(vapi_call_id, ''), summary, last_status, cost::float8, report_at IS NOT NULL
		FROM attempt WHERE id = $1`, id).Scan(&r.state, &r.callID, &r.summary, &r.lastStatus, &r.cost, &r.reported))
	return r
}

// lastEvent is the latest raw event's rejection reason and how it was authenticated.
func (b *spoofBundle) lastEvent(t *testing.T) (rejected, auth string, campaignID *int64, applied bool) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT rejected, auth, auth_campaign_id, applied_at IS NOT NULL FROM webhook_event ORDER BY id DESC LIMIT 1`).
		Scan(&rejected, &auth, &campaignID, &applied))
	return rejected, auth, campaignID, applied
}

// metric is the value of one series of the receiver's metrics (0 when absent).
func (b *spoofBundle) metric(t *testing.T, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	b.metrics.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, "%s", line)
			return f
		}
	}
	return 0
}

// TestWebhookSpoof posts, with a valid credential, events that name an attempt of another
// campaign than the one they authenticated for, or a call id and attempt key that disagree:
// each is answered 200 (so Vapi stops delivering it), stored raw and marked rejected, counted in
// campaign_webhook_events_total{result="rejected"}, and changes no attempt. The genuine events
// that follow are applied.
func TestWebhookSpoof(t *testing.T) {
	t.Parallel()
	b := setupSpoof(t)
	a, bb := b.a, b.b
	const eocr, su = "end-of-call-report", "status-update"
	spoofs := []struct {
		name string
		req  webhookReq
		// authCampaign is the campaign the event authenticated for (0: none).
		authCampaign int64
	}{
		{"CallIDOfB", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id, callID: bb.callID}, a.id},
		{"AttemptKeyOfB", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id, key: bb.created.Key}, a.id},
		{"AttemptKeyOfBNotYetCreated", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id,
			callID: "call-spoofed", key: bb.creating.Key}, a.id},
		{"BothOfB", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id, callID: bb.callID, key: bb.created.Key}, a.id},
		{"CallIDOfAAttemptKeyOfB", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id, callID: a.callID,
			key: bb.created.Key}, a.id},
		{"CallIDOfBAttemptKeyOfA", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id, callID: bb.callID,
			key: a.created.Key}, a.id},
		{"CallIDAndAttemptKeyOfTwoAttemptsOfA", webhookReq{auth: authSecretA, typ: eocr, campaignID: a.id,
			callID: a.callID, key: a.creating.Key}, a.id},
		{"StatusUpdateCallIDOfB", webhookReq{auth: authSecretA, typ: su, campaignID: a.id, callID: bb.callID}, a.id},
		{"StatusUpdateAttemptKeyOfB", webhookReq{auth: authSecretA, typ: su, campaignID: a.id, key: bb.creating.Key}, a.id},
		{"StatusUpdateBothOfB", webhookReq{auth: authSecretA, typ: su, campaignID: a.id, callID: bb.callID,
			key: bb.created.Key}, a.id},
		{"GlobalSecretMetadataAWithCallIDOfB", webhookReq{auth: authGlobal, typ: eocr, campaignID: a.id,
			callID: bb.callID}, a.id},
		{"GlobalSecretCallIDOfBAttemptKeyOfA", webhookReq{auth: authGlobal, typ: eocr, callID: bb.callID,
			key: a.created.Key}, 0},
		{"HMACMetadataAWithAttemptKeyOfB", webhookReq{auth: authHMAC, typ: eocr, campaignID: a.id, key: bb.created.Key}, a.id},
		{"HMACStatusUpdateMetadataAWithBothOfB", webhookReq{auth: authHMAC, typ: su, campaignID: a.id,
			callID: bb.callID, key: bb.created.Key}, a.id},
	}
	var rejectedReports, rejectedStatuses float64
	for _, s := range spoofs {
		t.Run(s.name, func(t *testing.T) {
			before := b.attempts(t)
			req := s.req
			req.summary, req.cost = "SPOOFED", 99.99
			require.Equal(t, http.StatusOK, b.post(t, req), "answered 2xx, so that Vapi does not retry it")
			require.Equal(t, before, b.attempts(t), "no attempt changed")

			rejected, auth, campaignID, applied := b.lastEvent(t)
			require.NotEmpty(t, rejected, "the raw event is marked rejected")
			require.False(t, applied, "a rejected event is never applied")
			require.Equal(t, map[spoofAuth]string{authSecretA: "campaign_secret", authGlobal: "global_secret",
				authHMAC: "hmac"}[s.req.auth], auth)
			if s.authCampaign == 0 {
				require.Nil(t, campaignID)
			} else {
				require.NotNil(t, campaignID)
				require.Equal(t, s.authCampaign, *campaignID)
			}
			if s.req.typ == eocr {
				rejectedReports++
			} else {
				rejectedStatuses++
			}
			require.Equal(t, rejectedReports,
				b.metric(t, `campaign_webhook_events_total{result="rejected",type="end-of-call-report"}`))
			require.Equal(t, rejectedStatuses,
				b.metric(t, `campaign_webhook_events_total{result="rejected",type="status-update"}`))
		})
	}
	require.Zero(t, b.metric(t, `campaign_webhook_events_total{result="recorded",type="end-of-call-report"}`))

	// The genuine events, arriving later, are applied: B's own secret; the global secret with no
	// metadata (the call id and key agree); HMAC with the call's campaign in the metadata; and
	// a status-update whose key binds the call id to an attempt that had none.
	require.Equal(t, http.StatusOK, b.post(t, webhookReq{auth: authSecretB, typ: eocr, campaignID: bb.id,
		callID: bb.callID, key: bb.created.Key, summary: "genuine b", cost: 0.25}))
	require.Equal(t, http.StatusOK, b.post(t, webhookReq{auth: authGlobal, typ: eocr,
		callID: "call-b-late", key: bb.creating.Key, summary: "genuine b late", cost: 0.5}))
	require.Equal(t, http.StatusOK, b.post(t, webhookReq{auth: authHMAC, typ: eocr, campaignID: a.id,
		callID: a.callID, key: a.created.Key, summary: "genuine a", cost: 0.75}))
	require.Equal(t, http.StatusOK, b.post(t, webhookReq{auth: authSecretA, typ: su, campaignID: a.id,
		callID: "call-a-late", key: a.creating.Key}))

	cost := func(f float64) *float64 { return &f }
	require.Equal(t, attemptResult{state: "ended", callID: bb.callID, summary: "genuine b", cost: cost(0.25), reported: true},
		b.result(t, bb.created.ID))
	require.Equal(t, attemptResult{state: "ended", callID: "call-b-late", summary: "genuine b late", cost: cost(0.5),
		reported: true}, b.result(t, bb.creating.ID))
	require.Equal(t, attemptResult{state: "ended", callID: a.callID, summary: "genuine a", cost: cost(0.75), reported: true},
		b.result(t, a.created.ID))
	require.Equal(t, attemptResult{state: "ended", callID: "call-a-late", lastStatus: "ended"}, b.result(t, a.creating.ID))
	rejected, auth, _, applied := b.lastEvent(t)
	require.Empty(t, rejected)
	require.Equal(t, "campaign_secret", auth)
	require.True(t, applied)
	require.Equal(t, float64(3), b.metric(t, `campaign_webhook_events_total{result="recorded",type="end-of-call-report"}`))
	require.Equal(t, float64(1), b.metric(t, `campaign_webhook_events_total{result="recorded",type="status-update"}`))
	require.Equal(t, rejectedReports, b.metric(t, `campaign_webhook_events_total{result="rejected",type="end-of-call-report"}`))
}

// TestWebhookUnknownCampaign checks that a request whose metadata names a campaign that does not
// exist is refused as unauthorized (401), like a wrong secret, not answered 500 (which Vapi
// would retry): it is bad input, not our failure.
func TestWebhookUnknownCampaign(t *testing.T) {
	t.Parallel()
	b := setupSpoof(t)
	for _, id := range []int64{b.b.id + 1000, 1 << 40} {
		require.Equal(t, http.StatusUnauthorized, b.post(t, webhookReq{auth: authSecretA, typ: "end-of-call-report",
			campaignID: id, callID: b.a.callID, summary: "SPOOFED", cost: 99.99}))
	}
	require.Equal(t, float64(2), b.metric(t, `campaign_webhook_events_total{result="unauthorized",type="end-of-call-report"}`))
	var events int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM webhook_event`).Scan(&events))
	require.Zero(t, events, "nothing unauthenticated is stored")
}
