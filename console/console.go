// Package console is the browser console of `campaign serve`: a server-rendered site, every
// asset embedded, where operators watch and steer campaigns. It lists the campaigns, shows each
// one's progress, report cards and charts (drawn by package reports), errors and settings, and
// runs the same domain operations as the CLI (pause, resume, cancel, re-pace) through the store.
//
// Nothing is served without a login: users come from the configuration (see ParseUsers), a
// login sets an HMAC-signed session cookie, and every POST carries a CSRF token bound to the
// session. A viewer reads; an operator also acts.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
)

// Prefix is the path under which the console is served.
const Prefix = "/console/"

// Store is what the console needs of the campaign store (campaign.Store implements it).
type Store interface {
	ListCampaignsPage(ctx context.Context, p campaign.ListPage) ([]campaign.CampaignSummary, error)
	Campaign(ctx context.Context, id int64) (*campaign.Campaign, error)
	Progress(ctx context.Context, campaignID int64) (campaign.Progress, error)
	StatusExtras(ctx context.Context, campaignID int64, now time.Time, rateWindow time.Duration, errorLimit int) (campaign.StatusExtras, error)
	Runners(ctx context.Context, campaignID int64) (campaign.RunnerState, []campaign.Runner, error)
	ReportFacts(ctx context.Context, campaignID int64) (*campaign.ReportFacts, error)
	Pause(ctx context.Context, campaignID int64, now time.Time) error
	Resume(ctx context.Context, campaignID int64, opts campaign.ResumeOptions, now time.Time) (int, error)
	Cancel(ctx context.Context, campaignID int64, now time.Time) (int, error)
	SetPacing(ctx context.Context, campaignID int64, p campaign.Pacing, now time.Time) error
	ListCalls(ctx context.Context, campaignID int64, q campaign.CallQuery) (campaign.CallPage, error)
	CallDetail(ctx context.Context, attemptID int64) (*campaign.CallDetail, error)
}

// ExportFunc writes campaign c's results as CSV to w (as `campaign export` does), streaming.
type ExportFunc func(ctx context.Context, c *campaign.Campaign, w io.Writer) error

// Config configures the console.
type Config struct {
	Store Store
	// Export writes a campaign's CSV export.
	Export ExportFunc
	// Users may log in (at least one; see ParseUsers).
	Users []User
	// Key signs sessions, CSRF tokens and flash messages with the users' credentials: at least
	// 32 random bytes, the same in every process that serves the console
	// (campaign.Store.ConsoleKey).
	Key []byte
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// RefreshInterval is how often a running campaign's page refreshes its live figures
	// (DefaultRefresh when 0).
	RefreshInterval time.Duration
	// PageSize is how many campaigns a page of the list shows, and how many calls a page of a
	// campaign's calls table (DefaultPageSize when 0; at most campaign.MaxCallPage for calls).
	PageSize int
	// Creator creates campaigns from uploads (nil: the console creates none).
	Creator Creator
}

// DefaultRefresh is how often a campaign's page refreshes its live figures by default.
const DefaultRefresh = 5 * time.Second

// Page sizes and bounds.
const (
	// DefaultPageSize is how many campaigns a page of the list shows by default.
	DefaultPageSize = 50
	// rateWindow is the span the achieved rate is measured over (as campaign status does).
	rateWindow = 5 * time.Minute
	// topErrors is how many error texts the campaign page shows.
	topErrors = 5
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// server is the console.
type server struct {
	cfg     Config
	auth    *auth
	pages   *template.Template
	refresh time.Duration
	dryRuns dryRuns
}

// New returns the console's handler, serving paths under Prefix.
func New(cfg Config) (http.Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("console: no store")
	case cfg.Export == nil:
		return nil, errors.New("console: no export")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := newAuth(cfg.Users, cfg.Key)
	if err != nil {
		return nil, err
	}
	pages, err := template.New("console").Funcs(funcs).ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	s := &server{cfg: cfg, auth: a, pages: pages, refresh: cfg.RefreshInterval}
	if s.refresh <= 0 {
		s.refresh = DefaultRefresh
	}
	if s.cfg.PageSize <= 0 {
		s.cfg.PageSize = DefaultPageSize
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"assets/", http.StripPrefix(Prefix+"assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET "+Prefix+"assets/report.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = io.WriteString(w, reports.CSS)
	})
	mux.HandleFunc("GET "+Prefix+"login", s.loginPage)
	mux.HandleFunc("POST "+Prefix+"login", s.login)
	mux.Handle("POST "+Prefix+"logout", s.authed(s.logout, false))
	mux.Handle("GET "+Prefix+"{$}", s.authed(s.campaignsPage, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}", s.authed(s.campaignPage, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}/live", s.authed(s.liveFragment, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}/cancel", s.authed(s.cancelConfirm, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}/export.csv", s.authed(s.exportCSV, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}/report.html", s.authed(s.reportHTML, false))
	mux.Handle("GET "+Prefix+"campaigns/{id}/calls", s.authed(s.callsPage, false))
	mux.Handle("GET "+Prefix+"calls/{attempt}", s.authed(s.callPage, false))
	mux.Handle("POST "+Prefix+"campaigns/{id}/pause", s.authed(s.pause, true))
	mux.Handle("POST "+Prefix+"campaigns/{id}/resume", s.authed(s.resume, true))
	mux.Handle("POST "+Prefix+"campaigns/{id}/cancel", s.authed(s.cancel, true))
	mux.Handle("POST "+Prefix+"campaigns/{id}/set", s.authed(s.set, true))
	if cfg.Creator != nil {
		mux.Handle("GET "+Prefix+"new", s.authed(s.newPage, false))
		mux.Handle("POST "+Prefix+"new", s.authedUpload(s.create))
		mux.Handle("GET "+Prefix+"new/{id}", s.authed(s.dryRunPage, false))
		mux.Handle("GET "+Prefix+"new/{id}/rejects.csv", s.authed(s.rejectsCSV, false))
		mux.Handle("POST "+Prefix+"new/{id}/check", s.authed(s.check, true))
		mux.Handle("POST "+Prefix+"new/{id}/start", s.authed(s.start, true))
		mux.Handle("POST "+Prefix+"new/{id}/discard", s.authed(s.discard, true))
	}
	return headers(mux), nil
}

// headers sets the security headers of every response: a strict content security policy (the
// console loads nothing but its own assets, and plays call recordings from https URLs), no
// framing, no sniffing, no caching of pages.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src https:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// handlerFunc is a console handler of a logged-in user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s session)

// authed serves h to requests with a valid session; others get a redirect to the login page (a
// GET) or 401. An action (operator only) also needs the operator role (else 403) and the
// session's CSRF token (else 403); a logout needs the token too.
func (srv *server) authed(h handlerFunc, action bool) http.Handler {
	return srv.authedLimit(h, action, maxFormBytes)
}

// authedUpload is authed for an operator's multipart form of up to MaxUploadBytes, its files
// held in memory up to uploadMemory and in temporary files beyond (removed after the request).
func (srv *server) authedUpload(h handlerFunc) http.Handler {
	return srv.authedLimit(h, true, MaxUploadBytes)
}

// authedLimit is authed with the POST body bounded by limit bytes.
func (srv *server) authedLimit(h handlerFunc, action bool, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := srv.auth.session(r, srv.cfg.Now())
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if limit > maxFormBytes {
				if err := r.ParseMultipartForm(uploadMemory); err != nil {
					var tooBig *http.MaxBytesError
					if errors.As(err, &tooBig) {
						http.Error(w, fmt.Sprintf("the upload is larger than %d MB", limit>>20), http.StatusRequestEntityTooLarge)
						return
					}
					http.Error(w, "not a form with a file: "+err.Error(), http.StatusBadRequest)
					return
				}
			}
			if !srv.auth.checkCSRF(r, s) {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
			if action && s.role != RoleOperator {
				http.Error(w, "your role ("+string(s.role)+") may not change campaigns", http.StatusForbidden)
				return
			}
		}
		h(w, r, s)
	})
}

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10
