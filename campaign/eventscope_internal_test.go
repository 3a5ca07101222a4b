package campaign

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Attempts of campaign 1 (a1 with call c1, a2 not yet created) and campaign 2 (b1 with call c2,
// b2 not yet created).
var (
	scopeA1 = lockedAttempt{id: 1, campaignID: 1, callID: "c1", key: "k-a1"}
	scopeA2 = lockedAttempt{id: 2, campaignID: 1, key: "k-a2"}
	scopeB1 = lockedAttempt{id: 3, campaignID: 2, callID: "c2", key: "k-b1"}
	scopeB2 = lockedAttempt{id: 4, campaignID: 2, key: "k-b2"}
)

// scopeCandidates is what lockAttemptOfCall would find for callID and key among the attempts
// above.
func scopeCandidates(callID, key string) []lockedAttempt {
	var found []lockedAttempt
	for _, a := range []lockedAttempt{scopeA1, scopeA2, scopeB1, scopeB2} {
		if (callID != "" && a.callID == callID) || (key != "" && a.key == key) {
			found = append(found, a)
		}
	}
	return found
}

func TestMatchEventAttempt(t *testing.T) {
	t.Parallel()
	const (
		unknown  = -1
		rejected = -2
	)
	for _, tc := range []struct {
		name        string
		callID, key string
		campaignID  int64
		want        int64 // the attempt's id, unknown or rejected
	}{
		{"CallID", "c1", "", 1, 1},
		{"Key", "", "k-a1", 1, 1},
		{"Both", "c1", "k-a1", 1, 1},
		{"KeyBeforeCallIDStored", "c9", "k-a2", 1, 2},
		{"AnyCampaign", "c2", "k-b1", 0, 3},
		{"AnyCampaignCallID", "c2", "", 0, 3},
		{"Nothing", "", "", 1, unknown},
		{"UnknownCall", "c9", "", 1, unknown},
		{"UnknownKey", "", "k-zz", 1, unknown},
		{"UnknownBoth", "c9", "k-zz", 0, unknown},

		{"CallIDOfOtherCampaign", "c2", "", 1, rejected},
		{"KeyOfOtherCampaign", "", "k-b1", 1, rejected},
		{"KeyOfOtherCampaignNotYetCreated", "c9", "k-b2", 1, rejected},
		{"BothOfOtherCampaign", "c2", "k-b1", 1, rejected},
		{"CallIDOwnKeyOther", "c1", "k-b1", 1, rejected},
		{"CallIDOtherKeyOwn", "c2", "k-a1", 1, rejected},
		{"CallIDOtherKeyOwnAnyCampaign", "c2", "k-a1", 0, rejected},
		{"TwoAttemptsOfOneCampaign", "c1", "k-a2", 1, rejected},
		{"KnownCallIDUnknownKey", "c1", "k-zz", 1, rejected},
		{"KeyOfAnotherCall", "c9", "k-a1", 1, rejected},
		{"KeyOfAnotherCallAnyCampaign", "c9", "k-a1", 0, rejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			candidates := scopeCandidates(tc.callID, tc.key)
			i, err := matchEventAttempt(candidates, tc.callID, tc.key, tc.campaignID)
			switch tc.want {
			case unknown:
				require.ErrorIs(t, err, ErrUnknownCall)
			case rejected:
				var re *EventRejectedError
				require.ErrorAs(t, err, &re)
				require.NotEmpty(t, re.Reason)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.want, candidates[i].id)
			}
		})
	}
}

// FuzzMatchEventAttempt checks the guarantee itself on any input: an attempt chosen belongs to
// the event's campaign (when it names one), is the attempt of its call id and of its key when
// they are given, and no other outcome than a choice, ErrUnknownCall or a rejection occurs.
func FuzzMatchEventAttempt(f *testing.F) {
	f.Add("c1", "k-a1", int64(1))
	f.Add("c2", "k-a1", int64(0))
	f.Add("c9", "k-b2", int64(1))
	f.Add("", "k-b1", int64(2))
	f.Add("c1", "", int64(2))
	f.Fuzz(func(t *testing.T, callID, key string, campaignID int64) {
		candidates := scopeCandidates(callID, key)
		i, err := matchEventAttempt(candidates, callID, key, campaignID)
		if err != nil {
			var re *EventRejectedError
			if !errors.Is(err, ErrUnknownCall) && !errors.As(err, &re) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		a := candidates[i]
		if campaignID != 0 && a.campaignID != campaignID {
			t.Fatalf("attempt %d of campaign %d for an event of campaign %d", a.id, a.campaignID, campaignID)
		}
		if callID != "" && a.callID != callID && a.callID != "" {
			t.Fatalf("attempt %d has call %q, the event %q", a.id, a.callID, callID)
		}
		if key != "" && a.key != key {
			t.Fatalf("attempt %d has key %q, the event %q", a.id, a.key, key)
		}
		if callID == "" && key == "" {
			t.Fatalf("attempt %d chosen for an event naming nothing", a.id)
		}
	})
}
