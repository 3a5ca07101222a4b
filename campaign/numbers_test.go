package campaign_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestParseNumberStrategy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]campaign.NumberStrategy{
		"": campaign.StrategyRoundRobin, "round-robin": campaign.StrategyRoundRobin, "local-presence": campaign.StrategyLocalPresence,
	} {
		got, err := campaign.ParseNumberStrategy(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := campaign.ParseNumberStrategy("random")
	require.ErrorContains(t, err, `unknown number strategy "random"`)
}

// TestNumberOrder: round robin starts at the counter and wraps; local presence puts the numbers
// with the contact's area code first, then those of its country, then the rest (other
// countries, numbers not known), each group in the round robin's turn.
func TestNumberOrder(t *testing.T) {
	t.Parallel()
	const (
		sf1    = "+14155550100" // San Francisco, 415
		sf2    = "+14155550199"
		nyc    = "+12125550100" // New York, 212
		ca     = "+14165550100" // Toronto: +1 too, another country
		london = "+442079460000"
		manc   = "+441619460000"
		sip    = ""
	)
	rr := func(next int64, n int) []int {
		return campaign.NumberOrder(campaign.StrategyRoundRobin, make([]string, n), "+14155551234", next)
	}
	require.Equal(t, []int{0, 1, 2}, rr(0, 3))
	require.Equal(t, []int{2, 0, 1}, rr(2, 3))
	require.Equal(t, []int{1, 2, 0}, rr(7, 3), "the counter wraps")
	require.Nil(t, rr(0, 0), "no pool, no order")

	lp := func(contact string, next int64, pool ...string) []int {
		return campaign.NumberOrder(campaign.StrategyLocalPresence, pool, contact, next)
	}
	pool := []string{nyc, sip, sf1, london, ca, sf2}
	require.Equal(t, []int{2, 5, 0, 1, 3, 4}, lp("+14155551234", 0, pool...),
		"the 415 numbers, then the other US one, then the rest (SIP, UK, Canada) in turn")
	require.Equal(t, []int{5, 2, 0, 3, 4, 1}, lp("+14155551234", 3, pool...), "each group in the turn from 3")
	require.Equal(t, []int{0, 2, 5, 1, 3, 4}, lp("+13105551234", 0, pool...), "no 310 number: any US number first")
	require.Equal(t, []int{4, 0, 1, 2, 3, 5}, lp("+14165551234", 0, pool...), "Toronto: the Canadian number, then any")
	require.Equal(t, []int{1, 0}, lp("+442079461234", 0, manc, london), "London: the 20 number first")
	require.Equal(t, []int{0, 1}, lp("+442079461234", 0, manc, sip), "a UK number before an unknown one")
	require.Equal(t, []int{1, 0}, lp("+442079461234", 1, sip, nyc), "nothing near: round robin")
}

// setupPool imports a running campaign calling phones from a pool, as settings says, all queued.
func setupPool(t *testing.T, settings campaign.Settings, phones ...string) *testBundle {
	t.Helper()
	return setup(t, setupOpts{contacts: 1, maxConcurrent: 50}).addPool(t, "pool", settings, phones...)
}

// addPool is setupPool on b's database: the bundle of another campaign, name.
func (b *testBundle) addPool(t *testing.T, name string, settings campaign.Settings, phones ...string) *testBundle {
	t.Helper()
	b = &testBundle{ctx: b.ctx, pool: b.pool, store: b.store}
	var csv strings.Builder
	csv.WriteString("phone\n")
	for _, p := range phones {
		fmt.Fprintf(&csv, "%s\n", p)
	}
	r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
	require.NoError(t, err)
	settings.WindowSpec, settings.DefaultTimeZone, settings.DefaultRegion = "always", "UTC", "US"
	settings.MaxConcurrent, settings.MaxAttempts, settings.RetryPolicy = 50, 3, "none"
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Settings: settings}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
	cs, err := b.store.Contacts(b.ctx, c.ID, len(phones))
	require.NoError(t, err)
	b.camp, b.contacts = c, nil
	for _, ct := range cs {
		b.contacts = append(b.contacts, ct.ID)
	}
	b.queueAll(t)
	return b
}

func phones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1415555%04d", 2000+i)
	}
	return out
}

// endCall ends an attempt's call (a status-update ended), freeing its number.
func (b *testBundle) endCall(t *testing.T, a *campaign.Attempt, at time.Time) {
	t.Helper()
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "", a.Key, "ended", "customer-ended-call", at))
}

// requeue puts a contact whose attempt ended back in the queue, as a retry would.
func (b *testBundle) requeue(t *testing.T, id int64) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET state = 'pending' WHERE id = $1`, id)
	require.NoError(t, err)
	b.queue(t, id)
}

// TestBeginAttemptRoundRobinsNumbers: the pool is stored as given, and each attempt records the
// next number in turn.
func TestBeginAttemptRoundRobinsNumbers(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a", "pn-b", "pn-c"}}, phones(7)...)
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"pn-a", "pn-b", "pn-c"}, c.PhoneNumberIDs)
	require.Equal(t, "pn-a", c.PhoneNumberID, "the first number stays the campaign's phone number")
	require.Equal(t, campaign.StrategyRoundRobin, c.NumberStrategy)

	var got []string
	for _, id := range b.contacts {
		got = append(got, b.grant(t, id, t0).PhoneNumberID)
	}
	require.Equal(t, []string{"pn-a", "pn-b", "pn-c", "pn-a", "pn-b", "pn-c", "pn-a"}, got)
	a, err := b.store.Attempt(b.ctx, mustAttemptID(t, b, b.contacts[1]))
	require.NoError(t, err)
	require.Equal(t, "pn-b", a.PhoneNumberID, "the number is stored with the attempt")
}

func mustAttemptID(t *testing.T, b *testBundle, contactID int64) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT max(id) FROM attempt WHERE contact_id = $1`, contactID).Scan(&id))
	return id
}

// TestBeginAttemptSingleNumber: a campaign given one phone number id, as before pools, calls from
// it.
func TestBeginAttemptSingleNumber(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberID: "pn-only"}, phones(2)...)
	require.Equal(t, []string{"pn-only"}, b.camp.PhoneNumberIDs)
	require.Equal(t, "pn-only", b.grant(t, b.contacts[0], t0).PhoneNumberID)
	require.Equal(t, "pn-only", b.grant(t, b.contacts[1], t0).PhoneNumberID)
}

// TestBeginAttemptPerNumberConcurrency: a number at its live-call limit is skipped; with every
// number at it the dial is refused (numbers_busy, no wait: a call may end any moment), until a
// call ends. The limit counts the number's live calls of every campaign.
func TestBeginAttemptPerNumberConcurrency(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a", "pn-b"}, PerNumberMaxConcurrent: 1}, phones(4)...)
	first := b.grant(t, b.contacts[0], t0)
	require.Equal(t, "pn-a", first.PhoneNumberID)
	require.Equal(t, "pn-b", b.grant(t, b.contacts[1], t0).PhoneNumberID)
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[2], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.DialGrant{Refusal: campaign.RefuseNumbersBusy}, g)
	require.Equal(t, campaign.ContactQueued, b.contact(t, b.contacts[2]).State, "nothing changes")

	b.endCall(t, first, t0.Add(time.Second))
	require.Equal(t, "pn-a", b.grant(t, b.contacts[2], t0.Add(time.Second)).PhoneNumberID)

	// Another campaign, without limits of its own, calls from pn-b's line too: pn-b has a live
	// call of this campaign, pn-a one now; the other campaign's call from pn-a keeps it busy
	// after this campaign's ends.
	other := b.addPool(t, "other", campaign.Settings{PhoneNumberIDs: []string{"pn-a"}}, "+14155559999")
	other.grant(t, other.contacts[0], t0)
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[3], t0.Add(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal)
}

// TestBeginAttemptPerNumberDailyCap: a number that placed its daily cap of calls today (UTC) is
// skipped; with every number at it the dial is refused with the wait until the next UTC day. A
// call that was not created does not count.
func TestBeginAttemptPerNumberDailyCap(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a"}, PerNumberDailyCap: 2}, phones(4)...)
	a1 := b.grant(t, b.contacts[0], t0)
	a2 := b.grant(t, b.contacts[1], t0)
	b.endCall(t, a1, t0.Add(time.Minute))
	b.endCall(t, a2, t0.Add(time.Minute))
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[2], t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal)
	require.Equal(t, 11*time.Hour, g.Wait, "t0 is 12:00 UTC: until midnight, less the hour passed")

	// Tomorrow the cap starts again.
	tomorrow := campaign.NumberDay(t0).Add(24 * time.Hour)
	a3 := b.grant(t, b.contacts[2], tomorrow)
	require.Equal(t, "pn-a", a3.PhoneNumberID)
	require.NoError(t, b.store.CallNotCreated(b.ctx, a3.ID, campaign.NotCreatedRetryable, "", "unreachable", tomorrow, tomorrow))
	b.grant(t, b.contacts[3], tomorrow)
	b.requeue(t, b.contacts[2])         // its retry
	b.grant(t, b.contacts[2], tomorrow) // the call not created did not count: the cap of 2 has room
	b.requeue(t, b.contacts[3])
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[3], tomorrow)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal)
}

// TestPerNumberDailyCapIgnoresCapacityRefusals: a call Vapi created but ended for lack of a
// concurrency slot (outcome capacity: nobody was dialed) does not use up the number's daily cap,
// as it does not count as an attempt of its contact; the calls that dialed someone do.
func TestPerNumberDailyCapIgnoresCapacityRefusals(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a"}, PerNumberDailyCap: 2}, phones(3)...)
	for i := range 3 { // an account at its concurrency limit: three refusals in a row
		a := b.grant(t, b.contacts[0], t0)
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, fmt.Sprintf("call-blocked-%d", i), t0, t0))
		applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: fmt.Sprintf("call-blocked-%d", i),
			EndedReason: "call.start.error-subscription-concurrency-limit-reached"}, t0)
		require.NoError(t, err)
		require.True(t, applied)
		require.Equal(t, campaign.OutcomeCapacity, b.attempt(t, a.ID).Outcome)
		require.Equal(t, campaign.AttemptEnded, b.attempt(t, a.ID).State, "ended, not not_created: a call was created")
		require.Zero(t, b.contact(t, b.contacts[0]).Attempts, "not an attempt")
		b.requeue(t, b.contacts[0])
	}
	later := t0.Add(time.Minute)
	require.Equal(t, "pn-a", b.grant(t, b.contacts[0], later).PhoneNumberID, "the cap of 2 is untouched")
	require.Equal(t, "pn-a", b.grant(t, b.contacts[1], later).PhoneNumberID)
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[2], later)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal, "two calls dialed someone: the cap is reached")
}

// TestBeginAttemptSameNumberOnRetry: a contact's next attempt comes from its previous attempt's
// number (and waits for it when it is busy), unless the campaign lets the strategy choose again.
func TestBeginAttemptSameNumberOnRetry(t *testing.T) {
	t.Parallel()
	for _, newNumber := range []bool{false, true} {
		t.Run(fmt.Sprintf("new number on retry %v", newNumber), func(t *testing.T) {
			t.Parallel()
			b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a", "pn-b"}, PerNumberMaxConcurrent: 1,
				NewNumberOnRetry: newNumber}, phones(3)...)
			first := b.grant(t, b.contacts[0], t0)
			require.Equal(t, "pn-a", first.PhoneNumberID)
			b.endCall(t, first, t0)
			b.requeue(t, b.contacts[0])
			retry := b.grant(t, b.contacts[0], t0.Add(time.Minute)) // round robin says pn-b
			if !newNumber {
				require.Equal(t, "pn-a", retry.PhoneNumberID, "the same number again")
				// With pn-a busy, another contact takes pn-b; the contact's third attempt waits for pn-a.
				b.endCall(t, retry, t0.Add(2*time.Minute))
				b.requeue(t, b.contacts[0])
				require.Equal(t, "pn-b", b.grant(t, b.contacts[1], t0.Add(2*time.Minute)).PhoneNumberID)
				require.Equal(t, "pn-a", b.grant(t, b.contacts[2], t0.Add(2*time.Minute)).PhoneNumberID)
				g, err := b.store.BeginAttempt(b.ctx, b.contacts[0], t0.Add(2*time.Minute))
				require.NoError(t, err)
				require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal, "pn-a is busy: wait for it")
				return
			}
			require.Equal(t, "pn-b", retry.PhoneNumberID, "the strategy chooses again")
		})
	}
}

// TestBeginAttemptLocalPresence: with local presence, a contact gets a number of its area code
// (the E.164 numbers the pre-flight noted), else one of its country, else any; a local number at
// its limit gives way to the next nearest.
func TestBeginAttemptLocalPresence(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-uk", "pn-nyc", "pn-sf"},
		NumberStrategy: campaign.StrategyLocalPresence, PerNumberMaxConcurrent: 1},
		"+14155550100", "+12125550100", "+13105550100", "+14155550101", "+14155550102")
	require.NoError(t, b.store.NoteCallerNumbers(b.ctx, map[string]string{
		"pn-uk": "+442079460000", "pn-nyc": "+12125559999", "pn-sf": "+14155559999"}, t0))
	e164, err := b.store.CallerNumberE164(b.ctx, []string{"pn-uk", "pn-sf", "pn-none"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"pn-uk": "+442079460000", "pn-sf": "+14155559999"}, e164)

	require.Equal(t, "pn-sf", b.grant(t, b.contacts[0], t0).PhoneNumberID, "415: the 415 number")
	require.Equal(t, "pn-nyc", b.grant(t, b.contacts[1], t0).PhoneNumberID, "212: the 212 number")
	require.Equal(t, "pn-uk", b.grant(t, b.contacts[2], t0).PhoneNumberID, "310: the US numbers are busy, so any")
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[3], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal, "every number is busy")
}

// TestBeginAttemptLocksNumbersBeforeTheAccount: BeginAttempt waits for a caller number's row
// while holding the contact and the campaign only: a transaction that holds the number and then
// takes the account's row (the lock order) does not deadlock with it.
func TestBeginAttemptLocksNumbersBeforeTheAccount(t *testing.T) {
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a"}}, phones(1)...)
	require.NoError(t, b.store.UseAccount(b.ctx, b.camp.ID, "acct"))
	_, err := b.pool.Exec(b.ctx, `INSERT INTO vapi_account (id) VALUES ('acct')`)
	require.NoError(t, err)
	require.NoError(t, b.store.NoteCallerNumbers(b.ctx, map[string]string{"pn-a": "+14155559999"}, t0))

	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `SELECT 1 FROM caller_number WHERE id = 'pn-a' FOR NO KEY UPDATE`)
	granted := b.whileBlocked(t, pid, func() error {
		g, err := b.store.BeginAttempt(b.ctx, b.contacts[0], t0)
		if err == nil && g.Attempt == nil {
			err = fmt.Errorf("refused: %s", g.Refusal)
		}
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM vapi_account WHERE id = 'acct' FOR NO KEY UPDATE`)
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-granted)
}

// TestSetNumberPoolAndLimits: set changes and removes the per-number limits; a routing change
// replaces the pool, and the next dial takes from the new one.
func TestSetNumberPoolAndLimits(t *testing.T) {
	t.Parallel()
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a"}, PerNumberDailyCap: 5}, phones(2)...)
	three, zero := 3, 0
	require.NoError(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{PerNumberMaxConcurrent: &three, PerNumberDailyCap: &zero}, t0))
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 3, c.PerNumberMaxConcurrent)
	require.Zero(t, c.PerNumberDailyCap, "0 removes the cap")
	minus := -1
	require.Error(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{PerNumberDailyCap: &minus}, t0))

	pool, first := []string{"pn-x", "pn-y"}, "pn-x"
	require.NoError(t, b.store.SetRouting(b.ctx, b.camp.ID, campaign.Routing{PhoneNumberIDs: &pool, PhoneNumberID: &first}, t0))
	c, err = b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"pn-x", "pn-y"}, c.PhoneNumberIDs)
	require.Equal(t, "pn-x", c.PhoneNumberID)
	got := b.grant(t, b.contacts[0], t0).PhoneNumberID
	require.Contains(t, pool, got, "the new pool")
}

// TestBeginAttemptInsertsNumbersBeforeLockingAny: the first dial from a pool whose numbers are
// partly new to the database inserts the missing rows before it locks any: a transaction that
// inserted a new number (pn-a) and then locks a known one of a higher id (pn-b), in the lock
// order, does not deadlock with it. Locking pn-b first and then inserting pn-a would (40P01).
func TestBeginAttemptInsertsNumbersBeforeLockingAny(t *testing.T) {
	b := setupPool(t, campaign.Settings{PhoneNumberIDs: []string{"pn-a", "pn-b"}}, phones(1)...)
	require.NoError(t, b.store.NoteCallerNumbers(b.ctx, map[string]string{"pn-b": "+14155559999"}, t0))

	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `INSERT INTO caller_number (id) VALUES ('pn-a') ON CONFLICT DO NOTHING`) // another dial's first use
	granted := b.whileBlocked(t, pid, func() error {
		g, err := b.store.BeginAttempt(b.ctx, b.contacts[0], t0)
		if err == nil && g.Attempt == nil {
			err = fmt.Errorf("refused: %s", g.Refusal)
		}
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM caller_number WHERE id = 'pn-b' FOR NO KEY UPDATE`)
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-granted)
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM caller_number WHERE id IN ('pn-a', 'pn-b')`).Scan(&n))
	require.Equal(t, 2, n)
}
