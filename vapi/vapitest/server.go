package vapitest

import (
	"cmp"
	"context"
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// Server is the simulated Vapi API, an http.Handler. Create it with New,
// serve it (httptest.NewServer(s), or http.Server{Handler: s}) and Close it
// to stop its calls and webhook deliveries. It is safe for concurrent use.
type Server struct {
	cfg        Config
	assistants map[string]vapi.Assistant
	phoneIDs   map[string]bool
	phones     map[string]vapi.PhoneNumber
	squads     map[string]vapi.Squad
	// workflowIDs are the accepted workflowId values; empty accepts any.
	workflowIDs map[string]bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// startedAt is when the simulator was made: the creation time of the phone numbers it
	// makes up.
	startedAt time.Time

	rngMu sync.Mutex
	rng   *rand.Rand

	zonesMu sync.Mutex
	zones   map[string]*time.Location // by IANA name, for the local hour of a call

	mu          sync.Mutex
	calls       map[string]*simCall
	order       []*simCall     // creation order
	dialed      map[string]int // calls placed per number (not counting those refused for concurrency)
	live        int
	maxLive     int
	byPhone     map[string]*PhoneNumberStats // by phoneNumberId
	samples     []ConcurrencySample
	requests    []CreateRequest
	deliveries  []Delivery
	faults      []FaultEvent
	tokens      float64
	tokensAt    time.Time
	burstLeft   int
	idCounter   uint64
	closed      bool
	stopTimers  []func() bool
	subscribers []chan struct{}
}

// New returns a Server for cfg (see Config for the defaults).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		assistants:  map[string]vapi.Assistant{},
		phoneIDs:    map[string]bool{},
		phones:      map[string]vapi.PhoneNumber{},
		squads:      map[string]vapi.Squad{},
		workflowIDs: map[string]bool{},
		ctx:         ctx,
		cancel:      cancel,
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		calls:       map[string]*simCall{},
		byPhone:     map[string]*PhoneNumberStats{},
		dialed:      map[string]int{},
		zones:       map[string]*time.Location{},
	}
	for _, a := range cfg.Assistants {
		s.assistants[a.ID] = a
	}
	for _, id := range cfg.PhoneNumberIDs {
		s.phoneIDs[id] = true
	}
	for _, sq := range cfg.Squads {
		sq.OrgID = cmp.Or(sq.OrgID, cfg.OrgID)
		if sq.CreatedAt.IsZero() {
			sq.CreatedAt = cfg.Clock.Now().UTC().Truncate(time.Millisecond)
		}
		if sq.UpdatedAt.IsZero() {
			sq.UpdatedAt = sq.CreatedAt
		}
		s.squads[sq.ID] = sq
	}
	for _, id := range cfg.WorkflowIDs {
		s.workflowIDs[id] = true
	}
	for _, p := range cfg.PhoneNumbers {
		p.OrgID = cmp.Or(p.OrgID, cfg.OrgID)
		p.Provider = cmp.Or(p.Provider, "twilio")
		if p.CreatedAt.IsZero() {
			p.CreatedAt = cfg.Clock.Now().UTC().Truncate(time.Millisecond)
		}
		if p.UpdatedAt.IsZero() {
			p.UpdatedAt = p.CreatedAt
		}
		s.phones[p.ID] = p
		if len(cfg.PhoneNumberIDs) > 0 {
			s.phoneIDs[p.ID] = true
		}
	}
	s.tokens = float64(cfg.RequestBurst)
	s.startedAt = s.now()
	s.tokensAt = cfg.Clock.Now()
	s.samples = []ConcurrencySample{{At: s.now(), Live: 0}}
	return s
}

// Config returns the configuration in effect, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// now is the time of the events the simulator plays: the Clock's, in UTC. Every timestamp it
// reports (createdAt, startedAt, endedAt, message times, analytics ranges) is Clock time, also
// with a TimeScale above 1, so a call never seems to end after the campaign that placed it;
// lengths (durations, minutes, costs) are simulated (see Config.TimeScale).
func (s *Server) now() time.Time { return s.cfg.Clock.Now().UTC() }

// real converts a simulated length to Clock time.
func (s *Server) real(sim time.Duration) time.Duration {
	return time.Duration(float64(sim) / s.cfg.TimeScale)
}

// Close stops every pending call transition and webhook delivery and waits
// for the delivery goroutines to return. Calls stay readable.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	stops := s.stopTimers
	s.stopTimers = nil
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	s.cancel()
	s.wg.Wait()
}

// after runs f after sim (simulated time), unless the Server is closed.
// s.mu must not be held by the caller... it is taken briefly.
func (s *Server) after(sim time.Duration, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	stop := s.cfg.Clock.AfterFunc(s.real(sim), func() {
		if s.ctx.Err() != nil {
			return
		}
		f()
	})
	s.stopTimers = append(s.stopTimers, stop)
}

// sleep waits sim (simulated time) on the Clock; false if ctx ended first.
func (s *Server) sleep(ctx context.Context, sim time.Duration) bool {
	if sim <= 0 {
		return ctx.Err() == nil
	}
	ch := make(chan struct{})
	stop := s.cfg.Clock.AfterFunc(s.real(sim), func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		stop()
		return false
	}
}

// draw returns true with probability p, from the seeded PRNG.
func (s *Server) draw(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

// newID returns a random version-4 uuid. Ids are random, not seeded: like Vapi's, they are
// unique across runs, so several simulated runs can share one database. Outcomes and faults
// stay deterministic: they come from the seed, not from ids.
func (s *Server) newID() string {
	b := make([]byte, 16)
	_, _ = cryptorand.Read(b) // crypto/rand.Read never fails on supported platforms
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}

// unit returns a deterministic number in [0, 1) for (seed, key, salt).
func (s *Server) unit(key, salt string) float64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(s.cfg.Seed, 10)))
	h.Write([]byte{0})
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(salt))
	x := h.Sum64()
	// Mix (splitmix64 finalizer) so that nearby keys spread out.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// ServeHTTP routes a request (see the package documentation for the
// endpoints).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(path, "/_sim/") {
		s.serveIntrospection(w, r, strings.TrimPrefix(path, "/_sim/"))
		return
	}
	if !s.allow() {
		return429(w, s.retryAfter())
		s.recordFault(FaultEvent{Kind: FaultRateLimited, Detail: r.Method + " " + path})
		return
	}
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, nestError(http.StatusUnauthorized, "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."))
		return
	}
	if s.burst() {
		return429(w, 1)
		return
	}
	switch {
	case path == "/call" && r.Method == http.MethodPost:
		s.handleCreate(w, r)
	case path == "/call" && r.Method == http.MethodGet:
		s.handleList(w, r)
	case strings.HasPrefix(path, "/call/") && r.Method == http.MethodGet:
		s.handleGet(w, r, strings.TrimPrefix(path, "/call/"))
	case strings.HasPrefix(path, "/assistant/") && r.Method == http.MethodGet:
		s.handleAssistant(w, r, strings.TrimPrefix(path, "/assistant/"))
	case strings.HasPrefix(path, "/squad/") && r.Method == http.MethodGet:
		s.handleSquad(w, r, strings.TrimPrefix(path, "/squad/"))
	case strings.HasPrefix(path, "/phone-number/") && r.Method == http.MethodGet:
		s.handlePhoneNumber(w, r, strings.TrimPrefix(path, "/phone-number/"))
	case path == "/analytics" && r.Method == http.MethodPost:
		s.handleAnalytics(w, r)
	default:
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path))
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(s.cfg.APIKey)) == 1
}

// allow takes a token from the rate limiter.
func (s *Server) allow() bool {
	if s.cfg.RequestRate < 0 {
		return true
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el := now.Sub(s.tokensAt).Seconds()
	if el > 0 {
		s.tokens = math.Min(float64(s.cfg.RequestBurst), s.tokens+el*s.cfg.RequestRate)
		s.tokensAt = now
	}
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	return false
}

// retryAfter is the whole seconds until the limiter has a token (at least 1).
func (s *Server) retryAfter() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := (1 - s.tokens) / s.cfg.RequestRate
	return max(1, int(math.Ceil(need)))
}

// burst reports whether this request is (or starts) a 429 burst.
func (s *Server) burst() bool {
	s.mu.Lock()
	if s.burstLeft > 0 {
		s.burstLeft--
		s.mu.Unlock()
		s.recordFault(FaultEvent{Kind: FaultRateLimitBurstRequest})
		return true
	}
	s.mu.Unlock()
	if !s.draw(s.cfg.Faults.RateLimitBurst) {
		return false
	}
	s.mu.Lock()
	s.burstLeft = s.cfg.Faults.RateLimitBurstLength - 1
	s.mu.Unlock()
	s.recordFault(FaultEvent{Kind: FaultRateLimitBurst})
	s.recordFault(FaultEvent{Kind: FaultRateLimitBurstRequest})
	return true
}

func return429(w http.ResponseWriter, retryAfter int) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Rate limit exceeded", "error": "Too Many Requests", "statusCode": 429})
}

// nestError is NestJS' error body.
func nestError(status int, message any) map[string]any {
	return map[string]any{"message": message, "error": http.StatusText(status), "statusCode": status}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"statusCode":500,"message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// internalError is NestJS' default 500 body.
func internalError(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, map[string]any{"statusCode": 500, "message": "Internal server error"})
}

// isoMillis formats a time the way Vapi does: UTC, milliseconds, Z.
func isoMillis(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
