package vapispec

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// openAPIRefPrefix is how the OpenAPI document refers to its schemas.
const openAPIRefPrefix = "#/components/schemas/"

// jsonSchemaRefPrefix is where the converted document keeps them.
const jsonSchemaRefPrefix = "#/$defs/"

// document turns components.schemas into a JSON Schema (draft 2020-12)
// document whose $defs are the converted schemas. The input is not modified.
func (c converter) document(schemas map[string]any) map[string]any {
	defs := make(map[string]any, len(schemas))
	for name, sch := range schemas {
		defs[name] = c.schema(sch)
	}
	return map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$defs":   defs,
	}
}

// converter converts one schema tree for one validation mode.
type converter struct {
	strict bool
}

// schema converts a schema (an object or a boolean).
func (c converter) schema(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		if isAnnotation(k) {
			continue // annotations and OpenAPI-only keywords are dropped
		}
		switch k {
		case "nullable", "oneOf":
			// Handled below.
		case "$ref":
			if s, ok := val.(string); ok {
				out[k] = rewriteRef(s)
			}
		case "properties":
			if props, ok := val.(map[string]any); ok {
				conv := make(map[string]any, len(props))
				for name, p := range props {
					conv[name] = c.schema(p)
				}
				out[k] = conv
			}
		case "items", "not", "additionalProperties", "propertyNames", "contains",
			"if", "then", "else", "unevaluatedProperties", "unevaluatedItems":
			out[k] = c.schema(val)
		case "allOf", "anyOf", "prefixItems":
			out[k] = c.list(val)
		case "pattern":
			if p, ok := fixPattern(val); ok {
				out[k] = p
			}
		case "format":
			// Only formats with a meaning in both worlds are asserted;
			// OpenAPI's own (binary, ...) are dropped.
			switch val {
			case "date-time", "uuid", "uri", "email":
				out[k] = val
			}
		default:
			out[k] = val
		}
	}

	// An undiscriminated (or discriminated) oneOf whose branches overlap is
	// read as anyOf, which is how the API behaves.
	if one, ok := m["oneOf"]; ok {
		branches := c.list(one)
		if existing, ok := out["anyOf"]; ok {
			out["allOf"] = append(asList(out["allOf"]), map[string]any{"anyOf": existing}, map[string]any{"anyOf": branches})
			delete(out, "anyOf")
		} else {
			out["anyOf"] = branches
		}
		// An enum next to the oneOf repeats (part of) the branches' enums
		// and would reject the other branches' values (VapiVoice.version).
		delete(out, "enum")
	}

	enum, hasEnum := out["enum"].([]any)
	switch {
	case out["type"] == "array" && hasEnum:
		// The enum of an array constrains its items.
		items, _ := out["items"].(map[string]any)
		items = maps.Clone(items)
		if items == nil {
			items = map[string]any{}
		}
		if _, ok := items["enum"]; !ok {
			items["enum"] = enum
		}
		out["items"] = items
		delete(out, "enum")
	case out["type"] == "object" && hasEnum && allStrings(enum):
		// A string enum typed as an object (BackoffPlan.type).
		out["type"] = "string"
	}

	// An array typed as "object" items but documented with scalar examples
	// (BackoffPlan.excludedStatusCodes: [400, 401]) accepts any item.
	if itemsUntypedByExample(m) {
		items := maps.Clone(out["items"].(map[string]any))
		delete(items, "type")
		out["items"] = items
	}

	if m["nullable"] == true {
		out = allowNull(out)
	}

	if props, ok := out["properties"].(map[string]any); ok {
		if c.strict {
			if _, ok := out["additionalProperties"]; !ok {
				out["additionalProperties"] = false
			}
		} else {
			required := map[string]bool{}
			for _, r := range asList(out["required"]) {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
			for name, p := range props {
				if !required[name] {
					props[name] = allowNull(p)
				}
			}
		}
	}
	return out
}

// annotations are the keywords of an OpenAPI schema that carry prose,
// examples or generator hints rather than a constraint Vapi enforces.
var annotations = []string{"description", "example", "examples", "title", "default", "deprecated",
	"readOnly", "writeOnly", "xml", "externalDocs", "discriminator"}

// isAnnotation reports whether an OpenAPI schema keyword is one of the
// annotations.
func isAnnotation(keyword string) bool {
	return slices.Contains(annotations, keyword)
}

// itemsUntypedByExample reports whether an OpenAPI schema is an array whose
// items are typed "object" (without properties) but whose example holds
// scalars (BackoffPlan.excludedStatusCodes: [400, 401]): such an array
// accepts any item.
func itemsUntypedByExample(m map[string]any) bool {
	if m["type"] != "array" {
		return false
	}
	ex, ok := m["example"].([]any)
	if !ok || len(ex) == 0 || anyObject(ex) {
		return false
	}
	items, ok := m["items"].(map[string]any)
	return ok && items["type"] == "object" && items["properties"] == nil
}

// list converts a list of schemas.
func (c converter) list(v any) []any {
	in := asList(v)
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = c.schema(s)
	}
	return out
}

// rewriteRef points an OpenAPI component ref into the converted document's
// $defs.
func rewriteRef(ref string) string {
	if name, ok := strings.CutPrefix(ref, openAPIRefPrefix); ok {
		return jsonSchemaRefPrefix + name
	}
	return ref
}

// absoluteRefs returns a converted schema whose $defs refs name the
// converted document by URL, for a schema compiled as a resource of its own
// (a query parameter's). The document itself keeps relative refs, which
// compile faster.
func absoluteRefs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" && strings.HasPrefix(s, jsonSchemaRefPrefix) {
				out[k] = docURL + s
				continue
			}
			out[k] = absoluteRefs(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = absoluteRefs(x)
		}
		return out
	}
	return v
}

// allowNull makes a converted schema accept null as well.
func allowNull(v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		// A boolean schema: true already accepts null; false accepts only null now.
		return map[string]any{"anyOf": []any{v, map[string]any{"type": "null"}}}
	}
	var types []any
	switch t := m["type"].(type) {
	case string:
		types = []any{t}
	case []any:
		types = t
	default:
		return map[string]any{"anyOf": []any{m, map[string]any{"type": "null"}}}
	}
	out := maps.Clone(m)
	if !slices.Contains(types, "null") {
		out["type"] = append(append([]any(nil), types...), "null")
	}
	if enum, ok := out["enum"].([]any); ok && !slices.Contains(enum, nil) {
		out["enum"] = append(append([]any(nil), enum...), nil)
	}
	return out
}

// placeholderPattern matches a pattern that is a constant's name rather
// than a regular expression (ORG_ROLE_OR_CUSTOM_ROLE_PATTERN).
const placeholderPattern = `^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$`

// fixPattern returns a pattern usable by Go's regexp: a JavaScript literal
// /body/flags is unwrapped (an i or s flag kept inline); a placeholder, or
// a pattern RE2 cannot compile (look-around), is dropped (ok false).
func fixPattern(v any) (string, bool) {
	p, ok := v.(string)
	if !ok || p == "" {
		return "", false
	}
	if regexp.MustCompile(placeholderPattern).MatchString(p) {
		return "", false
	}
	if strings.HasPrefix(p, "/") {
		if end := strings.LastIndex(p, "/"); end > 0 && strings.Trim(p[end+1:], "dgimsuvy") == "" {
			flags := p[end+1:]
			p = p[1:end]
			var inline string
			for _, f := range "is" {
				if strings.ContainsRune(flags, f) {
					inline += string(f)
				}
			}
			if inline != "" {
				p = "(?" + inline + ")" + p
			}
		}
	}
	if _, err := regexp.Compile(p); err != nil {
		return "", false
	}
	return p, true
}

// asList returns v as a list, nil if it is not one.
func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// allStrings reports whether every value is a string.
func allStrings(vs []any) bool {
	for _, v := range vs {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return len(vs) > 0
}

// anyObject reports whether some value is a JSON object.
func anyObject(vs []any) bool {
	for _, v := range vs {
		if _, ok := v.(map[string]any); ok {
			return true
		}
	}
	return false
}
