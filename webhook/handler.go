package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/campaign-run/campaign/vapi"
)

// handler is the http.Handler built by NewHandler.
type handler struct {
	cfg Config
	// globalDigest is the SHA-256 of cfg.Secret, nil when there is none.
	globalDigest []byte
}

// Answers. Error bodies are fixed strings: they never echo the request.
var (
	okBody = []byte("{}\n")

	msgMethod       = "method not allowed: use POST"
	msgUnauthorized = "unauthorized"
	msgTooLarge     = "request body too large"
	msgReadBody     = "cannot read request body"
	msgMalformed    = `malformed body: want a JSON object {"message": {"type": ...}}`
	msgInternal     = "internal error"
)

// Reasons a request is refused, for the logs.
const (
	reasonNoCredentials   = "no credentials"
	reasonWrongSecret     = "wrong secret"
	reasonNoCampaign      = "secret given but the message names no campaign"
	reasonUnknownCampaign = "unknown campaign or campaign without a secret"
)

// ServeHTTP authenticates, bounds, decodes and records one server message.
func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &trackingWriter{ResponseWriter: rw}
	var o observed
	if h.cfg.Observer != nil {
		// Deferred first, so it runs last: after a recovered panic's answer.
		defer func() { h.cfg.Observer.ObserveWebhook(o.typ, o.result(w.status)) }()
	}
	defer func() {
		if v := recover(); v != nil {
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "webhook: panic",
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
				slog.String("remote_addr", r.RemoteAddr))
			if !w.wrote {
				writeError(w, http.StatusInternalServerError, msgInternal)
			}
		}
	}()
	h.serve(w, r, &o)
}

// observed is what serve learned of a request, for the Observer.
type observed struct {
	// typ is the message type, once the body is decoded.
	typ vapi.ServerMessageType
	// rejected: the recorder stored the event and rejected it (ErrRejected).
	rejected bool
}

// result names the answer whose status was sent.
func (o *observed) result(status int) Result {
	switch status {
	case http.StatusOK:
		if o.rejected {
			return ResultRejected
		}
		return ResultRecorded
	case http.StatusUnauthorized:
		return ResultUnauthorized
	case http.StatusBadRequest:
		return ResultBadRequest
	case http.StatusRequestEntityTooLarge:
		return ResultTooLarge
	case http.StatusMethodNotAllowed:
		return ResultMethodNotAllowed
	}
	return ResultError
}

// serve does the work of ServeHTTP; see the package documentation for the
// order of the checks. It fills o as it learns.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, o *observed) {
	ctx := r.Context()
	receivedAt := h.cfg.Now()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}

	secret := r.Header.Get(SecretHeader)
	signature := ""
	if h.cfg.HMACSecret != "" {
		signature = r.Header.Get(SignatureHeader)
	}
	if secret == "" && signature == "" {
		h.unauthorized(ctx, w, r, reasonNoCredentials, 0)
		return
	}

	body, status := h.readBody(w, r)
	if status != 0 {
		if status == http.StatusRequestEntityTooLarge {
			h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook: body too large",
				slog.Int64("max_body_bytes", h.cfg.MaxBodyBytes),
				slog.Int64("content_length", r.ContentLength),
				slog.String("remote_addr", r.RemoteAddr))
			writeError(w, status, msgTooLarge)
			return
		}
		h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook: cannot read body",
			slog.String("remote_addr", r.RemoteAddr))
		writeError(w, status, msgReadBody)
		return
	}

	// Credentials that do not depend on the body's content.
	method, reason := AuthMethod(""), reasonWrongSecret
	if secret != "" && h.globalDigest != nil && secretMatches(secret, h.globalDigest) {
		method = AuthGlobalSecret
	}
	if method == "" && signature != "" {
		err := verifySignature(h.cfg.HMACSecret, signature, r.Header.Get(TimestampHeader), body, receivedAt, h.cfg.MaxSkew)
		if err == nil {
			method = AuthHMAC
		} else {
			reason = err.Error()
		}
	}
	perCampaign := secret != "" && h.cfg.Secrets != nil
	if method == "" && !perCampaign {
		h.unauthorized(ctx, w, r, reason, 0)
		return
	}

	msg, err := vapi.ParseServerMessage(body)
	if err != nil {
		h.badRequest(ctx, r, err, len(body))
		writeError(w, http.StatusBadRequest, msgMalformed)
		return
	}
	ev := newEvent(msg, body, receivedAt)
	o.typ = ev.Type

	// The secret of the campaign the message names.
	if method == "" {
		if ev.CampaignID == 0 {
			h.unauthorized(ctx, w, r, reasonNoCampaign, 0)
			return
		}
		want, err := h.cfg.Secrets.CampaignSecret(ctx, ev.CampaignID)
		if err != nil {
			h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "webhook: look up campaign secret",
				slog.Int64("campaign_id", ev.CampaignID),
				slog.String("error", err.Error()))
			writeError(w, http.StatusInternalServerError, msgInternal)
			return
		}
		if want == "" {
			h.unauthorized(ctx, w, r, reasonUnknownCampaign, ev.CampaignID)
			return
		}
		if !secretMatches(secret, digest(want)) {
			h.unauthorized(ctx, w, r, reasonWrongSecret, ev.CampaignID)
			return
		}
		method = AuthCampaignSecret
	}
	ev.Auth = method

	// Once Vapi has handed the event over, storing it should not depend on
	// Vapi still waiting: detach from the request's cancellation, bounded.
	err = h.record(ctx, ev)
	switch {
	case errors.Is(err, ErrRejected):
		// Stored, never to be applied: answered 200 all the same, since
		// delivering it again would change nothing.
		o.rejected = true
		h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook: event rejected: not for the campaign it is for",
			slog.String("type", string(ev.Type)),
			slog.Int64("campaign_id", ev.CampaignID),
			slog.String("vapi_call_id", ev.CallID),
			slog.String("attempt_key", ev.AttemptKey),
			slog.String("auth", string(method)),
			slog.String("reason", err.Error()),
			slog.String("remote_addr", r.RemoteAddr))
	case err != nil:
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "webhook: record event",
			slog.String("type", string(ev.Type)),
			slog.Int64("campaign_id", ev.CampaignID),
			slog.String("vapi_call_id", ev.CallID),
			slog.String("attempt_key", ev.AttemptKey),
			slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, msgInternal)
		return
	case h.cfg.Logger.Enabled(ctx, slog.LevelDebug):
		h.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "webhook: event recorded",
			slog.String("type", string(ev.Type)),
			slog.String("status", ev.Status),
			slog.Int64("campaign_id", ev.CampaignID),
			slog.String("vapi_call_id", ev.CallID),
			slog.String("attempt_key", ev.AttemptKey),
			slog.String("customer_number", maskPhone(customerNumber(msg))),
			slog.String("auth", string(method)),
			slog.Int("body_bytes", len(body)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
}

// record hands ev to the recorder, detached from the request's
// cancellation and bounded by recordTimeout.
func (h *handler) record(ctx context.Context, ev *Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return h.cfg.Recorder.Record(ctx, ev)
}

// readBody reads the whole body, at most MaxBodyBytes. It returns a non-zero
// status when the body is too large (413) or cannot be read (400: the client
// went away or sent a broken chunked body, which is bad input, not our
// failure).
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int) {
	max := h.cfg.MaxBodyBytes
	if r.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge
	}
	if r.Body == nil {
		return nil, 0
	}
	// http.MaxBytesReader tells the server to close the connection after
	// an oversized body, when it is given the server's own writer.
	if tw, ok := w.(*trackingWriter); ok {
		w = tw.ResponseWriter
	}
	body := http.MaxBytesReader(w, r.Body, max)
	defer body.Close()
	// Size the buffer from Content-Length when it is declared (it is at
	// most max here), so that a well-formed request is read without
	// growing the buffer.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	return buf.Bytes(), 0
}

// unauthorized answers 401 and logs why, without the presented secret.
func (h *handler) unauthorized(ctx context.Context, w http.ResponseWriter, r *http.Request, reason string, campaignID int64) {
	attrs := []slog.Attr{
		slog.String("reason", reason),
		slog.String("remote_addr", r.RemoteAddr),
	}
	if campaignID != 0 {
		attrs = append(attrs, slog.Int64("campaign_id", campaignID))
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook: unauthorized", attrs...)
	writeError(w, http.StatusUnauthorized, msgUnauthorized)
}

// badRequest logs a body that is not a server message. The decoder's error
// text is not logged as such, because a custom decoder may quote part of the
// body, and a Vapi body echoes the call, headers and secret included: only
// the position or field of a JSON error is.
func (h *handler) badRequest(ctx context.Context, r *http.Request, err error, size int) {
	attrs := []slog.Attr{
		slog.String("remote_addr", r.RemoteAddr),
		slog.Int("body_bytes", size),
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		attrs = append(attrs, slog.Int64("syntax_error_offset", se.Offset))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		attrs = append(attrs, slog.String("field", te.Field), slog.String("json_type", te.Value))
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook: malformed body", attrs...)
}

// writeError answers status with {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// trackingWriter remembers whether the answer was started, so that a
// recovered panic answers 500 only when nothing was sent yet, and with
// which status, for the Observer.
type trackingWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
}

// WriteHeader records that the answer started.
func (w *trackingWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status = status
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

// Write records that the answer started.
func (w *trackingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status = http.StatusOK
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// customerNumber is the called number, for masked logging.
func customerNumber(m *vapi.ServerMessage) string {
	var c *vapi.CreateCustomerDTO
	switch {
	case m.StatusUpdate != nil:
		c = m.StatusUpdate.Customer
		if c == nil && m.StatusUpdate.Call != nil {
			c = m.StatusUpdate.Call.Customer
		}
	case m.EndOfCallReport != nil:
		c = m.EndOfCallReport.Customer
		if c == nil && m.EndOfCallReport.Call != nil {
			c = m.EndOfCallReport.Call.Customer
		}
	}
	if c == nil {
		return ""
	}
	return c.Number
}
