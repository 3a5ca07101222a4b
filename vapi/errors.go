package vapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Operation names a client method; errors carry it so that a failure can be
// classified (a failed POST /call is not a failed read) and logged.
type Operation string

// The client's operations.
const (
	OperationCreateCall     Operation = "create call"
	OperationGetCall        Operation = "get call"
	OperationListCalls      Operation = "list calls"
	OperationAnalytics      Operation = "query analytics"
	OperationGetAssistant   Operation = "get assistant"
	OperationGetPhoneNumber Operation = "get phone number"
	OperationGetSquad       Operation = "get squad"
)

// ErrorClass says what a caller should do about an error. See [Classify].
type ErrorClass string

// Error classes.
const (
	// ErrorClassNone is the class of a nil error.
	ErrorClassNone ErrorClass = ""
	// ErrorClassRetryable: nothing happened on Vapi's side that matters;
	// retry later (a failed read, or a POST /call that provably never
	// reached Vapi).
	ErrorClassRetryable ErrorClass = "retryable"
	// ErrorClassRateLimited: Vapi answered 429; slow down and retry after
	// APIError.RetryAfter if it is set.
	ErrorClassRateLimited ErrorClass = "rate-limited"
	// ErrorClassConcurrencyBlocked: Vapi refused the call because the
	// account's concurrent-call limit is reached; re-queue without counting
	// an attempt.
	ErrorClassConcurrencyBlocked ErrorClass = "concurrency-blocked"
	// ErrorClassPermanent: the request is wrong (validation, auth, not
	// found); retrying the same request will fail the same way.
	ErrorClassPermanent ErrorClass = "permanent"
	// ErrorClassAmbiguous: a POST /call failed in a way that may have
	// created the call (timeout or broken connection after the request was
	// sent, a 5xx, an unreadable 2xx). Look the call up before dialling
	// again.
	ErrorClassAmbiguous ErrorClass = "ambiguous"
)

// ErrorClasses lists every ErrorClass, ErrorClassNone first.
func ErrorClasses() []ErrorClass {
	return []ErrorClass{ErrorClassNone, ErrorClassRetryable, ErrorClassRateLimited,
		ErrorClassConcurrencyBlocked, ErrorClassPermanent, ErrorClassAmbiguous}
}

// maxRetryAfterSeconds caps a Retry-After (one year) so that the duration
// cannot overflow.
const maxRetryAfterSeconds = 365 * 24 * 60 * 60

// maxErrorBody bounds how much of an error response is kept.
const maxErrorBody = 64 << 10

// APIError is a non-2xx answer from Vapi.
type APIError struct {
	// Op is the client method that failed.
	Op Operation
	// Method and Path are the request's method and URL path.
	Method, Path string
	// StatusCode is the HTTP status.
	StatusCode int
	// Messages is Vapi's "message", a string or a list of strings (NestJS
	// validation errors such as "property foo should not exist"), as a
	// list. Empty when the body had none.
	Messages []string
	// ErrorText is the NestJS "error" field, e.g. "Bad Request".
	ErrorText string
	// RetryAfter is the Retry-After header as a duration (delay-seconds, or
	// an HTTP date measured against the response's Date header, else the
	// client's clock); zero when absent, unparseable or in the past.
	RetryAfter time.Duration
	// Body is the response body, truncated to 64 KiB.
	Body []byte
}

// Error reports the operation, request, status and Vapi's messages.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vapi: %s: %s %s: %d %s", e.Op, e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if msg := e.Message(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	} else if e.ErrorText != "" && e.ErrorText != http.StatusText(e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(e.ErrorText)
	}
	return b.String()
}

// Message joins Messages with "; ".
func (e *APIError) Message() string {
	return strings.Join(e.Messages, "; ")
}

// overConcurrencyLimit is the text of Vapi's over-concurrency refusal.
const overConcurrencyLimit = "over concurrency limit"

// ConcurrencyBlocked reports whether Vapi refused the request because the
// account's concurrent-call limit is reached: a 4xx other than 429 whose
// message or error text says "Over Concurrency Limit".
func (e *APIError) ConcurrencyBlocked() bool {
	if e.StatusCode < 400 || e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests {
		return false
	}
	for _, m := range append([]string{e.ErrorText}, e.Messages...) {
		if strings.Contains(strings.ToLower(m), overConcurrencyLimit) {
			return true
		}
	}
	return false
}

// Class classifies the answer; see [Classify].
func (e *APIError) Class() ErrorClass {
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return ErrorClassRateLimited
	case e.ConcurrencyBlocked():
		return ErrorClassConcurrencyBlocked
	case e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout:
		if e.Op == OperationCreateCall {
			return ErrorClassAmbiguous
		}
		return ErrorClassRetryable
	default:
		return ErrorClassPermanent
	}
}

// RequestError is a request that got no usable answer: it could not be
// sent, the connection failed or timed out, or the response could not be
// read or decoded. It wraps the cause, so errors.Is(err,
// context.DeadlineExceeded) and the like work.
type RequestError struct {
	// Op is the client method that failed.
	Op Operation
	// Method and Path are the request's method and URL path.
	Method, Path string
	// StatusCode is the status of a response whose body was unusable; zero
	// when no response arrived.
	StatusCode int
	// MaybeSent is false only when the request provably never reached Vapi:
	// no connection was established (DNS, dial or TLS failure), or the
	// request could not be written completely. Otherwise Vapi may have
	// received and acted on it.
	MaybeSent bool
	// Err is the cause.
	Err error
}

// Error reports the operation, request and cause.
func (e *RequestError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("vapi: %s: %s %s: %d response: %v", e.Op, e.Method, e.Path, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("vapi: %s: %s %s: %v", e.Op, e.Method, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// Class classifies the failure; see [Classify].
func (e *RequestError) Class() ErrorClass {
	if e.Op == OperationCreateCall && e.MaybeSent {
		return ErrorClassAmbiguous
	}
	return ErrorClassRetryable
}

// Classify says what to do about an error returned by this package's client:
//
//   - nil: ErrorClassNone.
//   - *APIError 429: ErrorClassRateLimited.
//   - *APIError 4xx (not 429) whose message says "Over Concurrency Limit":
//     ErrorClassConcurrencyBlocked.
//   - *APIError 5xx or 408: ErrorClassAmbiguous from CreateCall,
//     ErrorClassRetryable from the reads (GetCall, ListCalls, Analytics,
//     GetAssistant).
//   - any other *APIError (400, 401, 403, 404, 422, other 4xx, 3xx):
//     ErrorClassPermanent.
//   - *RequestError from CreateCall that may have reached Vapi (timeout,
//     reset or EOF after the connection was made, unreadable or
//     undecodable 2xx body): ErrorClassAmbiguous.
//   - any other *RequestError (every read; a CreateCall that provably never
//     left, such as a refused connection): ErrorClassRetryable.
//
// Errors from elsewhere: context and net errors are ErrorClassRetryable,
// anything else ErrorClassPermanent. A cancelled context is classified like
// any other transport failure; callers that are shutting down check
// ctx.Err() first.
func Classify(err error) ErrorClass {
	if err == nil {
		return ErrorClassNone
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Class()
	}
	var reqErr *RequestError
	if errors.As(err, &reqErr) {
		return reqErr.Class()
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &netErr) {
		return ErrorClassRetryable
	}
	return ErrorClassPermanent
}

// newAPIError builds an APIError from a non-2xx response and its body.
func newAPIError(op Operation, resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{
		Op:         op,
		Method:     resp.Request.Method,
		Path:       resp.Request.URL.Path,
		StatusCode: resp.StatusCode,
		Body:       body,
	}
	var nest struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &nest) == nil {
		e.Messages = messageList(nest.Message)
		e.ErrorText = scalarText(nest.Error)
	}
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		now = date
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// messageList reads a NestJS message: a string, a list of strings (or of
// anything, kept as JSON text), or absent.
func messageList(raw json.RawMessage) []string {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		out := make([]string, 0, len(list))
		for _, item := range list {
			if s := scalarText(item); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if s := scalarText(raw); s != "" {
		return []string{s}
	}
	return nil
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date,
// which is measured from now. Zero when empty, malformed or not in the
// future.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs <= 0:
			return 0
		case secs > maxRetryAfterSeconds:
			secs = maxRetryAfterSeconds
		}
		return time.Duration(secs) * time.Second
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := when.Sub(now); d > 0 {
		return d
	}
	return 0
}
