package vapispec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
)

// exampleDir holds the example Vapi payloads, kept once with the package of the wire types.
var exampleDir = filepath.Join("..", "..", "vapi", "testdata")

// readExample reads an example Vapi payload from exampleDir.
func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir, name))
	require.NoError(t, err)
	return b
}

// requireViolations asserts that err is a *ValidationError with exactly
// these pointers, and returns it.
func requireViolations(t *testing.T, err error, pointers ...string) *vapispec.ValidationError {
	t.Helper()
	var verr *vapispec.ValidationError
	require.True(t, errors.As(err, &verr), "want a *ValidationError, got %v", err)
	require.ElementsMatch(t, pointers, verr.Pointers(), verr.Error())
	return verr
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	_, err := vapispec.Load(filepath.Join(dir, "missing.json"))
	require.ErrorContains(t, err, "load vapi spec")

	notJSON := filepath.Join(dir, "not.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("openapi: 3.0.0"), 0o600))
	_, err = vapispec.Load(notJSON)
	require.Error(t, err)

	empty := filepath.Join(dir, "empty.json")
	require.NoError(t, os.WriteFile(empty, []byte(`{"openapi": "3.0.0", "components": {}}`), 0o600))
	_, err = vapispec.Load(empty)
	require.ErrorContains(t, err, "no components.schemas")
}

// TestQuirks checks each generator quirk on a small document, so that it
// runs without the real spec.
func TestQuirks(t *testing.T) {
	t.Parallel()

	spec, err := vapispec.Load(filepath.Join("testdata", "quirks.openapi.json"))
	require.NoError(t, err)
	require.True(t, spec.Has("Body"))
	require.False(t, spec.Has("Nope"))

	valid := `{
		"name": "ok",
		"messages": ["status-update", "end-of-call-report"],
		"plan": {"type": "exponential", "codes": [400, 401]},
		"version": null,
		"level": null,
		"target": {"type": "number", "number": "+14155551234"},
		"voiceVersion": 2,
		"tag": "abc_1",
		"role": "anything at all",
		"at": "2026-08-01",
		"file": "not checked",
		"free": {"any": {"thing": [1]}}
	}`
	for _, strict := range []bool{true, false} {
		require.NoError(t, spec.Validate("Body", []byte(valid), strict), "strict=%v", strict)
	}

	tests := []struct {
		name     string
		body     string
		strict   bool
		pointers []string
		contains string
	}{
		{"ArrayEnumConstrainsItems", `{"name": "x", "messages": ["status-update", "nope"]}`, true, []string{"/messages/1"}, "value must be one of"},
		{"ObjectTypedStringEnum", `{"name": "x", "plan": {"type": "linear"}}`, true, []string{"/plan/type"}, "value must be one of 'fixed', 'exponential'"},
		{"ObjectTypedStringEnumStillRequired", `{"name": "x", "plan": {}}`, true, []string{"/plan"}, "missing property 'type'"},
		{"NullableEnumStillAnEnum", `{"name": "x", "level": "medium"}`, true, []string{"/level"}, "value must be one of"},
		{"NotNullableIsNotNullWhenStrict", `{"name": "x", "when": null}`, true, []string{"/when"}, "got null, want string"},
		{"RequiredIsNotNullWhenLenient", `{"name": null}`, false, []string{"/name"}, "got null, want string"},
		{"JSRegexLiteralUnwrapped", `{"name": "x", "tag": "UPPER"}`, true, []string{"/tag"}, "does not match pattern"},
		{"DateTimeChecked", `{"name": "x", "at": "2026-02-30T10:00:00Z"}`, true, []string{"/at"}, "no such date"},
		{"DateTimeNotISO", `{"name": "x", "at": "yesterday"}`, true, []string{"/at"}, "not an ISO 8601 date-time"},
		{"MaxLength", `{"name": "12345678901234567890123456789012345678901"}`, true, []string{"/name"}, "maxLength: got 41, want 40"},
		{"UnknownPropertyStrict", `{"name": "x", "plan": {"type": "fixed", "extra": 1}, "foo": true}`, true, []string{"/foo", "/plan/extra"}, `property "foo" should not exist`},
		{"UnknownPropertyInAnyOfBranch", `{"name": "x", "target": {"type": "number", "number": "1", "bogus": 1}}`, true, []string{"/target/bogus"}, `property "bogus" should not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := spec.Validate("Body", []byte(tt.body), tt.strict)
			verr := requireViolations(t, err, tt.pointers...)
			require.Contains(t, verr.Error(), tt.contains)
		})
	}

	t.Run("LenientAllowsUnknownAndNullOptional", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, spec.Validate("Body", []byte(`{"name": "x", "foo": 1, "when": null, "plan": {"type": "fixed", "new": 2}}`), false))
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		require.ErrorContains(t, spec.Validate("Nope", []byte(`{}`), true), `no component schema "Nope"`)
		require.ErrorContains(t, spec.Validate("Body", []byte(`{`), true), "not JSON")
	})
}

// TestRequestMessages checks that violations are worded as Vapi's 400 answer words them, with
// the property's dotted path.
func TestRequestMessages(t *testing.T) {
	t.Parallel()
	spec, err := vapispec.Load(filepath.Join("testdata", "quirks.openapi.json"))
	require.NoError(t, err)

	tests := []struct {
		name string
		body string
		want []string
	}{
		{"Valid", `{"name": "ok", "plan": {"type": "fixed"}}`, nil},
		{"UnknownTopLevelProperty", `{"name": "x", "foo": 1}`, []string{"property foo should not exist"}},
		{"UnknownNestedProperty", `{"name": "x", "plan": {"type": "fixed", "extra": 1}}`, []string{"plan.property extra should not exist"}},
		{"MaxLength", `{"name": "12345678901234567890123456789012345678901"}`, []string{"name must be shorter than or equal to 40 characters"}},
		{"WantString", `{"name": 7}`, []string{"name must be a string"}},
		{"WantObject", `{"name": "x", "free": 1}`, []string{"nested property free must be either object or array"}},
		{"WantArray", `{"name": "x", "messages": "status-update"}`, []string{"messages must be an array"}},
		{"OtherKeywordKeepsItsMessage", `{"name": "x", "level": "medium"}`, []string{"level: value must be one of 'low', 'high', <nil>"}},
		{"EscapedPointerTokens", `{"name": "x", "a/b~c": 1}`, []string{"property a/b~c should not exist"}},
		{"NotJSONIsOneMessage", `{`, []string{"validate Body: body is not JSON: unexpected EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, spec.RequestMessages("Body", []byte(tt.body)))
		})
	}
}

func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	tests := []struct {
		file   string
		schema string
		strict bool
	}{
		{"create-call.request.json", "CreateCallDTO", true},
		{"create-call.request.json", "CreateCallDTO", false},
		{"create-call.response.json", "Call", false},
		{"status-update.json", "ServerMessage", false},
		{"end-of-call-report.json", "ServerMessage", false},
		{"analytics.request.json", "AnalyticsQueryDTO", true},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.schema, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, spec.Validate(tt.schema, readExample(t, tt.file), tt.strict))
		})
	}

	t.Run("analytics.response.json/AnalyticsQueryResult", func(t *testing.T) {
		t.Parallel()
		var results []json.RawMessage
		require.NoError(t, json.Unmarshal(readExample(t, "analytics.response.json"), &results))
		require.NotEmpty(t, results)
		for _, r := range results {
			require.NoError(t, spec.Validate("AnalyticsQueryResult", r, false))
		}
	})
}

func TestRealSpecStrictness(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	require.Same(t, spec, vapispec.ForTest(t), "loaded once per test binary")

	// withField returns the create-call example with one change at top level.
	base := readExample(t, "create-call.request.json")
	withField := func(t *testing.T, key string, value any) []byte {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal(base, &m))
		m[key] = value
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}

	t.Run("UnknownTopLevelPropertyStrict", func(t *testing.T) {
		t.Parallel()
		body := withField(t, "metadata", map[string]any{"campaignId": "c1"})
		verr := requireViolations(t, spec.Validate("CreateCallDTO", body, true), "/metadata")
		require.Equal(t, "additionalProperties", verr.Violations[0].Keyword)
		require.Contains(t, verr.Error(), `property "metadata" should not exist`)
		require.NoError(t, spec.Validate("CreateCallDTO", body, false), "lenient allows it")
	})

	t.Run("UnknownNestedPropertyStrict", func(t *testing.T) {
		t.Parallel()
		var m map[string]any
		require.NoError(t, json.Unmarshal(base, &m))
		m["customer"].(map[string]any)["phone"] = "+1"
		m["assistantOverrides"].(map[string]any)["server"].(map[string]any)["secret"] = "s"
		b, err := json.Marshal(m)
		require.NoError(t, err)
		verr := requireViolations(t, spec.Validate("CreateCallDTO", b, true), "/assistantOverrides/server/secret", "/customer/phone")
		require.Contains(t, verr.Error(), `property "secret" should not exist`)
		require.Contains(t, verr.Error(), `property "phone" should not exist`)
	})

	t.Run("Name41CharsFails", func(t *testing.T) {
		t.Parallel()
		for _, strict := range []bool{true, false} {
			verr := requireViolations(t, spec.Validate("CreateCallDTO", withField(t, "name", strings.Repeat("n", 41)), strict), "/name")
			require.Equal(t, "maxLength", verr.Violations[0].Keyword)
		}
		require.NoError(t, spec.Validate("CreateCallDTO", withField(t, "name", strings.Repeat("n", 40)), true))
	})

	t.Run("GeneratorQuirksInTheRealSpec", func(t *testing.T) {
		t.Parallel()
		// serverMessages: enum on the array; BackoffPlan.type: string enum
		// typed object; excludedStatusCodes: numbers in "object" items;
		// assistantVersion: nullable; voicemailDetection/model: overlapping
		// oneOf; VapiVoice.version: number branch next to a string enum.
		body := `{
			"assistantId": "a1",
			"assistantVersion": null,
			"customer": {"number": "+14155551234", "numberE164CheckEnabled": false},
			"assistantOverrides": {
				"serverMessages": ["status-update", "end-of-call-report"],
				"server": {"url": "https://x", "backoffPlan": {"type": "fixed", "maxRetries": 2, "baseDelaySeconds": 1, "excludedStatusCodes": [400, 404]}},
				"voicemailDetection": "off",
				"model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "system", "content": "Be kind."}]},
				"voice": {"provider": "vapi", "voiceId": "Elliot", "version": 2},
				"firstMessage": "Hi",
				"maxDurationSeconds": 300
			},
			"schedulePlan": {"earliestAt": "2026-08-01T09:00:00.000Z", "latestAt": "2026-08-01"}
		}`
		require.NoError(t, spec.Validate("CreateCallDTO", []byte(body), true))

		verr := requireViolations(t, spec.Validate("CreateCallDTO", []byte(`{"assistantOverrides": {"serverMessages": ["status-update", "bogus"]}}`), true),
			"/assistantOverrides/serverMessages/1")
		require.Equal(t, "enum", verr.Violations[0].Keyword)
		requireViolations(t, spec.Validate("CreateCallDTO", []byte(`{"assistantOverrides": {"server": {"backoffPlan": {"type": "linear", "maxRetries": 1, "baseDelaySeconds": 1}}}}`), true),
			"/assistantOverrides/server/backoffPlan/type")
		// The failing branch reported is the one the value was meant for.
		requireViolations(t, spec.Validate("CreateCallDTO", []byte(`{"assistantOverrides": {"model": {"provider": "openai", "model": "gpt-4o", "temperatur": 1}}}`), true),
			"/assistantOverrides/model/temperatur")
	})

	t.Run("LenientAcceptsNullsAndNewFields", func(t *testing.T) {
		t.Parallel()
		body := `{"message": {"type": "status-update", "status": "ringing", "someNewField": 1,
			"call": {"id": "c1", "orgId": "o1", "createdAt": "2026-08-01T12:00:00.000Z", "updatedAt": "2026-08-01T12:00:00.000Z", "startedAt": null, "endedReason": null}}}`
		require.NoError(t, spec.Validate("ServerMessage", []byte(body), false))
		requireViolations(t, spec.Validate("ServerMessage", []byte(`{"message": {"type": "status-update", "status": "ringing", "call": {"id": "c1"}}}`), false),
			"/message/call")
	})
}

func TestValidateQuery(t *testing.T) {
	t.Parallel()

	spec, err := vapispec.Load(filepath.Join("testdata", "quirks.openapi.json"))
	require.NoError(t, err)

	require.NoError(t, spec.ValidateQuery("GET", "/thing/{id}", url.Values{
		"limit": {"10"}, "at": {"2026-08-01T12:00:00.000Z"}, "full": {"true"}, "status": {"a", "b"}, "level": {"low"},
	}))
	require.NoError(t, spec.ValidateQuery("get", "/thing/{id}", nil))

	err = spec.ValidateQuery("GET", "/thing/{id}", url.Values{
		"limit": {"11"}, "at": {"noon"}, "full": {"yes"}, "status": {"a", "c"}, "id": {"x"}, "page": {"2"}, "level": {"mid"},
	})
	verr := requireViolations(t, err, "/limit", "/at", "/full", "/status/1", "/id", "/page", "/level")
	require.Contains(t, verr.Error(), `property "page" should not exist`)
	require.Contains(t, verr.Error(), `property "id" should not exist`, "a path parameter is not a query parameter")

	requireViolations(t, spec.ValidateQuery("GET", "/thing/{id}", url.Values{"limit": {"1", "2"}}), "/limit")
	requireViolations(t, spec.ValidateQuery("GET", "/thing/{id}", url.Values{"limit": {"many"}}), "/limit")
	require.ErrorContains(t, spec.ValidateQuery("POST", "/thing/{id}", nil), "no operation POST /thing/{id}")
}

func TestValidateQueryRealSpec(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	require.NoError(t, spec.ValidateQuery("GET", "/call", url.Values{
		"id": {"c1"}, "assistantId": {"a1"}, "phoneNumberId": {"p1"}, "limit": {"1000"},
		"createdAtGt": {"2026-08-01T12:00:00.000Z"}, "createdAtLe": {"2026-08-01T12:05:00.124Z"},
		"updatedAtGe": {"2026-08-01T00:00:00.000Z"}, "updatedAtLt": {"2026-08-02T00:00:00.000Z"},
	}))
	requireViolations(t, spec.ValidateQuery("GET", "/call", url.Values{"limit": {"1001"}, "status": {"ended"}, "createdAtGt": {"2026-08-32T00:00:00Z"}}),
		"/limit", "/status", "/createdAtGt")
}

func TestSubset(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 8, 20, 23, 0, 0, 0, time.FixedZone("PDT", -7*3600))
	full := []byte(`{
		"openapi": "3.0.0", "info": {"title": "Vapi API", "description": "prose", "version": "1.0"},
		"paths": {"/call": {"get": {"summary": "List calls", "parameters": [
			{"name": "limit", "in": "query", "required": false, "description": "prose", "schema": {"type": "number", "maximum": 1000, "example": 5}},
			{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
		]}}},
		"components": {"schemas": {
			"CreateCallDTO": {"type": "object", "title": "t", "description": "prose", "required": ["name"], "properties": {
				"name": {"type": "string", "maxLength": 40, "description": "prose", "example": "x", "default": "y"},
				"description": {"allOf": [{"$ref": "#/components/schemas/Plan"}]},
				"codes": {"type": "array", "example": [400, 404], "items": {"type": "object"}}
			}},
			"Plan": {"type": "string", "enum": ["a", "b"], "nullable": true, "deprecated": true},
			"AnalyticsQueryDTO": {"type": "object"}, "AnalyticsQueryResult": {"type": "object"},
			"Call": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Call"}}},
			"ServerMessage": {"type": "object", "discriminator": {"propertyName": "type"}},
			"TwilioPhoneNumber": {"type": "object", "description": "prose"},
			"Squad": {"type": "object", "required": ["members"], "description": "prose"},
			"Unused": {"type": "string"}
		}}
	}`)
	got, err := vapispec.Subset(full, "openapi.json from somewhere", day)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"openapi": "3.0.0", "info": {"title": "Vapi API (subset: facts only)", "version": "1.0"},
		"x-subset": {"document": "openapi.json from somewhere", "sha256": "`+fmt.Sprintf("%x", sha256.Sum256(full))+`",
			"version": "1.0", "generated": "2026-08-21", "generator": "make vapi-spec (go run ./internal/vapispec/gensubset)"},
		"paths": {"/call": {"get": {"parameters": [
			{"name": "limit", "in": "query", "required": false, "schema": {"type": "number", "maximum": 1000}}
		]}}},
		"components": {"schemas": {
			"CreateCallDTO": {"type": "object", "required": ["name"], "properties": {
				"name": {"type": "string", "maxLength": 40},
				"description": {"allOf": [{"$ref": "#/components/schemas/Plan"}]},
				"codes": {"type": "array", "items": {}}
			}},
			"Plan": {"type": "string", "enum": ["a", "b"], "nullable": true},
			"AnalyticsQueryDTO": {"type": "object"}, "AnalyticsQueryResult": {"type": "object"},
			"Call": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Call"}}},
			"ServerMessage": {"type": "object"}, "TwilioPhoneNumber": {"type": "object"},
			"Squad": {"type": "object", "required": ["members"]}
		}}
	}`, string(got))
	again, err := vapispec.Subset(full, "openapi.json from somewhere", day)
	require.NoError(t, err)
	require.Equal(t, string(got), string(again), "deterministic")
	src, err := vapispec.ReadSubsetSource(got)
	require.NoError(t, err)
	require.Equal(t, "2026-08-21", src.Generated)

	// The subset validates as the full document does.
	spec, err := vapispec.Parse("subset", got)
	require.NoError(t, err)
	require.NoError(t, spec.Validate("CreateCallDTO", []byte(`{"name": "n", "codes": [400], "description": null}`), true))
	requireViolations(t, spec.Validate("CreateCallDTO", []byte(`{"name": "`+strings.Repeat("n", 41)+`", "extra": 1}`), true), "/extra", "/name")
	requireViolations(t, spec.ValidateQuery("GET", "/call", url.Values{"limit": {"1001"}}), "/limit")

	for _, tt := range []struct{ name, doc, want string }{
		{"NotJSON", `{`, "read"},
		{"NoSchemas", `{"components": {}}`, "no components.schemas"},
		{"MissingRoot", `{"components": {"schemas": {"Call": {}}}}`, `no component schema "AnalyticsQueryDTO"`},
		{"DanglingRef", strings.Replace(string(full), `"#/components/schemas/Plan"`, `"#/components/schemas/Gone"`, 1), `no component schema "Gone"`},
		{"UnknownKeyword", strings.Replace(string(full), `"maxLength": 40,`, `"maxLength": 40, "x-limit": 3,`, 1), `CreateCallDTO/properties/name: unknown schema keyword "x-limit"`},
		{"ExternalRef", strings.Replace(string(full), `"#/components/schemas/Plan"`, `"other.json#/Plan"`, 1), `unsupported $ref "other.json#/Plan"`},
		{"NoOperation", strings.Replace(string(full), `"/call"`, `"/calls"`, 1), "has no operation get /call"},
	} {
		_, err := vapispec.Subset([]byte(tt.doc), "doc", day)
		require.ErrorContains(t, err, tt.want, tt.name)
	}
}

// TestCommittedSubset checks the subset the conformance tests use: it is
// closed under $ref and holds facts only (generating a subset from it gives
// it back), and, when Vapi's full document is present (VAPI_OPENAPI_SPEC, or
// ../shared/vapi/openapi.json beside the module), it is exactly what `make
// vapi-spec` generates from it, so it cannot go stale silently.
func TestCommittedSubset(t *testing.T) {
	t.Parallel()
	committed := vapispec.CommittedSubset()
	src, err := vapispec.ReadSubsetSource(committed)
	require.NoError(t, err)
	require.NotEmpty(t, src.Document)
	require.Len(t, src.SHA256, 64)
	require.NotEmpty(t, src.Version)
	day, err := time.Parse(time.DateOnly, src.Generated)
	require.NoError(t, err)

	again, err := vapispec.Subset(committed, src.Document, day)
	require.NoError(t, err)
	var want, got map[string]any
	require.NoError(t, json.Unmarshal(committed, &want))
	require.NoError(t, json.Unmarshal(again, &got))
	require.Equal(t, want["components"], got["components"], "the subset is closed and holds facts only")
	require.Equal(t, want["paths"], got["paths"], "the subset is closed and holds facts only")
	for _, name := range vapispec.SubsetSchemas {
		require.True(t, vapispec.ForTest(t).Has(name), name)
	}

	path := os.Getenv(vapispec.EnvVar)
	if path == "" {
		path = filepath.Join("..", "..", "..", "shared", "vapi", "openapi.json")
		if _, err := os.Stat(path); err != nil {
			t.Logf("Vapi's full document is absent (%s unset, no %s): the subset's currency is checked where it is present", vapispec.EnvVar, path)
			return
		}
	}
	full, err := os.ReadFile(path)
	require.NoError(t, err)
	current, err := vapispec.Subset(full, src.Document, day)
	require.NoError(t, err)
	require.True(t, bytes.Equal(committed, current),
		"%s is not what `make vapi-spec VAPI_SPEC=%s` generates from the full document (sha256 %s, committed from %s): regenerate and commit it",
		vapispec.SubsetFile, path, fmt.Sprintf("%x", sha256.Sum256(full)), src.SHA256)
}
