package vapitest

import (
	"strconv"
	"strings"
	"time"
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

// OutcomeFor returns the outcome the Server gives number: the magic
// outcome, else one drawn from the mix deterministically from (Seed,
// number).
func (s *Server) OutcomeFor(number string) Outcome {
	if o, ok := MagicOutcome(number); ok {
		return o
	}
	m := s.cfg.OutcomeMix
	weights := []struct {
		o Outcome
		w float64
	}{
		{OutcomeCompleted, m.Completed}, {OutcomeNoAnswer, m.NoAnswer}, {OutcomeBusy, m.Busy},
		{OutcomeVoicemail, m.Voicemail}, {OutcomeFailed, m.Failed}, {OutcomeStartError, m.StartError},
	}
	total := 0.0
	for _, w := range weights {
		total += max(0, w.w)
	}
	x := s.unit(number, "outcome") * total
	for _, w := range weights {
		if x < max(0, w.w) {
			return w.o
		}
		x -= max(0, w.w)
	}
	return OutcomeCompleted
}

// between returns a deterministic duration in [lo, hi] for (number, salt).
func (s *Server) between(number, salt string, lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(s.unit(number, salt)*float64(hi-lo))
	return d.Truncate(time.Millisecond)
}

// planFor plans the call to number.
func (s *Server) planFor(number string) plan {
	o := s.OutcomeFor(number)
	p := plan{outcome: o, queued: s.between(number, "queued", 500*time.Millisecond, 2*time.Second),
		post: s.between(number, "post", 3*time.Second, 8*time.Second)}
	switch o {
	case OutcomeCompleted:
		p.ring = s.between(number, "ring", 4*time.Second, 15*time.Second)
		p.talk = s.between(number, "talk", 30*time.Second, 240*time.Second)
		if s.unit(number, "ender") < 0.6 {
			p.endedReason = "customer-ended-call"
		} else {
			p.endedReason = "assistant-ended-call"
		}
	case OutcomeVoicemail:
		p.ring = s.between(number, "ring", 15*time.Second, 25*time.Second)
		p.talk = s.between(number, "talk", 20*time.Second, 40*time.Second)
		p.endedReason = "voicemail"
	case OutcomeNoAnswer:
		p.ring = s.between(number, "ring", 25*time.Second, 35*time.Second)
		p.endedReason = "customer-did-not-answer"
	case OutcomeBusy:
		p.ring = s.between(number, "ring", 4*time.Second, 6*time.Second)
		p.endedReason = "customer-busy"
	case OutcomeFailed:
		p.ring = s.between(number, "ring", 1*time.Second, 4*time.Second)
		p.endedReason = "call.in-progress.error-providerfault-outbound-sip-503-service-unavailable"
		nn, magic := magicNN(number)
		if (magic && nn >= 45) || (!magic && s.unit(number, "fault") < 0.5) {
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
