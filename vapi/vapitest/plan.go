package vapitest

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// plan is how a call plays out, in simulated time.
type plan struct {
	outcome     Outcome
	endedReason string
	queued      time.Duration // queued → ringing
	ring        time.Duration // ringing → in-progress or ended
	talk        time.Duration // in-progress → ended; 0: never answered
	post        time.Duration // ended → end-of-call-report
}

// MagicPrefix starts the magic numbers: +1 201 555 01NN, valid US numbers
// (555-0100..0199 is the fictional range). NN picks the outcome; see
// MagicOutcome.
const MagicPrefix = "+120155501"

// The last two completed magic numbers also carry follow-ups in the call's structured data:
// +1 201 555 0108 asks not to be called again ({"do_not_call": true}) and +1 201 555 0109
// asks for a callback two hours (simulated) after the call ended ({"callback_at": …}).
const (
	MagicDoNotCall = 8
	MagicCallback  = 9
)

// MagicOutcome returns the outcome forced by a magic number, if number is
// one: NN 00–09 completed, 10–19 no-answer, 20–29 busy, 30–39 voicemail,
// 40–44 failed (SIP 503), 45–49 failed (twilio-failed-to-connect-call),
// 50–59 start-error. NN 60–99 follow the mix like any other number.
func MagicOutcome(number string) (Outcome, bool) {
	if !strings.HasPrefix(number, MagicPrefix) || len(number) != len(MagicPrefix)+2 {
		return "", false
	}
	nn, err := strconv.Atoi(number[len(MagicPrefix):])
	if err != nil {
		return "", false
	}
	switch {
	case nn < 10:
		return OutcomeCompleted, true
	case nn < 20:
		return OutcomeNoAnswer, true
	case nn < 30:
		return OutcomeBusy, true
	case nn < 40:
		return OutcomeVoicemail, true
	case nn < 50:
		return OutcomeFailed, true
	case nn < 60:
		return OutcomeStartError, true
	}
	return "", false
}

// OutcomeFor returns the outcome of the first call to number at an hour of average answering:
// the magic outcome, else the mix's (see OutcomeForCall).
func (s *Server) OutcomeFor(number string) Outcome {
	o, _ := s.outcomeForCall(number, 0, 1)
	return o
}

// OutcomeForCall returns the outcome of call index (0 for the first) to number placed at at:
// the magic outcome, else a draw from the number's stable propensity, deterministic for
// (Seed, number, index, the number's local hour at at). Server numbers the calls to a number
// in the order it creates them (calls refused for concurrency do not count).
//
// Each number is, for good, one of: dead (every call ends the same way: start-error, or
// failed with twilio-failed-to-connect-call), or live, with an answering propensity (a third
// of people rarely answer, a quarter nearly always do) and a voicemail box or not. A call to
// a live number fails in transit (SIP 503) at random, else is answered with the number's
// propensity times the local hour's factor (lower in working hours, higher in the evening,
// low outside calling hours) times 0.92 per earlier call (people learn to screen a caller),
// else is busy at random, else goes to voicemail if the number has a box, else rings out.
// Weights come from Config.OutcomeMix, so the first calls at an average hour follow the mix;
// later calls reach a share of those not reached before, fewer with each attempt.
func (s *Server) OutcomeForCall(number string, index int, at time.Time) Outcome {
	o, _ := s.outcomeForCall(number, index, hourFactor(s.localHour(number, at)))
	return o
}

// outcomeForCall is OutcomeForCall for an hour factor; dead reports a number that is dead
// (its every call ends the same way).
func (s *Server) outcomeForCall(number string, index int, hour float64) (o Outcome, dead bool) {
	if o, ok := MagicOutcome(number); ok {
		return o, false
	}
	m := s.cfg.OutcomeMix
	c, n, b, v, f, se := max(0, m.Completed), max(0, m.NoAnswer), max(0, m.Busy), max(0, m.Voicemail),
		max(0, m.Failed), max(0, m.StartError)
	total := c + n + b + v + f + se
	if total == 0 {
		return OutcomeCompleted, false
	}
	c, n, b, v, f, se = c/total, n/total, b/total, v/total, f/total, se/total
	// Half the failures are dead numbers, half faults in transit on live ones.
	switch kind := s.unit(number, "kind"); {
	case kind < se:
		return OutcomeStartError, true
	case kind < se+f/2:
		return OutcomeFailed, true
	}
	key := callKey(number, index)
	if live := 1 - se - f/2; live > 0 && s.unit(key, "transit") < (f/2)/live {
		return OutcomeFailed, false
	}
	if reach := c + n + b + v; reach > 0 {
		answer := c / reach * propensity(s.unit(number, "propensity")) * hour * math.Pow(0.92, float64(index))
		if s.unit(key, "answer") < min(answer, 0.95) {
			return OutcomeCompleted, false
		}
	}
	if unanswered := n + b + v; unanswered > 0 && s.unit(key, "busy") < b/unanswered {
		return OutcomeBusy, false
	}
	if n+v > 0 && s.unit(number, "voicemail") < v/(n+v) {
		return OutcomeVoicemail, false
	}
	if n+v == 0 {
		return OutcomeBusy, false
	}
	return OutcomeNoAnswer, false
}

// propensity turns a number's draw into its answering propensity, relative to the mix's (mean
// about 1): a third of people rarely answer, a quarter nearly always do.
func propensity(u float64) float64 {
	switch {
	case u < 0.3:
		return 0.3
	case u < 0.75:
		return 1.1
	}
	return 1.64
}

// hourFactor is how much more (or less) likely than on average a call is answered at a local
// hour: less in working hours, most in the early evening, little outside calling hours. Its
// mean over 9:00–21:00 is about 1.
func hourFactor(hour int) float64 {
	switch {
	case hour < 8 || hour >= 21:
		return 0.6
	case hour < 9:
		return 0.7
	case hour < 12:
		return 0.8
	case hour < 13:
		return 1.0
	case hour < 17:
		return 0.85
	case hour < 20:
		return 1.3
	}
	return 1.1
}

// localHour is the hour of at in number's time zone (the first of its zones; UTC when the
// number's zone is unknown).
func (s *Server) localHour(number string, at time.Time) int {
	zone := "UTC"
	if pn, err := phonenumbers.Parse(number, ""); err == nil {
		if zones, err := phonenumbers.GetTimezonesForNumber(pn); err == nil && len(zones) > 0 {
			zone = zones[0]
		}
	}
	s.zonesMu.Lock()
	loc, ok := s.zones[zone]
	if !ok {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			loc = time.UTC
		}
		s.zones[zone] = loc
	}
	s.zonesMu.Unlock()
	return at.In(loc).Hour()
}

// callKey names call index of number for the per-call draws (the first call's key is the
// number itself).
func callKey(number string, index int) string {
	if index == 0 {
		return number
	}
	return number + "#" + strconv.Itoa(index)
}

// between returns a deterministic duration in [lo, hi] for (number, salt).
func (s *Server) between(number, salt string, lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(s.unit(number, salt)*float64(hi-lo))
	return d.Truncate(time.Millisecond)
}

// planFor plans call index (0 for the first) to number, placed at at.
func (s *Server) planFor(number string, index int, at time.Time) plan {
	o, dead := s.outcomeForCall(number, index, hourFactor(s.localHour(number, at)))
	key := callKey(number, index)
	p := plan{outcome: o, queued: s.between(key, "queued", 500*time.Millisecond, 2*time.Second),
		post: s.between(key, "post", 3*time.Second, 8*time.Second)}
	switch o {
	case OutcomeCompleted:
		p.ring = s.between(key, "ring", 4*time.Second, 15*time.Second)
		p.talk = s.between(key, "talk", 30*time.Second, 240*time.Second)
		if s.unit(key, "ender") < 0.6 {
			p.endedReason = "customer-ended-call"
		} else {
			p.endedReason = "assistant-ended-call"
		}
	case OutcomeVoicemail:
		p.ring = s.between(key, "ring", 15*time.Second, 25*time.Second)
		p.talk = s.between(key, "talk", 20*time.Second, 40*time.Second)
		p.endedReason = "voicemail"
	case OutcomeNoAnswer:
		p.ring = s.between(key, "ring", 25*time.Second, 35*time.Second)
		p.endedReason = "customer-did-not-answer"
	case OutcomeBusy:
		p.ring = s.between(key, "ring", 4*time.Second, 6*time.Second)
		p.endedReason = "customer-busy"
	case OutcomeFailed:
		p.ring = s.between(key, "ring", 1*time.Second, 4*time.Second)
		p.endedReason = "call.in-progress.error-providerfault-outbound-sip-503-service-unavailable"
		nn, magic := magicNN(number)
		if (magic && nn >= 45) || (!magic && dead) { // a dead number never connects
			p.endedReason = "twilio-failed-to-connect-call"
		}
	case OutcomeStartError:
		p.endedReason = "call.start.error-get-phone-number"
		p.queued, p.post = 0, 2*time.Second
	}
	return p
}

func magicNN(number string) (int, bool) {
	if _, ok := MagicOutcome(number); !ok {
		return 0, false
	}
	nn, _ := strconv.Atoi(number[len(MagicPrefix):])
	return nn, true
}
