package vapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is Vapi's API.
const DefaultBaseURL = "https://api.vapi.ai"

// DefaultTimeout bounds a whole request (connect, send, wait, read) when
// the client builds its own http.Client.
const DefaultTimeout = 30 * time.Second

// Timeouts of the connection phases of the default http.Client.
const (
	defaultDialTimeout         = 10 * time.Second
	defaultTLSHandshakeTimeout = 10 * time.Second
	defaultIdleConnTimeout     = 90 * time.Second
	defaultMaxIdleConnsPerHost = 32
)

// maxResponseBody bounds a successful response (a GET /call page of 1000
// calls with transcripts is large).
const maxResponseBody = 64 << 20

// Config configures a Client. The zero value is usable.
type Config struct {
	// BaseURL is the API's address; empty means DefaultBaseURL. A path
	// prefix is kept (e.g. "http://127.0.0.1:8080/vapi").
	BaseURL string
	// HTTPClient sends the requests. Nil means a client with Timeout, dial
	// and TLS-handshake timeouts, and redirects disabled (a redirected POST
	// would silently become a GET). A client given here is used as is: give
	// it a timeout, and do not give it a retrying transport (see
	// Client.CreateCall).
	HTTPClient *http.Client
	// Timeout is the default http.Client's per-request timeout; zero means
	// DefaultTimeout. Ignored when HTTPClient is set. A context deadline
	// applies in any case.
	Timeout time.Duration
	// UserAgent is sent as User-Agent when set.
	UserAgent string
	// Now is the clock used to turn a Retry-After date into a delay when
	// the response has no Date header; nil means time.Now.
	Now func() time.Time
}

// Client calls the Vapi API. It is safe for concurrent use. It never
// retries a request: every failure is returned, and [Classify] tells the
// caller what it may do.
type Client struct {
	apiKey    string
	baseURL   *url.URL
	http      *http.Client
	userAgent string
	now       func() time.Time
}

// NewClient returns a client that authenticates with apiKey (a Vapi private
// key, sent as a bearer token). cfg may be nil.
func NewClient(apiKey string, cfg *Config) (*Client, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("vapi: new client: empty API key")
	}
	if cfg == nil {
		cfg = &Config{}
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("vapi: new client: base URL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("vapi: new client: base URL %q: want http(s)://host[/prefix]", raw)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	base.RawQuery, base.Fragment = "", ""

	hc := cfg.HTTPClient
	if hc == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		hc = newHTTPClient(timeout)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{apiKey: apiKey, baseURL: base, http: hc, userAgent: cfg.UserAgent, now: now}, nil
}

// Account names the account the client calls on, without revealing its key: the hex SHA-256
// of the base URL and the API key (the first 32 digits). Two clients with the same base URL and
// key name the same account; the runner keys what it learns of an account (its concurrency
// limit) by this name.
func (c *Client) Account() string {
	sum := sha256.Sum256([]byte(c.baseURL.String() + "\x00" + c.apiKey))
	return hex.EncodeToString(sum[:16])
}

// Timeout is the longest one request may take (the http.Client's timeout; zero: only the
// context bounds it).
func (c *Client) Timeout() time.Duration { return c.http.Timeout }

// BaseURL is the base URL of the API the client calls.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// newHTTPClient builds the default http.Client: bounded connect, TLS and
// total time; no redirects.
func newHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   defaultMaxIdleConnsPerHost,
		IdleConnTimeout:       defaultIdleConnTimeout,
		TLSHandshakeTimeout:   defaultTLSHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CreateCall places one outbound call (POST /call with a single customer).
//
// It never retries, and nothing beneath it does: Vapi has no idempotency
// key, so a second POST can dial the customer twice. (Go's transport re-sends
// a request only when nothing of it was written.) On failure, use [Classify]:
// ErrorClassAmbiguous means the call may exist; look it up with ListCalls
// (by phone number and creation time, matched on Name) before dialling
// again. A 201 is not a dial either: check [Call.ConcurrencyBlocked] and wait
// for the end-of-call report.
func (c *Client) CreateCall(ctx context.Context, dto *CreateCallDTO) (*Call, error) {
	if dto == nil {
		return nil, fmt.Errorf("vapi: %s: nil request", OperationCreateCall)
	}
	var call Call
	req := request{op: OperationCreateCall, method: http.MethodPost, path: "/call", body: dto}
	if err := c.do(ctx, req, &call); err != nil {
		return nil, err
	}
	if call.ID == "" {
		// Vapi answered 2xx, so a call may well exist, but we cannot name it.
		return nil, &RequestError{
			Op: req.op, Method: req.method, Path: c.urlPath(req.path),
			StatusCode: http.StatusCreated, MaybeSent: true,
			Err: errors.New("response has no call id"),
		}
	}
	return &call, nil
}

// GetCall reads one call (GET /call/{id}). A 404 is an *APIError
// (ErrorClassPermanent); it does not mean the call has ended, and shortly
// after creation it may not even mean that the call does not exist.
func (c *Client) GetCall(ctx context.Context, id string) (*Call, error) {
	if id == "" {
		return nil, fmt.Errorf("vapi: %s: empty id", OperationGetCall)
	}
	var call Call
	req := request{op: OperationGetCall, method: http.MethodGet, path: "/call/" + url.PathEscape(id)}
	if err := c.do(ctx, req, &call); err != nil {
		return nil, err
	}
	return &call, nil
}

// ListCalls lists calls (GET /call) matching the filters; p may be nil.
// Vapi returns at most p.Limit calls (default 100, at most 1000), in an
// undocumented order, with no paging: narrow the time window to see more.
func (c *Client) ListCalls(ctx context.Context, p *ListCallsParams) ([]Call, error) {
	req := request{op: OperationListCalls, method: http.MethodGet, path: "/call"}
	if p != nil {
		req.query = p.Values()
	}
	var calls []Call
	if err := c.do(ctx, req, &calls); err != nil {
		return nil, err
	}
	return calls, nil
}

// Analytics runs analytics queries (POST /analytics). It only reads, so a
// failure is never ambiguous.
func (c *Client) Analytics(ctx context.Context, q *AnalyticsQueryDTO) ([]AnalyticsQueryResult, error) {
	if q == nil {
		return nil, fmt.Errorf("vapi: %s: nil request", OperationAnalytics)
	}
	var results []AnalyticsQueryResult
	req := request{op: OperationAnalytics, method: http.MethodPost, path: "/analytics", body: q}
	if err := c.do(ctx, req, &results); err != nil {
		return nil, err
	}
	return results, nil
}

// GetAssistant reads a saved assistant (GET /assistant/{id}).
func (c *Client) GetAssistant(ctx context.Context, id string) (*Assistant, error) {
	if id == "" {
		return nil, fmt.Errorf("vapi: %s: empty id", OperationGetAssistant)
	}
	var a Assistant
	req := request{op: OperationGetAssistant, method: http.MethodGet, path: "/assistant/" + url.PathEscape(id)}
	if err := c.do(ctx, req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// QueryTimeLayout formats the time filters of GET /call: RFC 3339 in UTC
// with milliseconds, e.g. 2026-08-01T12:00:00.000Z.
const QueryTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// ListCallsParams filters GET /call. Zero values are left out. Times are
// sent in UTC with millisecond precision, widened rather than narrowed:
// lower bounds (Gt, Ge) are truncated to the millisecond and upper bounds
// (Lt, Le) rounded up, so no call inside the requested range is missed.
type ListCallsParams struct {
	// ID selects one call.
	ID string
	// AssistantID selects the calls of an assistant.
	AssistantID string
	// PhoneNumberID selects the calls placed from a phone number.
	PhoneNumberID string
	// Limit caps the number of calls returned (Vapi: 0 to 1000, default
	// 100). Zero leaves Vapi's default.
	Limit int
	// CreatedAtGt selects calls created after this time.
	CreatedAtGt time.Time
	// CreatedAtLt selects calls created before this time.
	CreatedAtLt time.Time
	// CreatedAtGe selects calls created at or after this time.
	CreatedAtGe time.Time
	// CreatedAtLe selects calls created at or before this time.
	CreatedAtLe time.Time
	// UpdatedAtGt selects calls updated after this time.
	UpdatedAtGt time.Time
	// UpdatedAtLt selects calls updated before this time.
	UpdatedAtLt time.Time
	// UpdatedAtGe selects calls updated at or after this time.
	UpdatedAtGe time.Time
	// UpdatedAtLe selects calls updated at or before this time.
	UpdatedAtLe time.Time
}

// Values encodes the filters as GET /call query parameters.
func (p *ListCallsParams) Values() url.Values {
	v := url.Values{}
	if p == nil {
		return v
	}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("id", p.ID)
	set("assistantId", p.AssistantID)
	set("phoneNumberId", p.PhoneNumberID)
	if p.Limit > 0 {
		v.Set("limit", fmt.Sprint(p.Limit))
	}
	lower := func(k string, t time.Time) {
		if !t.IsZero() {
			v.Set(k, t.UTC().Truncate(time.Millisecond).Format(QueryTimeLayout))
		}
	}
	upper := func(k string, t time.Time) {
		if !t.IsZero() {
			u := t.UTC()
			if r := u.Truncate(time.Millisecond); r.Before(u) {
				u = r.Add(time.Millisecond)
			}
			v.Set(k, u.Format(QueryTimeLayout))
		}
	}
	lower("createdAtGt", p.CreatedAtGt)
	upper("createdAtLt", p.CreatedAtLt)
	lower("createdAtGe", p.CreatedAtGe)
	upper("createdAtLe", p.CreatedAtLe)
	lower("updatedAtGt", p.UpdatedAtGt)
	upper("updatedAtLt", p.UpdatedAtLt)
	lower("updatedAtGe", p.UpdatedAtGe)
	upper("updatedAtLe", p.UpdatedAtLe)
	return v
}

// request describes one API call.
type request struct {
	op           Operation
	method, path string
	query        url.Values
	body         any
}

// urlPath is the full URL path of an API path, base prefix included.
func (c *Client) urlPath(path string) string {
	if p, err := url.PathUnescape(c.baseURL.EscapedPath() + path); err == nil {
		return p
	}
	return c.baseURL.Path + path
}

// do sends r and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, r request, out any) error {
	// r.path is already escaped (ids go through url.PathEscape).
	u := *c.baseURL
	u.RawPath = c.baseURL.EscapedPath() + r.path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("vapi: %s: build request: %w", r.op, err)
	}
	u.Path = p
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}

	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("vapi: %s: encode request: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}

	var st sendState
	ctx = httptrace.WithClientTrace(ctx, st.trace())
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("vapi: %s: build request: %w", r.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return &RequestError{Op: r.op, Method: r.method, Path: u.Path, MaybeSent: st.maybeSent(), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return newAPIError(r.op, resp, b, c.now())
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return &RequestError{Op: r.op, Method: r.method, Path: u.Path, StatusCode: resp.StatusCode, MaybeSent: true, Err: fmt.Errorf("read response: %w", unwrapURLError(err))}
	}
	if len(b) > maxResponseBody {
		return &RequestError{Op: r.op, Method: r.method, Path: u.Path, StatusCode: resp.StatusCode, MaybeSent: true, Err: fmt.Errorf("response larger than %d bytes", maxResponseBody)}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &RequestError{Op: r.op, Method: r.method, Path: u.Path, StatusCode: resp.StatusCode, MaybeSent: true, Err: fmt.Errorf("decode response: %w", err)}
	}
	return nil
}

// unwrapURLError drops the *url.Error layer, whose message repeats the
// method and URL that RequestError already reports. The cause chain is
// kept, so errors.Is and errors.As still see timeouts and net errors.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// sendState records, from httptrace callbacks, how far a request got. The
// callbacks may run on other goroutines, even after Do has returned.
type sendState struct {
	mu          sync.Mutex
	connected   bool // a connection was obtained
	wrote       bool // a request was written completely
	writeFailed bool // writing a request failed partway
}

// trace returns the callbacks that fill in s.
func (s *sendState) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			s.mu.Lock()
			s.connected = true
			s.mu.Unlock()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			s.mu.Lock()
			if info.Err == nil {
				s.wrote = true
			} else {
				s.writeFailed = true
			}
			s.mu.Unlock()
		},
	}
}

// maybeSent is false only when the request provably did not reach the
// server whole: no connection was ever obtained, or every write failed (a
// failed write leaves bytes unsent, so the server cannot have the complete
// body). A connection with no write outcome yet counts as sent.
func (s *sendState) maybeSent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote || (s.connected && !s.writeFailed)
}
