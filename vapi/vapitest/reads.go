package vapitest

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var listParams = map[string]bool{"id": true, "assistantId": true, "phoneNumberId": true, "limit": true,
	"createdAtGt": true, "createdAtLt": true, "createdAtGe": true, "createdAtLe": true,
	"updatedAtGt": true, "updatedAtLt": true, "updatedAtGe": true, "updatedAtLe": true}

// parseISO parses an ISO 8601 date-time as Vapi accepts it.
func parseISO(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var msgs []string
	for k := range q {
		if !listParams[k] {
			msgs = append(msgs, "property "+k+" should not exist")
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil:
			msgs = append(msgs, "limit must be a number conforming to the specified constraints")
		case n < 0:
			msgs = append(msgs, "limit must not be less than 0")
		case n > 1000:
			msgs = append(msgs, "limit must not be greater than 1000")
		default:
			limit = int(n)
		}
	}
	bounds := map[string]time.Time{}
	for _, k := range []string{"createdAtGt", "createdAtLt", "createdAtGe", "createdAtLe", "updatedAtGt", "updatedAtLt", "updatedAtGe", "updatedAtLe"} {
		if v := q.Get(k); v != "" {
			t, ok := parseISO(v)
			if !ok {
				msgs = append(msgs, k+" must be a valid ISO 8601 date string")
				continue
			}
			bounds[k] = t
		}
	}
	if len(msgs) > 0 {
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, msgs))
		return
	}
	in := func(t time.Time, prefix string) bool {
		if b, ok := bounds[prefix+"Gt"]; ok && !t.After(b) {
			return false
		}
		if b, ok := bounds[prefix+"Ge"]; ok && t.Before(b) {
			return false
		}
		if b, ok := bounds[prefix+"Lt"]; ok && !t.Before(b) {
			return false
		}
		if b, ok := bounds[prefix+"Le"]; ok && t.After(b) {
			return false
		}
		return true
	}
	s.mu.Lock()
	out := []map[string]any{}
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		c := s.order[i]
		if (q.Get("id") != "" && c.id != q.Get("id")) ||
			(q.Get("assistantId") != "" && c.assistantID != q.Get("assistantId")) ||
			(q.Get("phoneNumberId") != "" && c.phoneNumberID != q.Get("phoneNumberId")) ||
			!in(c.createdAt.Truncate(time.Millisecond), "createdAt") || !in(c.updatedAt.Truncate(time.Millisecond), "updatedAt") {
			continue
		}
		out = append(out, s.callBodyLocked(c))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGet(w http.ResponseWriter, _ *http.Request, id string) {
	if !uuidRe.MatchString(id) {
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, "Validation failed (uuid is expected)"))
		return
	}
	s.mu.Lock()
	c, ok := s.calls[id]
	var body map[string]any
	if ok {
		body = s.callBodyLocked(c)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Not Found"))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleAssistant(w http.ResponseWriter, _ *http.Request, id string) {
	a, ok := s.assistants[id]
	writeSaved(w, a, ok, a.CreatedAt, a.UpdatedAt)
}

// writeSaved answers a GET of a saved object (an assistant, a squad) as Vapi does: v with its
// times in Vapi's format, or Vapi's 404 when there is none (!ok).
func writeSaved(w http.ResponseWriter, v any, ok bool, createdAt, updatedAt time.Time) {
	if !ok {
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Not Found"))
		return
	}
	m := toMap(v)
	m["createdAt"], m["updatedAt"] = isoMillis(createdAt), isoMillis(updatedAt)
	writeJSON(w, http.StatusOK, m)
}

// simulatedNumber is the caller id of the simulator's numbers that are not in Config.PhoneNumbers.
const simulatedNumber = "+12015550000"

// phoneNumber returns the saved phone number id, or a plain Twilio number
// without a server for any other accepted id.
func (s *Server) phoneNumber(id string) (vapi.PhoneNumber, bool) {
	if p, ok := s.phones[id]; ok {
		return p, true
	}
	if id == "" || (len(s.phoneIDs) > 0 && !s.phoneIDs[id]) {
		return vapi.PhoneNumber{}, false
	}
	at := s.startedAt.Truncate(time.Millisecond)
	return vapi.PhoneNumber{ID: id, OrgID: s.cfg.OrgID, Provider: "twilio", Number: simulatedNumber,
		CreatedAt: at, UpdatedAt: at}, true
}

func (s *Server) handlePhoneNumber(w http.ResponseWriter, _ *http.Request, id string) {
	p, ok := s.phoneNumber(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Not Found"))
		return
	}
	m := toMap(p)
	if p.Provider == "twilio" {
		m["twilioAccountSid"] = twilioAccountSid
	}
	m["createdAt"], m["updatedAt"] = isoMillis(p.CreatedAt), isoMillis(p.UpdatedAt)
	writeJSON(w, http.StatusOK, m)
}
