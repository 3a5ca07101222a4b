package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Role is what a console user may do.
type Role string

// Roles.
const (
	// RoleViewer reads every page and downloads exports and reports; every action is refused.
	RoleViewer Role = "viewer"
	// RoleOperator also pauses, resumes, cancels and re-paces campaigns.
	RoleOperator Role = "operator"
)

// User is a console login.
type User struct {
	Name, Password string
	Role           Role
}

// ParseUsers reads the users of one role from an environment value: "user:password", several
// separated by commas (so a password cannot hold a comma; it may hold a colon). Empty gives none.
func ParseUsers(role Role, value string) ([]User, error) {
	var users []User
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	for i, item := range strings.Split(value, ",") {
		name, password, ok := strings.Cut(strings.TrimSpace(item), ":")
		switch {
		case !ok || name == "" || password == "":
			return nil, fmt.Errorf("%s credential %d: want user:password (several separated by commas)", role, i+1)
		case strings.TrimSpace(name) != name:
			return nil, fmt.Errorf("%s credential %d: the user name has surrounding spaces", role, i+1)
		case len(password) < minPasswordLen:
			return nil, fmt.Errorf("%s credential %d (user %s): the password is shorter than %d characters", role, i+1, name, minPasswordLen)
		}
		users = append(users, User{Name: name, Password: password, Role: role})
	}
	return users, nil
}

// minKeyLen is the shortest signing key (Config.Key) the console accepts.
const minKeyLen = 32

// minPasswordLen is the shortest password the console accepts in its configuration.
const minPasswordLen = 8

// Cookie names and lifetimes.
const (
	sessionCookie = "campaign_console_session"
	flashCookie   = "campaign_console_flash"
	// SessionTTL is how long a login lasts.
	SessionTTL = 12 * time.Hour
	flashTTL   = time.Minute
)

// session is a logged-in user, as its signed cookie carries it.
type session struct {
	User string `json:"u"`
	// Expires is a Unix time in seconds.
	Expires int64 `json:"e"`
	// Nonce is random, per login: the CSRF token is bound to it.
	Nonce string `json:"n"`
	// role is the user's role now, from the configuration (not from the cookie).
	role Role
}

// auth holds the users and the key that signs sessions, CSRF tokens and flash messages.
type auth struct {
	users []User
	key   []byte
	// failures limits the failed logins per user name (one bucket for every name that is no
	// user, so the map stays as small as the configuration).
	mu       sync.Mutex
	failures map[string]*rate.Limiter
}

// Failed logins allowed per user name: a burst, then one more every loginRefill.
const (
	loginBurst  = 10
	loginRefill = 6 * time.Second
)

// failureBucket is the limiter of failed logins of user name.
func (a *auth) failureBucket(name string) *rate.Limiter {
	if a.role(name) == "" {
		name = "\x00unknown"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.failures[name]
	if !ok {
		l = rate.NewLimiter(rate.Every(loginRefill), loginBurst)
		a.failures[name] = l
	}
	return l
}

// newAuth derives the signing key from secret (shared by every serve process on one database:
// campaign.Store.ConsoleKey) and the users' credentials, so that every serve process configured
// alike accepts the others' cookies, a changed password ends every session, and a cookie is no
// oracle for guessing the passwords offline (the secret is not derived from them).
func newAuth(users []User, secret []byte) (*auth, error) {
	switch {
	case len(users) == 0:
		return nil, errors.New("console: no users")
	case len(secret) < minKeyLen:
		return nil, fmt.Errorf("console: the signing key must have at least %d bytes", minKeyLen)
	}
	seen := map[string]bool{}
	lines := make([]string, 0, len(users))
	for _, u := range users {
		if seen[u.Name] {
			return nil, fmt.Errorf("console: user %s is configured twice", u.Name)
		}
		seen[u.Name] = true
		lines = append(lines, string(u.Role)+"\x00"+u.Name+"\x00"+u.Password)
	}
	slices.Sort(lines)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strings.Join(lines, "\n")))
	return &auth{users: users, key: m.Sum(nil), failures: map[string]*rate.Limiter{}}, nil
}

// sign is the MAC of parts under the key, for the purpose named by the first part.
func (a *auth) sign(parts ...string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// check returns the user whose name and password these are, comparing with every configured
// user in constant time (of hashes: neither lengths nor contents leak), or false.
func (a *auth) check(name, password string) (User, bool) {
	gotName, gotPassword := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(password))
	var found User
	match := 0
	for _, u := range a.users {
		wantName, wantPassword := sha256.Sum256([]byte(u.Name)), sha256.Sum256([]byte(u.Password))
		ok := subtle.ConstantTimeCompare(gotName[:], wantName[:]) & subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:])
		if ok == 1 {
			found, match = u, 1
		}
	}
	return found, match == 1
}

// role is the configured role of user name, "" when there is no such user.
func (a *auth) role(name string) Role {
	for _, u := range a.users {
		if u.Name == name {
			return u.Role
		}
	}
	return ""
}

var b64 = base64.RawURLEncoding

// newSessionCookie is the cookie of a new login of u, valid until now+SessionTTL.
func (a *auth) newSessionCookie(u User, now time.Time, secure bool) (*http.Cookie, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("session nonce: %w", err)
	}
	s := session{User: u.Name, Expires: now.Add(SessionTTL).Unix(), Nonce: b64.EncodeToString(nonce)}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	payload := b64.EncodeToString(body)
	value := payload + "." + b64.EncodeToString(a.sign("session", payload))
	return &http.Cookie{Name: sessionCookie, Value: value, Path: Prefix, Expires: now.Add(SessionTTL),
		MaxAge: int(SessionTTL.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}, nil
}

// session returns the request's valid session: signed by the key, not expired, of a user still
// configured (with the role configured now).
func (a *auth) session(r *http.Request, now time.Time) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	payload, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, false
	}
	got, err := b64.DecodeString(mac)
	if err != nil || !hmac.Equal(got, a.sign("session", payload)) {
		return session{}, false
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := json.Unmarshal(body, &s); err != nil || s.Nonce == "" || now.Unix() >= s.Expires {
		return session{}, false
	}
	if s.role = a.role(s.User); s.role == "" {
		return session{}, false
	}
	return s, true
}

// csrfToken is the CSRF token of session s: every POST of it carries it.
func (a *auth) csrfToken(s session) string {
	return b64.EncodeToString(a.sign("csrf", s.User, s.Nonce))
}

// checkCSRF reports whether the request's form carries s's CSRF token (compared in constant
// time).
func (a *auth) checkCSRF(r *http.Request, s session) bool {
	got, err := b64.DecodeString(r.PostFormValue(csrfField))
	return err == nil && hmac.Equal(got, a.sign("csrf", s.User, s.Nonce))
}

// csrfField is the form field of the CSRF token.
const csrfField = "csrf"

// flash is a one-time message shown on the next page.
type flash struct {
	Error bool
	Text  string
}

// flashCookie carries f to the next page, signed so that nobody else can put words there.
func (a *auth) flashCookie(f flash, secure bool) *http.Cookie {
	kind := "ok"
	if f.Error {
		kind = "error"
	}
	payload := kind + "." + b64.EncodeToString([]byte(f.Text))
	return &http.Cookie{Name: flashCookie, Value: payload + "." + b64.EncodeToString(a.sign("flash", payload)),
		Path: Prefix, MaxAge: int(flashTTL.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// takeFlash reads the request's flash message and clears it.
func (a *auth) takeFlash(w http.ResponseWriter, r *http.Request, secure bool) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode})
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 {
		return nil
	}
	payload := c.Value[:i]
	mac, err := b64.DecodeString(c.Value[i+1:])
	if err != nil || !hmac.Equal(mac, a.sign("flash", payload)) {
		return nil
	}
	kind, text, _ := strings.Cut(payload, ".")
	msg, err := b64.DecodeString(text)
	if err != nil {
		return nil
	}
	return &flash{Error: kind == "error", Text: string(msg)}
}

// secure reports whether the request came over TLS, directly or through a proxy that says so:
// its cookies are then Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
