package vapispec

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// SubsetFile is the committed subset's path from the module root; `make
// vapi-spec` writes it.
const SubsetFile = "internal/vapispec/openapi-subset.json"

// committedSubset is the committed subset of Vapi's OpenAPI document.
//
//go:embed openapi-subset.json
var committedSubset []byte

// SubsetSchemas are the component schemas the project validates against:
// request bodies it sends (CreateCallDTO, AnalyticsQueryDTO), and what Vapi
// (or the simulator) sends back (Call, ServerMessage, AnalyticsQueryResult, TwilioPhoneNumber:
// the phone numbers the simulator serves; Squad: the squads it serves).
// The subset holds them and every schema they refer to.
var SubsetSchemas = []string{"AnalyticsQueryDTO", "AnalyticsQueryResult", "Call", "CreateCallDTO", "ServerMessage", "Squad", "TwilioPhoneNumber"}

// SubsetOperations are the operations ("get /call") whose query parameters
// the project validates; the subset keeps only their parameters.
var SubsetOperations = []string{"get /call"}

// SubsetSource records where a subset came from; it is written into the
// subset as "x-subset".
type SubsetSource struct {
	// Document is how the full document was named (a path or URL).
	Document string `json:"document"`
	// SHA256 is the hex SHA-256 of the full document's bytes.
	SHA256 string `json:"sha256"`
	// Version is the full document's info.version.
	Version string `json:"version"`
	// Generated is the day the subset was generated (YYYY-MM-DD).
	Generated string `json:"generated"`
	// Generator says how to regenerate it.
	Generator string `json:"generator"`
}

// subsetGenerator is the command recorded in SubsetSource.Generator.
const subsetGenerator = "make vapi-spec (go run ./internal/vapispec/gensubset)"

// schemaFacts are the OpenAPI schema keywords a subset keeps: those that
// constrain a value. Keywords that hold a schema, or a map or list of them,
// are walked; the annotations are dropped; any other keyword fails the
// generation, so that a new kind of constraint is never dropped silently.
var schemaFacts = map[string]string{
	"type": "value", "enum": "value", "required": "value", "nullable": "value", "const": "value",
	"minimum": "value", "maximum": "value", "exclusiveMinimum": "value", "exclusiveMaximum": "value",
	"multipleOf": "value", "minLength": "value", "maxLength": "value", "pattern": "value", "format": "value",
	"minItems": "value", "maxItems": "value", "uniqueItems": "value", "minProperties": "value", "maxProperties": "value",
	"$ref":  "ref",
	"items": "schema", "not": "schema", "additionalProperties": "schema",
	"properties": "map",
	"oneOf":      "list", "anyOf": "list", "allOf": "list",
}

// Subset generates the subset of a full OpenAPI document that the project's
// validation needs: the SubsetSchemas and every schema they refer to
// (following $ref transitively), and the query parameters of the
// SubsetOperations (name, in, required, schema), each reduced to its facts
// (types, enums, required lists, length and range limits, patterns, formats)
// without descriptions, examples, titles or other prose. The document's
// source, version and digest and the day (from now) are recorded under
// "x-subset". The output is deterministic for a given input and day.
func Subset(full []byte, document string, now time.Time) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(full))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("vapi spec subset: read %s: %w", document, err)
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if len(schemas) == 0 {
		return nil, fmt.Errorf("vapi spec subset: %s has no components.schemas", document)
	}
	g := subsetGen{schemas: schemas, out: map[string]any{}}
	for _, name := range SubsetSchemas {
		if err := g.add(name); err != nil {
			return nil, err
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	outPaths := map[string]any{}
	for _, op := range SubsetOperations {
		method, path, _ := strings.Cut(op, " ")
		ops, _ := paths[path].(map[string]any)
		o, _ := ops[method].(map[string]any)
		if o == nil {
			return nil, fmt.Errorf("vapi spec subset: %s has no operation %s", document, op)
		}
		params, err := g.params(op, o["parameters"])
		if err != nil {
			return nil, err
		}
		if outPaths[path] == nil {
			outPaths[path] = map[string]any{}
		}
		outPaths[path].(map[string]any)[method] = map[string]any{"parameters": params}
	}
	info, _ := doc["info"].(map[string]any)
	version, _ := info["version"].(string)
	sum := sha256.Sum256(full)
	out := struct {
		OpenAPI    any            `json:"openapi"`
		Info       map[string]any `json:"info"`
		Source     SubsetSource   `json:"x-subset"`
		Paths      map[string]any `json:"paths"`
		Components map[string]any `json:"components"`
	}{
		OpenAPI: doc["openapi"],
		Info:    map[string]any{"title": "Vapi API (subset: facts only)", "version": version},
		Source: SubsetSource{
			Document: document, SHA256: hex.EncodeToString(sum[:]), Version: version,
			Generated: now.UTC().Format(time.DateOnly), Generator: subsetGenerator,
		},
		Paths:      outPaths,
		Components: map[string]any{"schemas": g.out},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("vapi spec subset: encode: %w", err)
	}
	return b.Bytes(), nil
}

// subsetGen collects schemas for Subset.
type subsetGen struct {
	schemas map[string]any
	out     map[string]any
}

// add copies the named schema, and those it refers to, into the subset.
func (g *subsetGen) add(name string) error {
	if _, ok := g.out[name]; ok {
		return nil
	}
	sch, ok := g.schemas[name]
	if !ok {
		return fmt.Errorf("vapi spec subset: no component schema %q", name)
	}
	g.out[name] = nil // mark before walking: schemas refer to each other
	facts, err := g.facts(name, sch)
	if err != nil {
		return err
	}
	g.out[name] = facts
	return nil
}

// facts reduces one schema to its facts, adding the schemas it refers to.
// at names the place for errors.
func (g *subsetGen) facts(at string, v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil // a boolean schema
	}
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if isAnnotation(k) {
			continue
		}
		var err error
		switch schemaFacts[k] {
		case "value":
			out[k] = val
		case "ref":
			ref, _ := val.(string)
			name, ok := strings.CutPrefix(ref, openAPIRefPrefix)
			if !ok {
				return nil, fmt.Errorf("vapi spec subset: %s: unsupported $ref %q", at, ref)
			}
			out[k], err = ref, g.add(name)
		case "schema":
			out[k], err = g.facts(at+"/"+k, val)
		case "map":
			props, _ := val.(map[string]any)
			conv := make(map[string]any, len(props))
			for name, p := range props {
				if conv[name], err = g.facts(at+"/"+k+"/"+name, p); err != nil {
					return nil, err
				}
			}
			out[k] = conv
		case "list":
			list := asList(val)
			conv := make([]any, len(list))
			for i, s := range list {
				if conv[i], err = g.facts(fmt.Sprintf("%s/%s/%d", at, k, i), s); err != nil {
					return nil, err
				}
			}
			out[k] = conv
		default:
			return nil, fmt.Errorf("vapi spec subset: %s: unknown schema keyword %q (keep it as a fact or list it as an annotation)", at, k)
		}
		if err != nil {
			return nil, err
		}
	}
	// The one fact the document states only in an example: these items may
	// be anything.
	if itemsUntypedByExample(m) {
		items := maps.Clone(out["items"].(map[string]any))
		delete(items, "type")
		out["items"] = items
	}
	return out, nil
}

// params reduces an operation's parameters to the query parameters' facts.
func (g *subsetGen) params(op string, v any) ([]any, error) {
	var out []any
	for i, raw := range asList(v) {
		p, _ := raw.(map[string]any)
		if p["in"] != "query" {
			continue
		}
		sch, err := g.facts(fmt.Sprintf("%s parameter %d", op, i), p["schema"])
		if err != nil {
			return nil, err
		}
		q := map[string]any{"name": p["name"], "in": "query", "schema": sch}
		if r, ok := p["required"]; ok {
			q["required"] = r
		}
		out = append(out, q)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return fmt.Sprint(out[i].(map[string]any)["name"]) < fmt.Sprint(out[j].(map[string]any)["name"])
	})
	return out, nil
}

// ReadSubsetSource returns what a subset records of its source.
func ReadSubsetSource(subset []byte) (SubsetSource, error) {
	var doc struct {
		Source *SubsetSource `json:"x-subset"`
	}
	if err := json.Unmarshal(subset, &doc); err != nil {
		return SubsetSource{}, fmt.Errorf("read vapi spec subset: %w", err)
	}
	if doc.Source == nil {
		return SubsetSource{}, errors.New("read vapi spec subset: no x-subset record")
	}
	return *doc.Source, nil
}

// CommittedSubset returns the bytes of the committed subset.
func CommittedSubset() []byte {
	return bytes.Clone(committedSubset)
}

// TB is the part of testing.TB that ForTest uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// forTest holds what ForTest parsed, so that a test binary compiles the
// subset once however many tests ask. With committedSubset, it is the
// package's only global state, a deliberate exception for test support.
var forTest struct {
	once sync.Once
	spec *Spec
	err  error
}

// ForTest returns the committed subset, parsed once per test binary. The
// conformance tests validate against it, so they run on any clone; `make
// vapi-spec` regenerates it from the full document, and a test checks that
// it is current when the full document is present.
//
// It takes a [TB], not a testing.TB, so that the production binary, which
// links this package for `campaign simulator --openapi-spec`, does not link
// the testing package.
func ForTest(t TB) *Spec {
	t.Helper()
	forTest.once.Do(func() { forTest.spec, forTest.err = Parse(SubsetFile, committedSubset) })
	if forTest.err != nil {
		t.Fatalf("%s: %v", SubsetFile, forTest.err)
	}
	return forTest.spec
}
