package campaign

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the region used for numbers written without a +country code
// when no region is configured.
const DefaultRegion = "US"

// MaxPhoneLength is the longest phone cell accepted, in bytes. Longer cells are
// rejected with [RejectTooLong] before any parsing.
const MaxPhoneLength = 40

// ErrUnknownRegion is returned when a default region is not an ISO 3166-1
// alpha-2 code known to the phone-number metadata.
var ErrUnknownRegion = errors.New("unknown phone region")

// ParsePhone normalises a number to E.164 and returns the number's candidate
// IANA time zones (nil if unknown). defaultRegion ("" means [DefaultRegion]) is
// used for numbers written without a +country code. It is exported because the
// suppression list uses the same normalisation as the contact import.
//
// When the number is rejected, reason says why ([RejectMissingPhone],
// [RejectInvalidPhone], [RejectImpossiblePhone] or [RejectTooLong]) and err
// describes the problem in words fit for a rejects file; the message never
// repeats the number, so it can be logged. An unknown
// defaultRegion is a caller error: reason is empty and err wraps
// [ErrUnknownRegion].
//
// Letters are accepted only in an extension ("ext. 12", "x12"); the extension
// itself is dropped, since a call cannot dial it. Vanity numbers such as
// "1-800-FLOWERS" are rejected as invalid rather than guessed at.
func ParsePhone(raw, defaultRegion string) (e164 string, zones []string, reason RejectReason, err error) {
	region, err := normalizeRegion(defaultRegion)
	if err != nil {
		return "", nil, "", err
	}
	res := parsePhone(raw, region)
	if res.reason != "" {
		return "", nil, res.reason, res.err
	}
	if countryWideZones(res.e164, res.zones) {
		return res.e164, nil, "", nil
	}
	return res.e164, knownZones(res.zones), "", nil
}

// normalizeRegion upper-cases region, defaults it and checks it is known.
func normalizeRegion(region string) (string, error) {
	if region == "" {
		return DefaultRegion, nil
	}
	up := strings.ToUpper(strings.TrimSpace(region))
	if !phonenumbers.GetSupportedRegions()[up] {
		return "", fmt.Errorf("%w: %q (want an ISO 3166-1 alpha-2 code such as US or GB)", ErrUnknownRegion, region)
	}
	return up, nil
}

// knownZones returns a copy of the library's zone list without the "unknown"
// marker, or nil when nothing is left. The copy keeps callers from writing into
// the library's tables.
func knownZones(libZones []string) []string {
	var out []string
	for _, z := range libZones {
		if z != phonenumbers.UNKNOWN_TIMEZONE {
			out = append(out, z)
		}
	}
	return out
}

// countryWideZones reports whether zones, the library's list for the E.164
// number e164, is just its country's whole list of several zones, i.e. the
// number's prefix locates nobody. E.164 country codes are prefix-free, so the
// first 1-, 2- or 3-digit prefix that names a country is the country code.
func countryWideZones(e164 string, zones []string) bool {
	if len(zones) < 2 {
		return false
	}
	for n := 2; n <= 4 && n < len(e164); n++ {
		cc, err := strconv.Atoi(e164[1:n])
		if err != nil || phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		country, err := phonenumbers.GetTimezonesForPrefix(e164[:n])
		return err == nil && slices.Equal(country, zones)
	}
	return false
}

// phoneResult is the outcome of parsePhone. zones is the library's own slice
// (shared, read-only) and may contain "Etc/Unknown".
type phoneResult struct {
	e164   string
	zones  []string
	reason RejectReason
	err    error
}

func rejectPhone(reason RejectReason, format string, args ...any) phoneResult {
	return phoneResult{reason: reason, err: fmt.Errorf(format, args...)}
}

// parsePhone normalises raw with region, which must be a supported region.
// It tries the fast path for plain digit strings first and falls back to
// phonenumbers.Parse and phonenumbers.IsValidNumber for everything else and
// for every number the fast path cannot prove valid, so results are those of
// the library (phone_test.go checks this differentially).
func parsePhone(raw, region string) phoneResult {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return rejectPhone(RejectMissingPhone, "phone number is empty")
	case len(s) > MaxPhoneLength:
		return rejectPhone(RejectTooLong, "phone number is %d bytes, over the limit of %d", len(s), MaxPhoneLength)
	case !utf8.ValidString(s):
		return rejectPhone(RejectInvalidPhone, "phone number is not valid UTF-8")
	}
	if e164, ok := fastParsePhone(s, region); ok {
		zones, _ := phonenumbers.GetTimezonesForPrefix(e164)
		return phoneResult{e164: e164, zones: zones}
	}
	return libraryParsePhone(s, region)
}

// libraryParsePhone is the reference path: letters outside an extension are
// refused, then the library parses and validates.
func libraryParsePhone(s, region string) phoneResult {
	number, _ := phonenumbers.MaybeSeparateExtensionFromPhone(s)
	if strings.IndexFunc(number, unicode.IsLetter) >= 0 {
		if scientificNotation(s) {
			return rejectPhone(RejectInvalidPhone, "phone number is in scientific notation (a spreadsheet rounded it): format the column as text and export again")
		}
		return rejectPhone(RejectInvalidPhone, "phone number contains letters")
	}
	var pn phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, region, &pn); err != nil {
		if errors.Is(err, phonenumbers.ErrNotANumber) {
			return rejectPhone(RejectInvalidPhone, "not a phone number")
		}
		// Too short, too long, unknown country calling code: number-shaped but
		// impossible.
		return rejectPhone(RejectImpossiblePhone, "impossible phone number: %v", err)
	}
	if !phonenumbers.IsValidNumber(&pn) {
		return rejectPhone(RejectImpossiblePhone, "not a valid %s number",
			phoneRegionName(int(pn.GetCountryCode()), region))
	}
	e164 := phonenumbers.Format(&pn, phonenumbers.E164)
	zones, _ := phonenumbers.GetTimezonesForPrefix(e164)
	return phoneResult{e164: e164, zones: zones}
}

// scientificNotation reports whether s looks like "4.15555E+09", what a
// spreadsheet makes of a long number.
func scientificNotation(s string) bool {
	mantissa, exp, ok := strings.Cut(strings.ToUpper(s), "E+")
	if !ok || mantissa == "" || exp == "" {
		return false
	}
	isNum := func(t string) bool {
		return strings.Trim(t, "0123456789") == "" && t != ""
	}
	whole, frac, _ := strings.Cut(mantissa, ".")
	return isNum(whole) && (frac == "" || isNum(frac)) && isNum(exp)
}

// phoneRegionName names the region a number was judged against, for messages.
func phoneRegionName(countryCode int, defaultRegion string) string {
	if countryCode == 0 {
		return defaultRegion
	}
	return fmt.Sprintf("+%d (%s)", countryCode, phonenumbers.GetRegionCodeForCountryCode(countryCode))
}

// The fast path.
//
// phonenumbers.Parse runs a dozen regular expressions (the extension pattern
// alone is a quarter of its time), and IsValidNumber rebuilds every pattern
// string of the region, looks it up in a mutex-guarded cache and matches it
// twice; together about 15µs a number, which is most of the cost of a
// million-row import. fastParsePhone handles the common shapes ("+14155550123",
// "(415) 555-0132", "+44 20 7946 0018") with the library's own metadata and
// patterns, compiled once, following the library's algorithm step by step. It
// gives up (ok=false) whenever a step could take a branch it does not
// reproduce (national prefix, international dialling prefix, leading zeros,
// unknown country code, anything other than digits and " -.()") and whenever
// the number is not valid, so every answer it gives is a valid number that the
// library parses identically; the slow path decides everything else.

// Limits from phonenumbers (MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN).
const (
	minNSNLength = 2
	maxNSNLength = 17
)

// numberDesc is a compiled phonenumbers.PhoneNumberDesc.
type numberDesc struct {
	lengths []int32
	re      *regexp.Regexp // ^(?:pattern)$; nil when the pattern is empty
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) numberDesc {
	out := numberDesc{lengths: d.GetPossibleLength()}
	if p := d.GetNationalNumberPattern(); p != "" {
		out.re = regexp.MustCompile("^(?:" + p + ")$")
	}
	return out
}

// matches mirrors phonenumbers.isNumberMatchingDesc.
func (d *numberDesc) matches(nsn string) bool {
	if d.re == nil {
		return false // "^(?:)$" matches only the empty string
	}
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.re.MatchString(nsn)
}

// regionPatterns holds one region's compiled metadata, built on first use.
type regionPatterns struct {
	md   *phonenumbers.PhoneMetadata
	once sync.Once

	countryCode     int
	countryCodeStr  string
	general         numberDesc
	types           []numberDesc // every type but mobile, fixed line first
	mobile          numberDesc
	sameMobileFixed bool
	leadingDigits   *regexp.Regexp // ^(?:leading digits), nil when none
	nationalPrefix  *regexp.Regexp // ^(?:national prefix for parsing), nil when none
	transformRule   string         // national prefix transform rule
	idd             *regexp.Regexp // ^(?:international prefix), nil when none
}

func (p *regionPatterns) compiled() *regionPatterns {
	p.once.Do(func() {
		md := p.md
		p.countryCode = int(md.GetCountryCode())
		p.countryCodeStr = strconv.Itoa(p.countryCode)
		p.general = compileDesc(md.GetGeneralDesc())
		for _, d := range []*phonenumbers.PhoneNumberDesc{
			md.GetFixedLine(), md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(),
			md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(),
		} {
			if d != nil {
				p.types = append(p.types, compileDesc(d))
			}
		}
		if d := md.GetMobile(); d != nil {
			p.mobile = compileDesc(d)
		}
		p.sameMobileFixed = md.GetSameMobileAndFixedLinePattern()
		if ld := md.GetLeadingDigits(); ld != "" {
			p.leadingDigits = regexp.MustCompile("^(?:" + ld + ")")
		}
		if np := md.GetNationalPrefixForParsing(); np != "" {
			p.nationalPrefix = regexp.MustCompile("^(?:" + np + ")")
		}
		p.transformRule = md.GetNationalPrefixTransformRule()
		if idd := md.GetInternationalPrefix(); idd != "" {
			p.idd = regexp.MustCompile("^(?:" + idd + ")")
		}
	})
	return p
}

// valid mirrors getNumberTypeHelper(nsn, md) != UNKNOWN. Types are tried in a
// different order than the library, which does not change a yes/no answer.
func (p *regionPatterns) valid(nsn string) bool {
	if !p.general.matches(nsn) {
		return false
	}
	for i := range p.types {
		if p.types[i].matches(nsn) {
			return true
		}
	}
	return !p.sameMobileFixed && p.mobile.matches(nsn)
}

// testLength mirrors testNumberLength(number, md, UNKNOWN) for a number of
// the given length. ok is false for metadata the library would panic on.
func (p *regionPatterns) testLength(length int) (res phonenumbers.ValidationResult, ok bool) {
	g := p.md.GetGeneralDesc()
	lengths := g.GetPossibleLength()
	n := int32(length)
	switch {
	case len(lengths) == 0:
		return 0, false
	case lengths[0] == -1:
		return phonenumbers.INVALID_LENGTH, true
	case slices.Contains(g.GetPossibleLengthLocalOnly(), n):
		return phonenumbers.IS_POSSIBLE_LOCAL_ONLY, true
	case lengths[0] == n:
		return phonenumbers.IS_POSSIBLE, true
	case lengths[0] > n:
		return phonenumbers.TOO_SHORT, true
	case lengths[len(lengths)-1] < n:
		return phonenumbers.TOO_LONG, true
	case slices.Contains(lengths[1:], n):
		return phonenumbers.IS_POSSIBLE, true
	}
	return phonenumbers.INVALID_LENGTH, true
}

// stripNationalPrefix mirrors maybeStripNationalPrefixAndCarrierCode. ok is
// false when the region's transform rule would rewrite the number, which the
// fast path leaves to the library.
func (p *regionPatterns) stripNationalPrefix(number string) (out string, ok bool) {
	if len(number) == 0 || p.nationalPrefix == nil {
		return number, true
	}
	m := p.nationalPrefix.FindStringSubmatchIndex(number)
	if m == nil {
		return number, true
	}
	if groups := len(m)/2 - 1; p.transformRule != "" && m[groups*2] >= 0 {
		return "", false
	}
	if p.general.re != nil && p.general.re.MatchString(number) && !p.general.re.MatchString(number[m[1]:]) {
		return number, true // the number was viable and stripping would spoil it
	}
	return number[m[1]:], true
}

// phoneTables indexes the library's metadata.
type phoneTables struct {
	regions     map[string]*regionPatterns // by region code
	nonGeo      map[int]*regionPatterns    // "001" entities by country code
	ccToRegions map[int][]string           // main region first, as the library orders them
	ccPatterns  map[int][]*regionPatterns  // the same, resolved (nil for unknown regions)
}

// phoneIndex is built on first use from the library's immutable, embedded
// metadata; the patterns themselves are compiled per region on first use.
var phoneIndex = sync.OnceValue(func() *phoneTables {
	t := &phoneTables{
		regions:     map[string]*regionPatterns{},
		nonGeo:      map[int]*regionPatterns{},
		ccToRegions: map[int][]string{},
		ccPatterns:  map[int][]*regionPatterns{},
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil || coll == nil {
		return t // empty tables: every number takes the slow path
	}
	for _, md := range coll.GetMetadata() {
		p := &regionPatterns{md: md}
		cc := int(md.GetCountryCode())
		if md.GetId() == "001" {
			t.nonGeo[cc] = p
		} else {
			t.regions[md.GetId()] = p
		}
		if _, ok := t.ccToRegions[cc]; !ok {
			t.ccToRegions[cc] = phonenumbers.GetRegionCodesForCountryCode(cc)
		}
	}
	for cc, regions := range t.ccToRegions {
		ps := make([]*regionPatterns, len(regions))
		for i, r := range regions {
			if r == "001" {
				ps[i] = t.nonGeo[cc]
			} else {
				ps[i] = t.regions[r]
			}
		}
		t.ccPatterns[cc] = ps
	}
	return t
})

// forRegion mirrors getMetadataForRegionOrCallingCode.
func (t *phoneTables) forRegion(cc int, region string) *regionPatterns {
	var p *regionPatterns
	if region == "001" {
		p = t.nonGeo[cc]
	} else {
		p = t.regions[region]
	}
	if p == nil {
		return nil
	}
	return p.compiled()
}

// mainRegion mirrors getMetadataForRegionOrCallingCode(cc, GetRegionCodeForCountryCode(cc)).
func (t *phoneTables) mainRegion(cc int) *regionPatterns {
	ps := t.ccPatterns[cc]
	if len(ps) == 0 || ps[0] == nil {
		return nil
	}
	return ps[0].compiled()
}

// isValid mirrors phonenumbers.IsValidNumber for the national significant
// number nsn: GetRegionCodeForNumber, then IsValidNumberForRegion.
func (t *phoneTables) isValid(cc int, nsn string) bool {
	regions, ps := t.ccToRegions[cc], t.ccPatterns[cc]
	var (
		region string
		p      *regionPatterns
	)
	switch len(regions) {
	case 0:
		return false
	case 1:
		region, p = regions[0], ps[0]
	default:
		for i, r := range regions {
			if ps[i] == nil {
				continue
			}
			c := ps[i].compiled()
			if c.leadingDigits != nil {
				if c.leadingDigits.MatchString(nsn) {
					region, p = r, c
					break
				}
			} else if c.valid(nsn) {
				region, p = r, c
				break
			}
		}
	}
	if p == nil {
		return false
	}
	p = p.compiled()
	if region != "001" && p.countryCode != cc {
		return false
	}
	return p.valid(nsn)
}

// fastParsePhone returns the E.164 form of s when s is a plain number that the
// library would parse to a valid number, and ok=false when the library must
// decide. region must be a supported region code.
func fastParsePhone(s, region string) (e164 string, ok bool) {
	var buf [1 + MaxPhoneLength]byte
	b := append(buf[:0], '+')
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '+' && i == 0:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	if len(b) < 1+3 { // fewer than 3 digits is not even viable for the library
		return "", false
	}
	// One string for everything: "+" and the digits. When the input was
	// already "+<cc><nsn>", it is the answer.
	plusDigits := string(b)
	digits := plusDigits[1:]

	t := phoneIndex()
	var (
		cc, ccLen int
		national  string
		meta      *regionPatterns
	)
	if plus {
		// maybeExtractCountryCode with a leading plus: extractCountryCode.
		if digits[0] == '0' {
			return "", false
		}
		n := 0
		for i := 0; i < 3; i++ {
			n = n*10 + int(digits[i]-'0')
			if _, known := t.ccToRegions[n]; known {
				cc, national = n, digits[i+1:]
				ccLen = i + 1
				break
			}
		}
		if cc == 0 {
			return "", false
		}
		meta = t.mainRegion(cc)
	} else {
		meta = t.forRegion(0, region)
		if meta == nil || meta.idd == nil || meta.idd.MatchString(digits) {
			return "", false // an international dialling prefix may follow
		}
		cc, national = meta.countryCode, digits
		if strings.HasPrefix(digits, meta.countryCodeStr) {
			// The number may start with the region's own country code.
			potential, ok := meta.stripNationalPrefix(digits[len(meta.countryCodeStr):])
			if !ok {
				return "", false
			}
			length, ok := meta.testLength(len(digits))
			if !ok {
				return "", false
			}
			fullValid := meta.general.re != nil && meta.general.re.MatchString(digits)
			nationalValid := meta.general.re != nil && meta.general.re.MatchString(potential)
			if (!fullValid && nationalValid) || length == phonenumbers.TOO_LONG {
				national = potential
				meta = t.mainRegion(cc)
			}
		}
	}
	if meta == nil || len(national) < minNSNLength {
		return "", false
	}
	// parseHelper strips a national prefix when what is left has a possible
	// length.
	potential, ok := meta.stripNationalPrefix(national)
	if !ok {
		return "", false
	}
	switch length, ok := meta.testLength(len(potential)); {
	case !ok:
		return "", false
	case length != phonenumbers.TOO_SHORT && length != phonenumbers.IS_POSSIBLE_LOCAL_ONLY && length != phonenumbers.INVALID_LENGTH:
		national = potential
	}
	if len(national) < minNSNLength || len(national) > maxNSNLength {
		return "", false
	}
	// Leading zeros (Italy and others) stay in the national significant
	// number exactly as written, as GetNationalSignificantNumber rebuilds them.
	if !t.isValid(cc, national) {
		return "", false
	}
	if plus && len(national) == len(digits)-ccLen {
		return plusDigits, true // nothing was stripped: "+<cc><nsn>" as read
	}
	return "+" + strconv.Itoa(cc) + national, true
}
