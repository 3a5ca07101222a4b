package campaign

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

func TestParsePhone(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		raw        string
		region     string
		wantE164   string
		wantZones  []string // checked when not nil
		wantReason RejectReason
		wantErr    string // substring of the rejection message
	}{
		{name: "E164", raw: "+14155550123", region: "US", wantE164: "+14155550123", wantZones: []string{"America/Los_Angeles"}},
		{name: "USNationalParentheses", raw: "(415) 555-0132", region: "US", wantE164: "+14155550132"},
		{name: "USNationalDots", raw: "415.555.0132", region: "US", wantE164: "+14155550132"},
		{name: "USNationalWithTrunkOne", raw: "1-415-555-0132", region: "US", wantE164: "+14155550132"},
		{name: "InternationalPunctuation", raw: "+1 (415) 555-0132", region: "US", wantE164: "+14155550132"},
		{name: "SurroundingSpaces", raw: "  +1 415 555 0132\t", region: "US", wantE164: "+14155550132"},
		{name: "DefaultRegionEmptyIsUS", raw: "(415) 555-0132", region: "", wantE164: "+14155550132"},
		{name: "GBNational", raw: "020 7946 0018", region: "GB", wantE164: "+442079460018", wantZones: []string{"Europe/London"}},
		{name: "GBNationalLowerCaseRegion", raw: "020 7946 0018", region: "gb", wantE164: "+442079460018"},
		{name: "GBInternationalFromUS", raw: "+44 20 7946 0018", region: "US", wantE164: "+442079460018"},
		{name: "IDDPrefixFromUS", raw: "011 44 20 7946 0018", region: "US", wantE164: "+442079460018"},
		{name: "IDDPrefixFromGB", raw: "0049 30 123456", region: "GB", wantE164: "+4930123456", wantZones: []string{"Europe/Berlin"}},
		{name: "ItalianLeadingZeroKept", raw: "02 1234 5678", region: "IT", wantE164: "+390212345678", wantZones: []string{"Europe/Rome"}},
		{name: "ExtensionWord", raw: "415-555-0132 ext. 7", region: "US", wantE164: "+14155550132"},
		{name: "ExtensionX", raw: "415.555.0132 x12", region: "US", wantE164: "+14155550132"},
		{name: "ExtensionHash", raw: "4155550132#22", region: "US", wantE164: "+14155550132"},
		{name: "SeveralZones", raw: "+44 7400 123456", region: "US", wantE164: "+447400123456",
			wantZones: []string{"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"}},
		{name: "NoZoneForNonGeographic", raw: "+800 1234 5678", region: "US", wantE164: "+80012345678", wantZones: []string{}},

		{name: "Empty", raw: "", region: "US", wantReason: RejectMissingPhone},
		{name: "Blank", raw: "   ", region: "US", wantReason: RejectMissingPhone},
		{name: "Words", raw: "call me maybe", region: "US", wantReason: RejectInvalidPhone, wantErr: "contains letters"},
		{name: "NotApplicable", raw: "n/a", region: "US", wantReason: RejectInvalidPhone},
		{name: "PlusOnly", raw: "+1", region: "US", wantReason: RejectInvalidPhone},
		{name: "Vanity", raw: "1-800-FLOWERS", region: "US", wantReason: RejectInvalidPhone, wantErr: "contains letters"},
		{name: "TrailingLetters", raw: "+14155550123abc", region: "US", wantReason: RejectInvalidPhone},
		{name: "ScientificNotation", raw: "4.15555E+09", region: "US", wantReason: RejectInvalidPhone, wantErr: "scientific notation"},
		{name: "InvalidUTF8", raw: "+1415\xff5550123", region: "US", wantReason: RejectInvalidPhone, wantErr: "UTF-8"},
		{name: "SevenDigitNANP", raw: "+1 555 0100", region: "US", wantReason: RejectImpossiblePhone, wantErr: "not a valid +1 (US) number"},
		{name: "LocalOnly", raw: "555-0100", region: "US", wantReason: RejectImpossiblePhone},
		{name: "TooShort", raw: "12", region: "US", wantReason: RejectImpossiblePhone},
		{name: "UnknownCountryCode", raw: "+999 1234567", region: "US", wantReason: RejectImpossiblePhone, wantErr: "invalid country code"},
		{name: "GBNationalReadAsUS", raw: "020 7946 0018", region: "US", wantReason: RejectImpossiblePhone},
		{name: "InvalidGB", raw: "+44 20 7946 001", region: "US", wantReason: RejectImpossiblePhone},
		{name: "Over40Chars", raw: "+1 415 555 0141 555 0141 555 0141 555 0141", region: "US", wantReason: RejectTooLong, wantErr: "42 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			e164, zones, reason, err := ParsePhone(tt.raw, tt.region)
			require.Equal(t, tt.wantReason, reason)
			if tt.wantReason != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.wantErr)
				require.Empty(t, e164)
				require.Nil(t, zones)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantE164, e164)
			if tt.wantZones != nil {
				require.Equal(t, len(tt.wantZones), len(zones), "zones %v", zones)
				if len(tt.wantZones) > 0 {
					require.Equal(t, tt.wantZones, zones)
				}
			}
		})
	}
}

func TestParsePhoneUnknownRegion(t *testing.T) {
	t.Parallel()

	for _, region := range []string{"XX", "001", "USA", "ZZ"} {
		t.Run(region, func(t *testing.T) {
			t.Parallel()

			e164, zones, reason, err := ParsePhone("+14155550123", region)
			require.ErrorIs(t, err, ErrUnknownRegion)
			require.Empty(t, reason, "a bad region is the caller's error, not the number's")
			require.Empty(t, e164)
			require.Nil(t, zones)
		})
	}
}

func TestParsePhoneZonesAreCopies(t *testing.T) {
	t.Parallel()

	_, zones, _, err := ParsePhone("+14155550123", "US")
	require.NoError(t, err)
	zones[0] = "Mars/Olympus_Mons"

	_, zones, _, err = ParsePhone("+14155550124", "US")
	require.NoError(t, err)
	require.Equal(t, []string{"America/Los_Angeles"}, zones, "the library's tables must not be writable through ParsePhone")
}

// phoneDiffInputs returns number-like strings in many shapes: example numbers
// of every region and type in every format, with trunk prefixes, IDD
// prefixes, country codes and digits added or removed, plus random digits.
func phoneDiffInputs(random int) []string {
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	formats := []phonenumbers.PhoneNumberFormat{phonenumbers.E164, phonenumbers.INTERNATIONAL, phonenumbers.NATIONAL}
	var inputs []string
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			n := phonenumbers.GetExampleNumberForType(region, typ)
			if n == nil {
				continue
			}
			for _, f := range formats {
				inputs = append(inputs, phonenumbers.Format(n, f))
			}
			nsn := phonenumbers.GetNationalSignificantNumber(n)
			cc := strconv.Itoa(int(n.GetCountryCode()))
			inputs = append(inputs,
				nsn, cc+nsn, "0"+nsn, "1"+nsn, "00"+cc+nsn, "011"+cc+nsn, "+"+cc+"0"+nsn,
				"+"+cc+nsn+"1", "+"+cc+nsn[:len(nsn)-1], "+"+cc+" ("+nsn[:2]+") "+nsn[2:], cc+"0"+nsn)
		}
	}
	rng := rand.New(rand.NewPCG(5, 8))
	for range random {
		b := make([]byte, 3+rng.IntN(15))
		for j := range b {
			b[j] = byte('0' + rng.IntN(10))
		}
		switch rng.IntN(3) {
		case 0:
			inputs = append(inputs, "+"+string(b))
		case 1:
			inputs = append(inputs, string(b))
		default:
			at := 1 + rng.IntN(len(b)-1)
			inputs = append(inputs, string(b[:at])+"-"+string(b[at:]))
		}
	}
	return inputs
}

var phoneDiffRegions = []string{"US", "CA", "GB", "DE", "FR", "IT", "ES", "BR", "AR", "MX", "IN", "AU", "JP", "CN", "RU", "NL", "CH", "ZA", "NG", "ID"}

// TestFastParseMatchesLibrary checks the fast path against the library on
// many inputs: whenever it answers, the library must give the same valid
// number.
func TestFastParseMatchesLibrary(t *testing.T) {
	t.Parallel()

	random := 20_000
	if testing.Short() {
		random = 1_000
	}
	inputs := phoneDiffInputs(random)
	for _, region := range phoneDiffRegions {
		t.Run(region, func(t *testing.T) {
			t.Parallel()

			answered := 0
			for _, s := range inputs {
				e164, ok := fastParsePhone(s, region)
				if !ok {
					continue
				}
				answered++
				lib := libraryParsePhone(s, region)
				require.Empty(t, lib.reason, "%q in %s: fast path accepted %s, library rejects: %v", s, region, e164, lib.err)
				require.Equal(t, lib.e164, e164, "%q in %s", s, region)
			}
			require.Positive(t, answered, "the fast path should answer for some inputs")
		})
	}
}

// TestFastParseCoversCommonFormats checks that valid numbers written the usual
// ways (E.164, international, national in their own region) all take the
// fast path, so the import speed does not depend on the country.
func TestFastParseCoversCommonFormats(t *testing.T) {
	t.Parallel()

	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			n := phonenumbers.GetExampleNumberForType(region, typ)
			if n == nil {
				continue
			}
			for _, f := range []phonenumbers.PhoneNumberFormat{phonenumbers.E164, phonenumbers.INTERNATIONAL, phonenumbers.NATIONAL} {
				s := phonenumbers.Format(n, f)
				if lib := libraryParsePhone(s, region); lib.reason != "" {
					continue // some example numbers are not valid in their own metadata
				}
				_, ok := fastParsePhone(s, region)
				require.True(t, ok, "%q in %s took the slow path", s, region)
			}
		}
	}
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"+14155550123", "(415) 555-0132", "1-415-555-0132", "020 7946 0018", "+44 20 7946 0018",
		"011 44 20 7946 0018", "02 1234 5678", "415-555-0132 ext. 7", "+1 555 0100", "12", "+",
		"1-800-FLOWERS", "4.15555E+09", "+54 9 11 1234 5678", "011 15 1234 5678", "+52 1 55 1234 5678",
	} {
		for _, region := range []string{"US", "GB", "AR", "IT"} {
			f.Add(s, region)
		}
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		region, err := normalizeRegion(region)
		if err != nil {
			return
		}
		res := parsePhone(raw, region)
		if res.reason != "" {
			require.Error(t, res.err)
			require.Empty(t, res.e164)
			return
		}
		require.True(t, strings.HasPrefix(res.e164, "+"), res.e164)
		s := strings.TrimSpace(raw)
		if e164, ok := fastParsePhone(s, region); ok {
			lib := libraryParsePhone(s, region)
			require.Empty(t, lib.reason, "fast path accepted %q as %s; library: %v", s, e164, lib.err)
			require.Equal(t, lib.e164, e164)
		}
		// The normalised number is a fixed point.
		again := parsePhone(res.e164, region)
		require.Empty(t, again.reason, "%s: %v", res.e164, again.err)
		require.Equal(t, res.e164, again.e164)
	})
}

func BenchmarkParsePhone(b *testing.B) {
	numbers := make([]string, 1000)
	for i := range numbers {
		switch i % 4 {
		case 0:
			numbers[i] = "+1415555" + strconv.Itoa(1000+i)
		case 1:
			numbers[i] = "(212) 555-" + strconv.Itoa(1000+i)
		case 2:
			numbers[i] = "1-312-555-" + strconv.Itoa(1000+i)
		default:
			numbers[i] = "+44 20 7946 " + strconv.Itoa(1000+i)
		}
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if res := parsePhone(numbers[i%len(numbers)], "US"); res.reason != "" {
				b.Fatal(res.err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if res := libraryParsePhone(numbers[i%len(numbers)], "US"); res.reason != "" {
				b.Fatal(res.err)
			}
		}
	})
}
