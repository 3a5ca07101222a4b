// Package vapispec validates JSON bodies against the component schemas of
// Vapi's OpenAPI document, for tests: the client's conformance test checks
// that every request body it produces would pass Vapi's validation, and the
// simulator can reject bodies the way Vapi does.
//
// The OpenAPI document is generated (NestJS + Swagger) and is not valid JSON
// Schema as written; Load converts components.schemas into one JSON Schema
// (draft 2020-12) document and fixes the generator's quirks (see
// API-NOTES §10):
//
//   - refs #/components/schemas/X become #/$defs/X;
//   - an enum on an array constrains its items;
//   - an enum of strings typed "object" is typed "string";
//   - an enum next to a oneOf (whose branches carry their own enums) is
//     dropped;
//   - every oneOf becomes anyOf (several branches can match one value);
//   - OpenAPI 3.0's nullable becomes a "null" type;
//   - a JavaScript regex literal (/.../u) in pattern becomes a plain
//     pattern, and placeholder or non-Go patterns are dropped;
//   - an array whose items are typed "object" but whose example holds
//     numbers (BackoffPlan.excludedStatusCodes) accepts any item;
//   - formats are asserted: date-time as ISO 8601 the way Vapi's validator
//     accepts it (a date, optionally a time, optionally a zone), uuid and
//     uri as usual; OpenAPI-only formats (binary) are ignored.
//
// The tests validate against a committed subset of the document (ForTest):
// the schemas and query parameters the project uses, facts only, generated
// by Subset (`make vapi-spec`) from the full document, which is optional.
//
// Spec.Validate checks a body against a component schema; Spec.ValidateQuery
// checks query parameters against an operation's declared parameters.
// Validation is strict or lenient. Strict (for request bodies) forbids
// additional properties wherever a schema defines properties, as Vapi does
// ("property X should not exist"). Lenient (for responses and webhooks)
// allows unknown properties, since Vapi adds fields over time, and accepts
// null for any optional property, as Vapi's payloads carry nulls (startedAt:
// null) that the document does not declare.
package vapispec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// EnvVar names the environment variable that holds the path of Vapi's full
// OpenAPI document: the simulator validates against it when set, and a test
// checks the committed subset against it. From the module root:
//
//	export VAPI_OPENAPI_SPEC=$PWD/../shared/vapi/openapi.json
const EnvVar = "VAPI_OPENAPI_SPEC"

// Spec is a loaded OpenAPI document. It compiles each (schema, mode) pair on
// first use and caches it; it is safe for concurrent use.
type Spec struct {
	path    string
	schemas map[string]any
	paths   map[string]any

	mu      sync.Mutex
	modes   [2]*modeState
	queries map[string]map[string]queryParam // "get /call" -> parameters
}

// modeState is the compiled state of one validation mode.
type modeState struct {
	compiler *jsonschema.Compiler
	conv     converter
	compiled map[string]*jsonschema.Schema
}

// Load reads an OpenAPI document. Its components.schemas (and the query
// parameters of its paths) are converted and compiled on first use.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load vapi spec: %w", err)
	}
	return Parse(path, b)
}

// Parse reads an OpenAPI document from its bytes; name (a path) is used in
// errors.
func Parse(name string, b []byte) (*Spec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("load vapi spec %s: %w", name, err)
	}
	root, _ := doc.(map[string]any)
	components, _ := root["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if len(schemas) == 0 {
		return nil, fmt.Errorf("load vapi spec %s: no components.schemas", name)
	}
	paths, _ := root["paths"].(map[string]any)
	return &Spec{path: name, schemas: schemas, paths: paths}, nil
}

// Has reports whether the document defines the named component schema.
func (s *Spec) Has(schema string) bool {
	_, ok := s.schemas[schema]
	return ok
}

// Validate checks body against the named component schema (e.g.
// "CreateCallDTO", "ServerMessage"). strict forbids properties the schema
// does not define (use it for request bodies). A failure is a
// *ValidationError listing every violation with its JSON pointer.
func (s *Spec) Validate(schema string, body []byte, strict bool) error {
	sch, err := s.compile(schema, strict)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("validate %s: body is not JSON: %w", schema, err)
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate %s: %w", schema, err)
	}
	return &ValidationError{Schema: schema, Strict: strict, Violations: violations(verr)}
}

// compile returns the compiled schema for (name, strict).
func (s *Spec) compile(name string, strict bool) (*jsonschema.Schema, error) {
	if !s.Has(name) {
		return nil, fmt.Errorf("validate: %s has no component schema %q", s.path, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.mode(strict)
	if err != nil {
		return nil, err
	}
	if sch, ok := m.compiled[name]; ok {
		return sch, nil
	}
	sch, err := m.compiler.Compile(docURL + jsonSchemaRefPrefix + name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	m.compiled[name] = sch
	return sch, nil
}

// mode returns a validation mode's compiler, building its document on first
// use. s.mu must be held.
func (s *Spec) mode(strict bool) (*modeState, error) {
	i := 0
	if strict {
		i = 1
	}
	if m := s.modes[i]; m != nil {
		return m, nil
	}
	conv := converter{strict: strict}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(dateTimeFormat())
	if err := c.AddResource(docURL, conv.document(s.schemas)); err != nil {
		return nil, fmt.Errorf("compile vapi spec: %w", err)
	}
	m := &modeState{compiler: c, conv: conv, compiled: map[string]*jsonschema.Schema{}}
	s.modes[i] = m
	return m, nil
}

// docURL identifies the converted document (never fetched).
const docURL = "urn:vapispec:components.json"

// ValidationError is a body that does not match its schema.
type ValidationError struct {
	// Schema is the component schema's name.
	Schema string
	// Strict says whether additional properties were forbidden.
	Strict bool
	// Violations lists every problem found, in instance order.
	Violations []Violation
}

// Violation is one problem at one place in the body.
type Violation struct {
	// Pointer is the JSON pointer of the offending value ("" is the root).
	// For an unknown property it points at the property itself.
	Pointer string
	// Keyword is the JSON Schema keyword that failed, e.g. "maxLength",
	// "additionalProperties", "required", "type", "enum".
	Keyword string
	// Message describes the problem; an unknown property reads like Vapi's
	// own error: property "foo" should not exist.
	Message string
}

// Error lists the violations, one per line.
func (e *ValidationError) Error() string {
	mode := "lenient"
	if e.Strict {
		mode = "strict"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "body does not match %s (%s): %d violation(s)", e.Schema, mode, len(e.Violations))
	for _, v := range e.Violations {
		p := v.Pointer
		if p == "" {
			p = "/"
		}
		fmt.Fprintf(&b, "\n  at %s: %s", p, v.Message)
	}
	return b.String()
}

// Pointers returns the violations' pointers, for assertions.
func (e *ValidationError) Pointers() []string {
	out := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		out[i] = v.Pointer
	}
	return out
}

// violations flattens a validation error tree into its leaves. Of an anyOf
// that no branch satisfies, only the most plausible branch is reported (see
// bestBranch): listing the failures of all thirty model providers would bury
// the real problem.
func violations(root *jsonschema.ValidationError) []Violation {
	var out []Violation
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			if len(e.Causes) > 0 {
				walk(bestBranch(e.Causes))
				return
			}
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		for _, v := range leafViolations(e) {
			key := v.Pointer + "\x00" + v.Message
			if !seen[key] {
				seen[key] = true
				out = append(out, v)
			}
		}
	}
	walk(root)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// branchScore ranks a failed anyOf branch; lower is more plausible.
type branchScore struct {
	discriminatorMiss bool // a single-value enum or const failed: the value is of another kind
	count             int  // leaf problems
	depth             int  // deepest problem (negated: deeper is better)
}

// less orders scores.
func (a branchScore) less(b branchScore) bool {
	if a.discriminatorMiss != b.discriminatorMiss {
		return !a.discriminatorMiss
	}
	if a.count != b.count {
		return a.count < b.count
	}
	return a.depth > b.depth
}

// bestBranch picks the failed anyOf branch the value was most likely meant
// to match: one whose tag (type, provider, role: a single-value enum or
// const) matched, then the fewest problems, then the deepest one.
func bestBranch(causes []*jsonschema.ValidationError) *jsonschema.ValidationError {
	best, bestScore := causes[0], score(causes[0])
	for _, c := range causes[1:] {
		if sc := score(c); sc.less(bestScore) {
			best, bestScore = c, sc
		}
	}
	return best
}

// score computes a branch's branchScore from its leaves.
func score(e *jsonschema.ValidationError) branchScore {
	if len(e.Causes) == 0 {
		depth := len(e.InstanceLocation)
		miss := false
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			depth++ // the problem is the property, one level down
		case *kind.Const:
			miss = true
		case *kind.Enum:
			miss = len(k.Want) == 1
		}
		return branchScore{discriminatorMiss: miss, count: 1, depth: depth}
	}
	var total branchScore
	for _, c := range e.Causes {
		sc := score(c)
		total.discriminatorMiss = total.discriminatorMiss || sc.discriminatorMiss
		total.count += sc.count
		total.depth = max(total.depth, sc.depth)
	}
	return total
}

// leafViolations describes one leaf error; an additionalProperties error
// becomes one violation per property.
func leafViolations(e *jsonschema.ValidationError) []Violation {
	ptr := pointer(e.InstanceLocation)
	kw := strings.Join(e.ErrorKind.KeywordPath(), "/")
	if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
		out := make([]Violation, 0, len(ap.Properties))
		for _, p := range ap.Properties {
			out = append(out, Violation{
				Pointer: pointer(append(slices.Clone(e.InstanceLocation), p)),
				Keyword: "additionalProperties",
				Message: fmt.Sprintf("property %q should not exist", p),
			})
		}
		return out
	}
	msg := kw
	if out := e.BasicOutput(); out != nil && out.Error != nil {
		msg = out.Error.String()
	}
	return []Violation{{Pointer: ptr, Keyword: kw, Message: msg}}
}

// pointer encodes tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// isoDateTimePattern is the ISO 8601 subset Vapi's validator
// (class-validator's IsISO8601) accepts for date-time fields: a date,
// optionally followed by a time with optional fraction and zone.
const isoDateTimePattern = `^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$`

// dateTimeFormat is the date-time format check.
func dateTimeFormat() *jsonschema.Format {
	re := regexp.MustCompile(isoDateTimePattern)
	return &jsonschema.Format{Name: "date-time", Validate: func(v any) error { return validateISODateTime(re, v) }}
}

// validateISODateTime checks that a string value is an ISO 8601 date-time.
func validateISODateTime(re *regexp.Regexp, v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return errors.New("not an ISO 8601 date-time")
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	if mo < 1 || mo > 12 || d < 1 || d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return errors.New("no such date")
	}
	if m[4] != "" {
		h, _ := strconv.Atoi(m[4])
		mi, _ := strconv.Atoi(m[5])
		sec, _ := strconv.Atoi(m[6])
		if h > 23 || mi > 59 || sec > 60 {
			return errors.New("no such time")
		}
	}
	return nil
}
