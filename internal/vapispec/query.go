package vapispec

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateQuery checks the query parameters of a request against the
// operation (method, path as written in the document, e.g. "/call") in the
// OpenAPI document: every parameter must be declared "in: query" (Vapi
// rejects others), a non-array parameter must not repeat, and each value
// must match the parameter's schema (numbers and booleans are parsed first).
// A failure is a *ValidationError whose pointers are "/" + parameter name.
func (s *Spec) ValidateQuery(method, path string, q url.Values) error {
	params, err := s.queryParams(method, path)
	if err != nil {
		return err
	}
	var vs []Violation
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ptr := pointer([]string{name})
		p, ok := params[name]
		if !ok {
			vs = append(vs, Violation{Pointer: ptr, Keyword: "additionalProperties", Message: fmt.Sprintf("property %q should not exist", name)})
			continue
		}
		values := q[name]
		var instance any
		if p.typ == "array" {
			list := make([]any, len(values))
			for i, v := range values {
				list[i] = v
			}
			instance = list
		} else {
			if len(values) > 1 {
				vs = append(vs, Violation{Pointer: ptr, Keyword: "type", Message: fmt.Sprintf("repeated %d times, want one value", len(values))})
				continue
			}
			instance = queryValue(p.typ, values[0])
		}
		if err := p.schema.Validate(instance); err != nil {
			verr, ok := err.(*jsonschema.ValidationError)
			if !ok {
				return fmt.Errorf("validate query %s %s: %w", method, path, err)
			}
			for _, v := range violations(verr) {
				v.Pointer = ptr + v.Pointer
				vs = append(vs, v)
			}
		}
	}
	if len(vs) > 0 {
		return &ValidationError{Schema: strings.ToUpper(method) + " " + path + " query", Strict: true, Violations: vs}
	}
	return nil
}

// queryParam is one compiled query parameter.
type queryParam struct {
	typ    string
	schema *jsonschema.Schema
}

// queryParams compiles (once) the query parameters of an operation.
func (s *Spec) queryParams(method, path string) (map[string]queryParam, error) {
	method = strings.ToLower(method)
	ops, _ := s.paths[path].(map[string]any)
	op, _ := ops[method].(map[string]any)
	if op == nil {
		return nil, fmt.Errorf("validate query: %s has no operation %s %s", s.path, strings.ToUpper(method), path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := method + " " + path
	if got, ok := s.queries[key]; ok {
		return got, nil
	}
	m, err := s.mode(true)
	if err != nil {
		return nil, err
	}
	out := map[string]queryParam{}
	for i, raw := range asList(op["parameters"]) {
		p, _ := raw.(map[string]any)
		name, _ := p["name"].(string)
		if p["in"] != "query" || name == "" {
			continue
		}
		conv, _ := absoluteRefs(m.conv.schema(p["schema"])).(map[string]any)
		if conv == nil {
			conv = map[string]any{}
		}
		conv["$schema"] = "https://json-schema.org/draft/2020-12/schema"
		loc := fmt.Sprintf("urn:vapispec:query:%s:%s:%d", method, url.PathEscape(path), i)
		if err := m.compiler.AddResource(loc, conv); err != nil {
			return nil, fmt.Errorf("compile query parameter %s of %s: %w", name, key, err)
		}
		sch, err := m.compiler.Compile(loc)
		if err != nil {
			return nil, fmt.Errorf("compile query parameter %s of %s: %w", name, key, err)
		}
		typ, _ := conv["type"].(string)
		out[name] = queryParam{typ: typ, schema: sch}
	}
	if s.queries == nil {
		s.queries = map[string]map[string]queryParam{}
	}
	s.queries[key] = out
	return out, nil
}

// queryValue turns a query string value into the JSON value its schema
// expects; a value that does not parse stays a string, so that the type
// check reports it.
func queryValue(typ, v string) any {
	switch typ {
	case "number", "integer":
		var n json.Number
		if json.Unmarshal([]byte(v), &n) == nil {
			return n
		}
	case "boolean":
		switch v {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return v
}
