package campaign

import (
	"bufio"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassifyEndedReason(t *testing.T) {
	cases := []struct {
		reason string
		want   Outcome
	}{
		{"customer-ended-call", OutcomeCompleted},
		{"assistant-said-end-call-phrase", OutcomeCompleted},
		{"exceeded-max-duration", OutcomeCompleted},
		{"call.in-progress.error-warm-transfer-silence-timeout", OutcomeCompleted},
		{"voicemail", OutcomeVoicemail},
		{"customer-did-not-answer", OutcomeNoAnswer},
		{"call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable", OutcomeNoAnswer},
		{"customer-busy", OutcomeBusy},
		{"call.start.error-subscription-concurrency-limit-reached", OutcomeCapacity},
		{"twilio-failed-to-connect-call", OutcomeFailedRetryable},
		{"worker-shutdown", OutcomeFailedRetryable},
		{"call.in-progress.error-vapifault-openai-llm-failed", OutcomeFailedRetryable},
		{"call.in-progress.error-providerfault-outbound-sip-503-service-unavailable", OutcomeFailedRetryable},
		{"pipeline-error-openai-llm-failed", OutcomeFailedRetryable},
		{"twilio-reported-customer-misdialed", OutcomeFailedPermanent},
		{"call.start.error-subscription-insufficient-credits", OutcomeFailedPermanent},
		{"call.start.error-get-assistant", OutcomeFailedPermanent},
		{"assistant-not-found", OutcomeFailedPermanent},
		// Reasons this version has never seen: by family, else the safe default.
		{"call.in-progress.error-vapifault-some-new-model-failed", OutcomeFailedRetryable},
		{"customer-ended-call-while-on-hold", OutcomeCompleted},
		{"call.start.error-some-new-account-check", OutcomeFailedPermanent},
		{"something-entirely-new", OutcomeFailedPermanent},
		{"", OutcomeFailedPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			require.Equal(t, tc.want, ClassifyEndedReason(tc.reason))
		})
	}
}

// TestClassifyEveryKnownReason classifies all 627 reasons of Vapi's spec and checks the split:
// a change to the tables that moves many reasons at once shows up here.
func TestClassifyEveryKnownReason(t *testing.T) {
	f, err := os.Open("testdata/ended-reasons.txt")
	require.NoError(t, err)
	defer f.Close()
	counts := map[Outcome]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[ClassifyEndedReason(sc.Text())]++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, map[Outcome]int{
		OutcomeCompleted:       23,
		OutcomeVoicemail:       1,
		OutcomeNoAnswer:        3,
		OutcomeBusy:            2,
		OutcomeCapacity:        1,
		OutcomeFailedRetryable: 560,
		OutcomeFailedPermanent: 37,
	}, counts)
	for _, o := range []Outcome{OutcomeCompleted, OutcomeVoicemail} {
		require.True(t, o.Reached())
	}
	require.False(t, OutcomeNoAnswer.Reached())
}

// TestContactOutcomes: the list completion and export filters offer is every call outcome, then
// every outcome of a contact its calling hours fail.
func TestContactOutcomes(t *testing.T) {
	require.Equal(t, []string{"completed", "voicemail", "no_answer", "busy", "failed_retryable", "failed_permanent",
		"capacity", "invalid_window", "invalid_time_zone", "no_calling_window", "ineligible", "expired"}, ContactOutcomes())
}
