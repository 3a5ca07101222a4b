package campaign_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

const (
	pnA = "b2c0d6a2-7b1e-4c59-9d33-00000000000a"
	pnB = "b2c0d6a2-7b1e-4c59-9d33-00000000000b"
)

func TestParseRowPhoneNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "  ": "", pnA: pnA, " " + strings.ToUpper(pnB) + "\t": pnB} {
		got, err := campaign.ParseRowPhoneNumber(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"pn-a", "+14155550100", pnA + "0", "phone:" + pnA} {
		_, err := campaign.ParseRowPhoneNumber(in)
		require.ErrorContains(t, err, "is not a phone number id", in)
	}
}

// TestReaderPhoneNumberColumn: the column is found by its header (case, '_', '-' and spaces
// ignored) or named by the option, is no template variable, and a malformed cell, or an empty
// one when the campaign has no number of its own, rejects the row (bad_phone_number_id).
func TestReaderPhoneNumberColumn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		input      string
		opts       campaign.ReaderOptions
		wantColumn int
		wantVars   []int
		wantLines  []int          // accepted rows
		wantReject map[int]string // line → detail substring
	}{
		{
			name:       "Header",
			input:      "phone,first,Phone Number-ID\n+14155550123,Ada," + pnA + "\n+14155550124,Bob,\n",
			wantColumn: 2, wantVars: []int{1}, wantLines: []int{2, 3},
		},
		{
			name:       "NamedByOption",
			input:      "caller,phone,first\n" + pnB + ",+14155550123,Ada\n",
			opts:       campaign.ReaderOptions{PhoneNumberColumn: "caller"},
			wantColumn: 0, wantVars: []int{2}, wantLines: []int{2},
		},
		{
			name:       "NoColumn",
			input:      "phone,caller\n+14155550123,x\n",
			wantColumn: -1, wantVars: []int{1}, wantLines: []int{2},
		},
		{
			name:       "BadCells",
			input:      "phone,phone_number_id\n+14155550121,pn-1\n+14155550122,\n+14155550123," + pnA + "\n",
			wantColumn: 1, wantLines: []int{3, 4},
			wantReject: map[int]string{2: `column "phone_number_id" (column 2): "pn-1" is not a phone number id`},
		},
		{
			name:  "RequiredWhenTheCampaignHasNone",
			input: "phone,phone_number_id\n+14155550121, \n+14155550122," + pnA + "\n",
			opts:  campaign.ReaderOptions{RequirePhoneNumber: true}, wantColumn: 1, wantLines: []int{3},
			wantReject: map[int]string{2: "empty, and the campaign has no phone number of its own"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd, err := campaign.NewReader(strings.NewReader(tt.input), tt.opts)
			require.NoError(t, err)
			h := rd.Header()
			require.Equal(t, tt.wantColumn, h.CallerNumber)
			require.Equal(t, tt.wantVars, h.Variables)
			var lines []int
			rejects := map[int]string{}
			for {
				row, rej, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if rej != nil {
					require.Equal(t, campaign.RejectBadPhoneNumberID, rej.Reason)
					rejects[rej.Line] = rej.Detail
					continue
				}
				lines = append(lines, row.Line)
			}
			require.Equal(t, tt.wantLines, lines)
			require.Len(t, rejects, len(tt.wantReject))
			for line, want := range tt.wantReject {
				require.Contains(t, rejects[line], want, "line %d", line)
			}
		})
	}
	_, err := campaign.NewReader(strings.NewReader("phone,first\n"), campaign.ReaderOptions{PhoneNumberColumn: "caller"})
	require.ErrorIs(t, err, campaign.ErrColumnNotFound)
	require.ErrorContains(t, err, "caller number column")
}

// TestImportRowPhoneNumbers imports a file with a caller number column, keeps the column with
// the campaign, reads each contact's own number, and lists the distinct numbers once each,
// however written, in file order; more than the limit is an error.
func TestImportRowPhoneNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)

	f, rejects := fileImport(t, "/in/numbers.csv", "phone,first,phone_number_id\n"+
		"+14155550100,Ada,"+pnB+"\n"+
		"+14155550101,Bob,\n"+
		"+14155550102,Cy, "+strings.ToUpper(pnA)+"\n"+
		"+14155550103,Di,"+pnB+"\n"+
		"+14155550104,Ed,pn-x\n", now)
	f.Settings.PhoneNumberID = "campaign-pn"
	c, err := store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, 4, c.ImportStats.Accepted)
	require.Equal(t, map[campaign.RejectReason]int{campaign.RejectBadPhoneNumberID: 1}, c.ImportStats.Rejected)
	require.Contains(t, rejects.String(), "bad_phone_number_id")

	c, err = store.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.NotNil(t, c.PhoneNumberColumn)
	require.Equal(t, 2, *c.PhoneNumberColumn)
	require.Equal(t, []int{1}, c.VariableColumns, "the caller number column is no variable")

	contacts, err := store.Contacts(ctx, c.ID, 10)
	require.NoError(t, err)
	var got []string
	for i := range contacts {
		id, err := c.RowPhoneNumber(&contacts[i])
		require.NoError(t, err)
		got = append(got, id)
	}
	require.Equal(t, []string{pnB, "", pnA, pnB}, got)

	numbers, err := store.RowPhoneNumbers(ctx, c, campaign.MaxRowPhoneNumbers)
	require.NoError(t, err)
	require.Equal(t, []string{pnB, pnA}, numbers)
	_, err = store.RowPhoneNumbers(ctx, c, 1)
	require.ErrorIs(t, err, campaign.ErrTooManyPhoneNumbers)
	require.ErrorContains(t, err, `the phone number column "phone_number_id" names more than 1 distinct numbers`)
	numbers, err = store.RowPhoneNumbers(ctx, c, 2)
	require.NoError(t, err, "exactly the limit")
	require.Len(t, numbers, 2)

	f, _ = fileImport(t, "/in/plain.csv", "phone\n+14155550100\n", now)
	plain, err := store.ImportFile(ctx, f)
	require.NoError(t, err)
	require.Nil(t, plain.PhoneNumberColumn)
	numbers, err = store.RowPhoneNumbers(ctx, plain, campaign.MaxRowPhoneNumbers)
	require.NoError(t, err)
	require.Empty(t, numbers)
}

// addRowNumbers imports into b's database a running campaign, name, whose CSV (phone and
// phone_number_id columns) fixes some contacts' numbers, all queued.
func (b *testBundle) addRowNumbers(t *testing.T, name string, settings campaign.Settings, csv string) *testBundle {
	t.Helper()
	b = &testBundle{ctx: b.ctx, pool: b.pool, store: b.store}
	r, err := campaign.NewReader(strings.NewReader(csv), campaign.ReaderOptions{RequirePhoneNumber: len(settings.CallerNumbers()) == 0})
	require.NoError(t, err)
	settings.WindowSpec, settings.DefaultTimeZone, settings.DefaultRegion = "always", "UTC", "US"
	settings.MaxConcurrent, settings.MaxAttempts, settings.RetryPolicy = 50, 3, "none"
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Settings: settings}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
	cs, err := b.store.Contacts(b.ctx, c.ID, 100)
	require.NoError(t, err)
	b.camp, b.contacts = c, nil
	for _, ct := range cs {
		b.contacts = append(b.contacts, ct.ID)
	}
	b.queueAll(t)
	return b
}

// TestBeginAttemptRowPhoneNumber: a contact whose row fixes its number calls from it whatever
// the pool's turn (which the fixed calls do not advance), a contact with an empty cell from the
// pool; a campaign without a pool calls every row from its own number.
func TestBeginAttemptRowPhoneNumber(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 50})
	p := b.addRowNumbers(t, "pooled", campaign.Settings{PhoneNumberIDs: []string{"pn-x", "pn-y"}},
		"phone,phone_number_id\n+14155552000,"+pnA+"\n+14155552001,\n+14155552002,"+strings.ToUpper(pnB)+"\n+14155552003,\n+14155552004,\n")
	var got []string
	for _, id := range p.contacts {
		got = append(got, p.grant(t, id, t0).PhoneNumberID)
	}
	require.Equal(t, []string{pnA, "pn-x", pnB, "pn-y", "pn-x"}, got)
	a, err := p.store.Attempt(p.ctx, mustAttemptID(t, p, p.contacts[2]))
	require.NoError(t, err)
	require.Equal(t, pnB, a.PhoneNumberID, "the fixed number is stored with the attempt")

	own := b.addRowNumbers(t, "own", campaign.Settings{},
		"phone,phone_number_id\n+14155553000,"+pnB+"\n+14155553001,\n+14155553002,"+pnA+"\n")
	require.Len(t, own.contacts, 2, "the row without a number is rejected: there is no pool")
	require.Empty(t, own.camp.PhoneNumberID)
	require.Equal(t, pnB, own.grant(t, own.contacts[0], t0).PhoneNumberID)
	require.Equal(t, pnA, own.grant(t, own.contacts[1], t0).PhoneNumberID)
}

// TestBeginAttemptRowPhoneNumberLimits: a fixed number at its per-number limit makes its contact
// wait (numbers_busy) rather than call from another number of the pool, and the limit counts the
// number's calls of every campaign: those the pool placed from it and those rows fixed to it.
func TestBeginAttemptRowPhoneNumberLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 50})
	p := b.addRowNumbers(t, "fixed", campaign.Settings{PhoneNumberIDs: []string{pnA, pnB}, PerNumberMaxConcurrent: 1},
		"phone,phone_number_id\n+14155552000,"+pnA+"\n+14155552001,"+pnA+"\n+14155552002,\n")
	first := p.grant(t, p.contacts[0], t0)
	require.Equal(t, pnA, first.PhoneNumberID)
	g, err := p.store.BeginAttempt(p.ctx, p.contacts[1], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.DialGrant{Refusal: campaign.RefuseNumbersBusy}, g, "waits for its number, though pnB is free")
	require.Equal(t, campaign.ContactQueued, p.contact(t, p.contacts[1]).State, "nothing changes")
	require.Equal(t, pnB, p.grant(t, p.contacts[2], t0).PhoneNumberID, "the pool skips pnA, busy with the fixed call")

	p.endCall(t, first, t0.Add(time.Second))
	// Another campaign's pool takes pnA now: the fixed contact waits for that call too.
	other := b.addPool(t, "other", campaign.Settings{PhoneNumberIDs: []string{pnA}}, "+14155559999")
	require.Equal(t, pnA, other.grant(t, other.contacts[0], t0.Add(time.Second)).PhoneNumberID)
	g, err = p.store.BeginAttempt(p.ctx, p.contacts[1], t0.Add(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal)

	// The daily cap holds a fixed number too, with the wait until the next UTC day.
	d := b.addRowNumbers(t, "daily", campaign.Settings{PerNumberDailyCap: 1},
		"phone,phone_number_id\n+14155554000,"+pnB+"\n+14155554001,"+pnB+"\n")
	day := campaign.NumberDay(t0).Add(24 * time.Hour)
	d.endCall(t, d.grant(t, d.contacts[0], day), day.Add(time.Minute))
	g, err = d.store.BeginAttempt(d.ctx, d.contacts[1], day.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNumbersBusy, g.Refusal)
	require.Equal(t, 23*time.Hour, g.Wait)
}

// TestContinueCommandRowPhoneNumbers: a campaign whose rows name their numbers needs no number
// of its own to be resumed.
func TestContinueCommandRowPhoneNumbers(t *testing.T) {
	t.Parallel()
	col := 1
	c := &campaign.Campaign{Name: "nov", Mode: campaign.ModeForeground, Columns: []string{"phone", "phone_number_id"},
		PhoneNumberColumn: &col, Settings: campaign.Settings{AssistantID: "a"}}
	require.Equal(t, "campaign resume nov", campaign.ContinueCommand(c, false))
	c.PhoneNumberColumn = nil
	require.Equal(t, "campaign resume nov --assistant-id ID --phone-number-id ID (or --simulate)", campaign.ContinueCommand(c, false))
}
