package campaign

import (
	"slices"
	"strings"
)

// TemplateVariable is a variable an assistant's texts use.
type TemplateVariable struct {
	Name       string   // the variable's root name as the template writes it (e.g. "first_name", "first name" for {{ ["first name"] }})
	HasDefault bool     // every use has a `| default: ...` filter
	Where      []string // the texts it appears in, in the order given, de-duplicated
}

// VariableCheck is what CheckVariables finds for one variable.
type VariableCheck struct {
	Variable   string
	Column     string // the column that supplies it ("" if none)
	NearMiss   string // a column that differs only by case, spaces, '_' or '-' (when Column is "")
	HasDefault bool
}

// Missing reports whether the variable has no column and no default.
func (c VariableCheck) Missing() bool { return c.Column == "" && !c.HasDefault }

// tvBuiltins are the root names Vapi fills in itself; they are never reported.
// forloop and tablerowloop are Liquid's own loop objects.
var tvBuiltins = map[string]bool{
	"customer": true, "call": true, "phoneNumber": true, "assistant": true,
	"now": true, "date": true, "time": true, "year": true, "month": true, "day": true,
	"hour": true, "minute": true, "second": true,
	"forloop": true, "tablerowloop": true,
}

// tvKeywords are the words in Liquid expressions that are not variables.
var tvKeywords = map[string]bool{
	"and": true, "or": true, "contains": true, "in": true, "true": true, "false": true,
	"nil": true, "null": true, "empty": true, "blank": true, "reversed": true,
}

// TemplateVariables returns the variables the Liquid templates in texts use (texts maps a
// text's name, e.g. "system prompt", to its template), in order of first appearance, visiting
// the texts in the order of order (names absent from texts are skipped). Only root names are
// reported ({{ customer.name }} is "customer"), and Vapi's built-ins never are.
//
// Variables are read from output tags ({{ … }}) and from the expressions of the if, elsif,
// unless, case, when, for, tablerow, assign, echo and cycle tags; raw and comment blocks are
// skipped, other tags ignored. As an approximation, a name a text binds with for, tablerow,
// assign, capture, increment or decrement is local to that whole text and never reported
// there: {% for x in items %} reports items, not x. A variable HasDefault only when every one
// of its uses, in any text, is the head of an expression whose filters include default; a use
// in a tag condition ({% if name %}) or as a filter argument has no default.
func TemplateVariables(order []string, texts map[string]string) []TemplateVariable {
	var out []TemplateVariable
	index := map[string]int{}
	for _, where := range order {
		text, ok := texts[where]
		if !ok {
			continue
		}
		uses, locals := tvScanText(text)
		for _, u := range uses {
			if locals[u.name] || tvBuiltins[u.name] {
				continue
			}
			i, seen := index[u.name]
			if !seen {
				index[u.name] = len(out)
				out = append(out, TemplateVariable{Name: u.name, HasDefault: u.hasDefault, Where: []string{where}})
				continue
			}
			v := &out[i]
			v.HasDefault = v.HasDefault && u.hasDefault
			if !slices.Contains(v.Where, where) {
				v.Where = append(v.Where, where)
			}
		}
	}
	return out
}

// CheckVariables matches variables to CSV columns: exact header match, else a near miss
// (reported, not used: Vapi matches names literally). Results follow the order of vars; the
// near miss is the first such column in columns.
func CheckVariables(vars []TemplateVariable, columns []string) []VariableCheck {
	out := make([]VariableCheck, 0, len(vars))
	for _, v := range vars {
		c := VariableCheck{Variable: v.Name, HasDefault: v.HasDefault}
		if slices.Contains(columns, v.Name) {
			c.Column = v.Name
		} else {
			key := tvNearKey(v.Name)
			for _, col := range columns {
				if key != "" && tvNearKey(col) == key {
					c.NearMiss = col
					break
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// tvNearKey folds case and drops spaces, '_' and '-'.
func tvNearKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '_', '-':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

type tvUse struct {
	name       string
	hasDefault bool
}

// tvScanText returns the variable uses in one template, in order, and the names it binds.
func tvScanText(text string) (uses []tvUse, locals map[string]bool) {
	locals = map[string]bool{}
	skipUntil := "" // "endraw" or "endcomment" while inside such a block
	for {
		start := tvOpener(text)
		if start < 0 {
			return uses, locals
		}
		isTag := text[start+1] == '%'
		closer := "}}"
		if isTag {
			closer = "%}"
		}
		end := tvFindCloser(text, start+2, closer)
		if end < 0 {
			return uses, locals
		}
		inner := text[start+2 : end]
		text = text[end+2:]
		inner = strings.TrimPrefix(inner, "-")
		inner = strings.TrimSuffix(inner, "-")
		toks := tvTokenize(inner)
		if skipUntil != "" {
			if isTag && len(toks) > 0 && toks[0].s == skipUntil {
				skipUntil = ""
			}
			continue
		}
		if !isTag {
			uses = append(uses, tvExprUses(toks)...)
			continue
		}
		if len(toks) == 0 || toks[0].kind != 'i' {
			continue
		}
		rest := toks[1:]
		switch toks[0].s {
		case "raw", "comment":
			skipUntil = "end" + toks[0].s
		case "if", "elsif", "unless", "case", "when", "echo", "cycle":
			uses = append(uses, tvExprUses(rest)...)
		case "for", "tablerow":
			if len(rest) > 0 && rest[0].kind == 'i' {
				locals[rest[0].s] = true
			}
			if i := slices.IndexFunc(rest, func(t tvTok) bool { return t.kind == 'i' && t.s == "in" }); i >= 0 {
				uses = append(uses, tvExprUses(rest[i+1:])...)
			}
		case "assign":
			if len(rest) > 0 && rest[0].kind == 'i' {
				locals[rest[0].s] = true
			}
			if i := slices.IndexFunc(rest, func(t tvTok) bool { return t.s == "=" }); i >= 0 {
				uses = append(uses, tvExprUses(rest[i+1:])...)
			}
		case "capture", "increment", "decrement":
			if len(rest) > 0 && rest[0].kind == 'i' {
				locals[rest[0].s] = true
			}
		}
	}
}

// tvOpener returns the index of the first "{{" or "{%" in s, or -1.
func tvOpener(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%') {
			return i
		}
	}
	return -1
}

// tvFindCloser returns the index of closer in s at or after from, skipping quoted strings, or -1.
func tvFindCloser(s string, from int, closer string) int {
	for i := from; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return -1
			}
			i += j + 1
		case strings.HasPrefix(s[i:], closer):
			return i
		}
	}
	return -1
}

// tvTok is a token of a Liquid expression: 'i' identifier, 's' string (s unquoted),
// 'n' number, 'p' punctuation.
type tvTok struct {
	kind byte
	s    string
}

func tvIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= 0x80
}

func tvIdentPart(c byte) bool { return tvIdentStart(c) || c == '-' || ('0' <= c && c <= '9') }

func tvDigit(c byte) bool { return '0' <= c && c <= '9' }

func tvTokenize(s string) []tvTok {
	var toks []tvTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				toks = append(toks, tvTok{'s', s[i+1:]})
				return toks
			}
			toks = append(toks, tvTok{'s', s[i+1 : i+1+j]})
			i += j + 2
		case tvDigit(c) || (c == '-' && i+1 < len(s) && tvDigit(s[i+1])):
			j := i + 1
			for j < len(s) && (tvDigit(s[j]) || (s[j] == '.' && !strings.HasPrefix(s[j:], ".."))) {
				j++
			}
			toks = append(toks, tvTok{'n', s[i:j]})
			i = j
		case tvIdentStart(c):
			j := i + 1
			for j < len(s) && tvIdentPart(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '?' {
				j++
			}
			toks = append(toks, tvTok{'i', s[i:j]})
			i = j
		default:
			j := i + 1
			if j < len(s) && strings.Contains("=<>!.", string(s[j])) && strings.Contains("=<>!.", string(c)) {
				j++
			}
			toks = append(toks, tvTok{'p', s[i:j]})
			i = j
		}
	}
	return toks
}

// tvExprUses returns the root variables of an expression with filters. Roots in the head
// (before the first '|') have a default when a later filter is default; roots in filter
// arguments never do.
func tvExprUses(toks []tvTok) []tvUse {
	head := toks
	var filters [][]tvTok
	if i := slices.IndexFunc(toks, func(t tvTok) bool { return t.kind == 'p' && t.s == "|" }); i >= 0 {
		head = toks[:i]
		filters = tvSplitPipes(toks[i+1:])
	}
	hasDefault := slices.ContainsFunc(filters, func(f []tvTok) bool {
		return len(f) > 0 && f[0].kind == 'i' && f[0].s == "default"
	})
	var uses []tvUse
	for _, name := range tvRoots(head) {
		uses = append(uses, tvUse{name, hasDefault})
	}
	for _, f := range filters {
		if len(f) > 0 && f[0].kind == 'i' {
			f = f[1:] // the filter's name
		}
		for _, name := range tvRoots(f) {
			uses = append(uses, tvUse{name: name})
		}
	}
	return uses
}

func tvSplitPipes(toks []tvTok) [][]tvTok {
	var segs [][]tvTok
	for {
		i := slices.IndexFunc(toks, func(t tvTok) bool { return t.kind == 'p' && t.s == "|" })
		if i < 0 {
			return append(segs, toks)
		}
		segs = append(segs, toks[:i])
		toks = toks[i+1:]
	}
}

// tvRoots returns the root variable names in a filter-free expression: identifiers not
// following '.', not keywords and not named-argument keys (followed by ':'), and
// ["quoted"] lookups that start a term.
func tvRoots(toks []tvTok) []string {
	var names []string
	for i, t := range toks {
		var prev tvTok
		if i > 0 {
			prev = toks[i-1]
		}
		switch {
		case t.kind == 'i':
			if prev.kind == 'p' && prev.s == "." || tvKeywords[t.s] {
				continue
			}
			if i+1 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].s == ":" {
				continue
			}
			names = append(names, t.s)
		case t.kind == 'p' && t.s == "[":
			if (prev.kind == 'i' && !tvKeywords[prev.s]) || prev.kind == 's' || (prev.kind == 'p' && (prev.s == "]" || prev.s == ".")) {
				continue // a lookup on something before it
			}
			if i+2 < len(toks) && toks[i+1].kind == 's' && toks[i+2].s == "]" && toks[i+1].s != "" {
				names = append(names, toks[i+1].s)
			}
		}
	}
	return names
}
