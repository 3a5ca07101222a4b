package console

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
)

// done redirects to the campaign's page with a flash message.
func (srv *server) done(w http.ResponseWriter, r *http.Request, c *campaign.Campaign, f flash) {
	http.SetCookie(w, srv.auth.flashCookie(f, secure(r)))
	http.Redirect(w, r, fmt.Sprintf("%scampaigns/%d", Prefix, c.ID), http.StatusSeeOther)
}

// audit logs an operator's action.
func (srv *server) audit(s session, c *campaign.Campaign, action string, attrs ...any) {
	srv.cfg.Logger.Info("console action", append([]any{"user", s.User, "action", action, "campaign_id", c.ID, "campaign", c.Name}, attrs...)...)
}

// pause pauses a running campaign (Store.Pause, as campaign pause).
func (srv *server) pause(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	err := srv.cfg.Store.Pause(r.Context(), c.ID, srv.cfg.Now())
	switch {
	case errors.Is(err, campaign.ErrWrongStatus):
		srv.done(w, r, c, flash{Error: true, Text: fmt.Sprintf("Campaign %s is %s: there is nothing to pause.", c.Name, c.Status)})
	case err != nil:
		srv.fail(w, r, err)
	default:
		srv.audit(s, c, "pause")
		srv.done(w, r, c, flash{Text: fmt.Sprintf("Campaign %s paused: no new calls; calls in flight finish and are recorded.", c.Name)})
	}
}

// resumeRefusal says why the console does not resume campaign c, "" when it does. The console
// sets a campaign running again (Store.Resume); that is enough when a process dials it: campaign
// serve for a campaign of the service, or the live foreground process that ran it. A foreground
// or simulated campaign whose process is gone needs its terminal command, which brings the
// pre-flight checks (and, with --detach, hands it to the service).
func resumeRefusal(c *campaign.Campaign, runners campaign.RunnerState) string {
	if c.Mode == campaign.ModeService || runners.Live > 0 {
		return ""
	}
	if c.Mode == campaign.ModeSimulated {
		return fmt.Sprintf("Campaign %s ran on the simulator of a process that is gone: continue it from a terminal with: %s",
			c.Name, campaign.ContinueCommand(c, false))
	}
	return fmt.Sprintf("No process runs campaign %s (it ran in the foreground): continue it from a terminal with "+
		"campaign resume %s --detach (hands it to campaign serve), or %s", c.Name, c.Name, campaign.ContinueCommand(c, false))
}

// resume sets a campaign running again (Store.Resume, as campaign resume), when a process will
// dial it (see resumeRefusal).
func (srv *server) resume(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	runners, _, err := srv.cfg.Store.Runners(r.Context(), c.ID)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if note := resumeRefusal(c, runners); note != "" {
		srv.done(w, r, c, flash{Error: true, Text: note})
		return
	}
	back, err := srv.cfg.Store.Resume(r.Context(), c.ID, campaign.ResumeOptions{}, srv.cfg.Now())
	switch {
	case errors.Is(err, campaign.ErrWrongStatus):
		srv.done(w, r, c, flash{Error: true, Text: fmt.Sprintf("Campaign %s is %s: nothing to resume. To call its failed contacts again: campaign resume %s --retry-failed",
			c.Name, c.Status, c.Name)})
	case err != nil:
		srv.fail(w, r, err)
	default:
		srv.audit(s, c, "resume", "contacts_back", back)
		srv.done(w, r, c, flash{Text: fmt.Sprintf("Campaign %s resumed: %d contacts back in dispatch.", c.Name, back)})
	}
}

// cancel ends a campaign (Store.Cancel, as campaign cancel) once confirmed; without the
// confirmation it shows the confirm page.
func (srv *server) cancel(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, fmt.Sprintf("%scampaigns/%d/cancel", Prefix, c.ID), http.StatusSeeOther)
		return
	}
	n, err := srv.cfg.Store.Cancel(r.Context(), c.ID, srv.cfg.Now())
	switch {
	case errors.Is(err, campaign.ErrWrongStatus):
		srv.done(w, r, c, flash{Error: true, Text: fmt.Sprintf("Campaign %s is %s already: there is nothing to cancel.", c.Name, c.Status)})
	case err != nil:
		srv.fail(w, r, err)
	default:
		srv.audit(s, c, "cancel", "contacts_cancelled", n)
		srv.done(w, r, c, flash{Text: fmt.Sprintf("Campaign %s cancelled: %d contacts will not be called; calls in flight finish and are recorded.", c.Name, n)})
	}
}

// pacingChanges reads the pacing form: every field that differs from the campaign's setting
// becomes a change, checked with the rules of campaign set.
func pacingChanges(r *http.Request, c *campaign.Campaign) (campaign.Pacing, []string, error) {
	var p campaign.Pacing
	var changed []string
	if v := strings.TrimSpace(r.PostFormValue("rate")); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate < 0 {
			return p, nil, fmt.Errorf("rate must be 0 (no limit) or more calls a second, got %q", v)
		}
		if rate != c.RatePerSecond {
			p.RatePerSecond = &rate
			changed = append(changed, "rate "+rateText(c.RatePerSecond)+" → "+rateText(rate))
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("max_concurrent")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, nil, fmt.Errorf("max concurrent calls must be a whole number, at least 1, got %q", v)
		}
		if n != c.MaxConcurrent {
			p.MaxConcurrent = &n
			changed = append(changed, fmt.Sprintf("max concurrent %d → %d", c.MaxConcurrent, n))
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("window")); v != "" && v != c.WindowSpec {
		if _, err := campaign.ParseWindow(v); err != nil {
			return p, nil, fmt.Errorf("calling window: %w", err)
		}
		p.WindowSpec = &v
		changed = append(changed, fmt.Sprintf("window %q → %q", c.WindowSpec, v))
	}
	if v := strings.TrimSpace(r.PostFormValue("max_cost")); v != "" {
		budget, err := campaign.ParseMaxCost(v)
		if err != nil {
			return p, nil, fmt.Errorf("budget cap %w", err)
		}
		differs := (budget == nil) != (c.MaxCostUSD == nil) || (budget != nil && *budget != *c.MaxCostUSD)
		if differs {
			p.MaxCostUSD = new(float64) // 0: no cap
			if budget != nil {
				*p.MaxCostUSD = *budget
			}
			changed = append(changed, "budget cap "+maxCostText(c.MaxCostUSD)+" → "+maxCostText(budget))
		}
	}
	return p, changed, nil
}

// set changes a campaign's rate, cap, window or budget (Store.SetPacing, as campaign set).
func (srv *server) set(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	p, changed, err := pacingChanges(r, c)
	if err != nil {
		srv.done(w, r, c, flash{Error: true, Text: "Nothing changed: " + err.Error()})
		return
	}
	if len(changed) == 0 {
		srv.done(w, r, c, flash{Text: "Nothing changed: every value is the campaign's already."})
		return
	}
	err = srv.cfg.Store.SetPacing(r.Context(), c.ID, p, srv.cfg.Now())
	switch {
	case errors.Is(err, campaign.ErrBadSchedule):
		srv.done(w, r, c, flash{Error: true, Text: "Nothing changed: " + err.Error()})
	case err != nil:
		srv.fail(w, r, err)
	default:
		srv.audit(s, c, "set", "changes", strings.Join(changed, "; "))
		text := fmt.Sprintf("Campaign %s updated (%s); running processes apply it within seconds.", c.Name, strings.Join(changed, "; "))
		if c.Status == campaign.StatusPaused && c.PausedReason == campaign.PauseBudget && p.MaxCostUSD != nil {
			text += " It stays paused by its budget cap until you resume it."
		}
		srv.done(w, r, c, flash{Text: text})
	}
}

// attachment sets the headers of a download named name.
func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
}

// fileName is a campaign's name made safe for a download's file name.
func fileName(c *campaign.Campaign) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, c.Name)
}

// exportCSV streams the campaign's results as CSV (the export of campaign export).
func (srv *server) exportCSV(w http.ResponseWriter, r *http.Request, _ session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	attachment(w, "text/csv; charset=utf-8", fileName(c)+".csv")
	if err := srv.cfg.Export(r.Context(), c, w); err != nil {
		// The headers are gone: the download ends short, and the log says why.
		srv.cfg.Logger.Error("console export", "campaign_id", c.ID, "error", err)
	}
}

// reportHTML serves the campaign's HTML report (the page of campaign report --format html).
func (srv *server) reportHTML(w http.ResponseWriter, r *http.Request, _ session) {
	c, ok := srv.loadCampaign(w, r)
	if !ok {
		return
	}
	facts, err := srv.cfg.Store.ReportFacts(r.Context(), c.ID)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := reports.WriteHTML(&b, reports.Build(facts, reports.Options{Now: srv.cfg.Now()})); err != nil {
		srv.fail(w, r, err)
		return
	}
	attachment(w, "text/html; charset=utf-8", fileName(c)+"-report.html")
	_, _ = w.Write(b.Bytes())
}
