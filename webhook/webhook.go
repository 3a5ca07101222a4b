// Package webhook receives the server messages Vapi posts about the calls a
// campaign places (status-update, end-of-call-report and any other type) and
// hands each one, authenticated and decoded, to a [Recorder].
//
// The handler built by [NewHandler] does as little as it can before it
// answers, so that Vapi's delivery timeout (20 s by default) is never at
// risk:
//
//  1. only POST is served (405 with an Allow header otherwise);
//  2. a request that presents no credential at all (no X-Vapi-Secret
//     header, and no x-signature header when HMAC is configured) gets 401
//     before its body is read;
//  3. the body is read up to [Config.MaxBodyBytes] (413 beyond, from the
//     Content-Length or while reading);
//  4. the credentials that do not depend on the body are checked: the
//     global secret in X-Vapi-Secret, or a valid and fresh HMAC signature;
//  5. the body is decoded with [vapi.ParseServerMessage] (400 when it is not
//     a {"message": {"type": ...}} envelope);
//  6. if step 4 did not authenticate the request, X-Vapi-Secret must equal
//     the secret of the campaign named by the message's metadata
//     campaign_id, looked up through [Secrets] (401 otherwise, including
//     for an unknown campaign or a message that names none);
//  7. the [Event] is passed to [Recorder.Record], and the handler answers
//     200 {} once the recorder says the raw event is stored, or 500 (so that
//     Vapi retries, when the call has a backoff plan) when it fails.
//
// Nothing reaches the recorder unauthenticated. Authentication says who may
// speak, not what about: an [Event] carries how it was authenticated
// ([Event.Auth]) and the campaign it is for ([Event.CampaignID]), and the
// recorder applies it only to an attempt of that campaign. An event that
// names another campaign's call or attempt key (or a call id and an attempt
// key of two different attempts) is stored and never applied: the recorder
// returns [ErrRejected], and the handler answers 200 all the same, so that
// Vapi does not deliver it again and again, and logs and counts it
// ([ResultRejected]). Because the campaign id
// travels in the body, a request that relies on a per-campaign secret and
// whose body is malformed gets 400, not 401; a request with no usable
// credential for the body-independent checks and no per-campaign lookup
// configured gets 401 without being decoded. Bad input never gets a 5xx: a
// 5xx always means our side failed (the recorder, the secret lookup, or a
// recovered panic).
//
// The handler does not deduplicate: Vapi may deliver the same message more
// than once (with retries on, a timed-out delivery is sent again), and every
// delivery reaches the recorder. Deduplication belongs to the store, which
// keeps every raw event and applies each one idempotently.
//
// Logs never contain a secret, a signature or a whole phone number: numbers
// are masked to their last four digits.
//
// An [Observer], when configured, is told the message type and the [Result]
// of every request, e.g. to count them in metrics.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// Header names read by the handler. Go canonicalizes header names, so they
// match whatever case Vapi sends.
const (
	// SecretHeader carries the shared secret: the legacy X-Vapi-Secret
	// header, which the campaign runner puts in every call's
	// assistantOverrides.server.headers.
	SecretHeader = "X-Vapi-Secret"
	// SignatureHeader carries the hex HMAC-SHA256 of "{timestamp}.{body}",
	// optionally prefixed with "sha256=" (Vapi's HMAC credential default
	// signatureHeader).
	SignatureHeader = "X-Signature"
	// TimestampHeader carries the Unix time (seconds or milliseconds) that
	// the signature covers (Vapi's HMAC credential default timestampHeader).
	TimestampHeader = "X-Timestamp"
)

// Defaults for the zero values of [Config].
const (
	// DefaultMaxBodyBytes bounds a request body: 4 MiB. An end-of-call
	// report carries the whole conversation up to three times (transcript,
	// artifact.messages and the legacy top-level messages); an hour-long
	// call is a few hundred kilobytes, so 4 MiB leaves room for the longest
	// calls Vapi allows (12 h) while keeping a hostile sender's cost small.
	DefaultMaxBodyBytes int64 = 4 << 20
	// DefaultMaxSkew is how far an HMAC timestamp may be from now: 5 min,
	// which covers clock drift and Vapi's retry delays while bounding the
	// window in which a captured request could be replayed.
	DefaultMaxSkew = 5 * time.Minute
)

// recordTimeout bounds one Record call. The recorder runs detached from the
// request's cancellation: once Vapi has delivered an event, storing it
// should finish even if Vapi stops waiting (without a backoff plan it would
// never be sent again), but a stuck store must not hold goroutines forever.
const recordTimeout = 30 * time.Second

// Event is one authenticated, decoded server message.
type Event struct {
	// Type is message.type: status-update, end-of-call-report, or any other
	// type, kept as received.
	Type vapi.ServerMessageType
	// CallID is message.call.id, "" if absent.
	CallID string
	// AttemptKey is message.call.name, else the attempt_key in
	// message.call.assistantOverrides.metadata; "" if neither is present.
	AttemptKey string
	// CampaignID is the campaign_id in message.call.assistantOverrides.metadata
	// (a number or a numeric string); 0 if absent or not a positive integer.
	// It is the campaign the event is for: when the request was authenticated
	// by a campaign's own secret (AuthCampaignSecret), that campaign, never 0;
	// with the global secret or HMAC, which hold for every campaign, the
	// campaign the message claims, or 0 for none. The recorder must apply the
	// event only to an attempt of this campaign when it is not 0.
	CampaignID int64
	// Auth is how the request was authenticated.
	Auth AuthMethod
	// Status is a status-update's status; "" for other types.
	Status string
	// Message is the decoded message.
	Message *vapi.ServerMessage
	// Body is the raw request body, exactly as received.
	Body []byte
	// ReceivedAt is when the request arrived, from [Config.Now].
	ReceivedAt time.Time
}

// AuthMethod is how a request was authenticated.
type AuthMethod string

// Authentication methods.
const (
	// AuthCampaignSecret: X-Vapi-Secret is the secret of the campaign that
	// the message's metadata names; the event is for that campaign only.
	AuthCampaignSecret AuthMethod = "campaign_secret"
	// AuthGlobalSecret: X-Vapi-Secret is the global secret, valid for every
	// campaign.
	AuthGlobalSecret AuthMethod = "global_secret"
	// AuthHMAC: a valid and fresh HMAC signature, valid for every campaign.
	AuthHMAC AuthMethod = "hmac"
)

// ErrRejected is returned (wrapped) by a [Recorder] that stored an event
// but will never apply it because it does not belong to the campaign it is
// for (see [Event.CampaignID]). The handler answers 200, since delivering
// it again would change nothing, and reports [ResultRejected].
var ErrRejected = errors.New("event rejected")

// Recorder stores an event durably and applies it.
type Recorder interface {
	// Record returns only after the raw event is stored. An error makes
	// the handler answer 500, so that Vapi delivers the event again (when
	// the call has a backoff plan), except [ErrRejected]. The same event
	// may be recorded more than once.
	Record(ctx context.Context, e *Event) error
}

// RecorderFunc adapts a function to [Recorder].
type RecorderFunc func(ctx context.Context, e *Event) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e *Event) error { return f(ctx, e) }

// Secrets finds the shared secret that a campaign's calls carry.
type Secrets interface {
	// CampaignSecret returns the campaign's webhook secret; a nil error
	// with "" means the campaign is unknown (or has no secret), and the
	// request is refused with 401. An error makes the handler answer 500.
	CampaignSecret(ctx context.Context, campaignID int64) (string, error)
}

// SecretsFunc adapts a function to [Secrets].
type SecretsFunc func(ctx context.Context, campaignID int64) (string, error)

// CampaignSecret calls f.
func (f SecretsFunc) CampaignSecret(ctx context.Context, campaignID int64) (string, error) {
	return f(ctx, campaignID)
}

// Config configures [NewHandler]. Recorder is required, and so is at least
// one of Secrets, Secret and HMACSecret.
type Config struct {
	// Recorder receives every authenticated event.
	Recorder Recorder
	// Secrets looks up the secret of the campaign named by the message's
	// metadata campaign_id; a request whose X-Vapi-Secret equals it is
	// accepted. Optional.
	Secrets Secrets
	// Secret is a global secret (VAPI_WEBHOOK_SECRET), accepted in
	// X-Vapi-Secret for every campaign. Optional.
	Secret string
	// HMACSecret, when set, also accepts requests signed with HMAC-SHA256:
	// x-signature = hex(HMAC(HMACSecret, "{x-timestamp}.{body}")), with an
	// optional "sha256=" prefix, and x-timestamp in Unix seconds or
	// milliseconds no further than MaxSkew from now. This matches a Vapi
	// HMAC credential with algorithm sha256 and the default headers,
	// payloadFormat and hex encoding. Optional.
	HMACSecret string
	// MaxSkew bounds |now - x-timestamp| for HMAC requests;
	// DefaultMaxSkew when zero.
	MaxSkew time.Duration
	// MaxBodyBytes bounds the request body (413 beyond);
	// DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives one line per refused or failed request and a debug
	// line per recorded event; nothing is logged when nil.
	Logger *slog.Logger
	// Observer, when set, is told the result of every request, e.g. to
	// count them in metrics. Optional.
	Observer Observer
}

// Result is how the handler answered a request, for an [Observer].
type Result string

// Results, one per kind of answer.
const (
	// ResultRecorded: the event was stored (200).
	ResultRecorded Result = "recorded"
	// ResultRejected: the event was stored but will never be applied: it
	// names a call or attempt of another campaign than the one it was
	// authenticated for (200, so that Vapi does not retry it).
	ResultRejected Result = "rejected"
	// ResultUnauthorized: no valid credential (401).
	ResultUnauthorized Result = "unauthorized"
	// ResultBadRequest: the body could not be read or is not a server
	// message (400).
	ResultBadRequest Result = "bad_request"
	// ResultTooLarge: the body is over the limit (413).
	ResultTooLarge Result = "too_large"
	// ResultMethodNotAllowed: not a POST (405).
	ResultMethodNotAllowed Result = "method_not_allowed"
	// ResultError: our side failed: the recorder, the secret lookup or a
	// recovered panic (500).
	ResultError Result = "error"
)

// Observer is told the result of every request the handler answers. Its
// method is called from many goroutines at once and must return quickly.
type Observer interface {
	// ObserveWebhook is told the message type ("" when the body was not
	// decoded; whatever a request claims when it was refused after
	// decoding, so it is not to be trusted) and the result.
	ObserveWebhook(t vapi.ServerMessageType, r Result)
}

// NewHandler returns the webhook receiver, to be mounted at the path the
// calls are told to post to ("/vapi/webhook"). It fails when cfg has no
// Recorder, no way to authenticate a request, or a negative limit.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Recorder == nil {
		return nil, errors.New("webhook: no recorder")
	}
	if cfg.Secrets == nil && cfg.Secret == "" && cfg.HMACSecret == "" {
		return nil, errors.New("webhook: no secret: set Secrets, Secret or HMACSecret")
	}
	if cfg.MaxSkew < 0 {
		return nil, fmt.Errorf("webhook: negative max skew %s", cfg.MaxSkew)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("webhook: negative max body bytes %d", cfg.MaxBodyBytes)
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg}
	if cfg.Secret != "" {
		h.globalDigest = digest(cfg.Secret)
	}
	return h, nil
}
