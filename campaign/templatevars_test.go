package campaign

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplateVariablesForms(t *testing.T) {
	type v = TemplateVariable
	sp := []string{"system prompt"}
	tests := []struct {
		name string
		text string
		want []TemplateVariable
	}{
		{"bare", "Hi {{name}}!", []v{{Name: "name", Where: sp}}},
		{"spaced", "Hi {{ name }}!", []v{{Name: "name", Where: sp}}},
		{"default double quotes", `Hi {{ name | default: "there" }}`, []v{{Name: "name", HasDefault: true, Where: sp}}},
		{"default single quotes no space", `Hi {{ name|default:'there' }}`, []v{{Name: "name", HasDefault: true, Where: sp}}},
		{"default after other filter", `{{ name | strip | default: "x" }}`, []v{{Name: "name", HasDefault: true, Where: sp}}},
		{"other filter only", `{{ name | upcase }}`, []v{{Name: "name", Where: sp}}},
		{"filter args", `{{ name | default: nickname }}`, []v{{Name: "name", HasDefault: true, Where: sp}, {Name: "nickname", Where: sp}}},
		{"named filter arg key", `{{ name | default: "x", allow_false: true }}`, []v{{Name: "name", HasDefault: true, Where: sp}}},
		{"dotted root", `{{ account.owner.name }}`, []v{{Name: "account", Where: sp}}},
		{"bracket double", `{{ ["first name"] }}`, []v{{Name: "first name", Where: sp}}},
		{"bracket single", `{{ ['first name'] | default: "friend" }}`, []v{{Name: "first name", HasDefault: true, Where: sp}}},
		{"bracket lookup on variable", `{{ row["first name"] }}`, []v{{Name: "row", Where: sp}}},
		{"hyphenated", `{{ first-name }}`, []v{{Name: "first-name", Where: sp}}},
		{"whitespace control", `{{- name -}} {%- if vip -%}x{%- endif -%}`, []v{{Name: "name", Where: sp}, {Name: "vip", Where: sp}}},
		{"if", `{% if name %}Hi{% endif %}`, []v{{Name: "name", Where: sp}}},
		{"if comparison", `{% if plan == "gold" and balance > 10 %}x{% elsif tier != 'a' %}y{% else %}z{% endif %}`,
			[]v{{Name: "plan", Where: sp}, {Name: "balance", Where: sp}, {Name: "tier", Where: sp}}},
		{"keywords and literals", `{% if a == true or b == nil or c == empty or d contains "x" %}{% endif %}{% unless e == blank %}{% endunless %}`,
			[]v{{Name: "a", Where: sp}, {Name: "b", Where: sp}, {Name: "c", Where: sp}, {Name: "d", Where: sp}, {Name: "e", Where: sp}}},
		{"case when", `{% case lang %}{% when "en" %}Hi{% when other %}x{% endcase %}`, []v{{Name: "lang", Where: sp}, {Name: "other", Where: sp}}},
		{"string literal", `{{ "literal" }} {{ 'x' | upcase }}`, nil},
		{"number literal", `{{ 42 }} {{ -1.5 }}`, nil},
		{"for loop", `{% for item in items limit: 3 reversed %}{{ item.name }} {{ forloop.index }}{% endfor %}`, []v{{Name: "items", Where: sp}}},
		{"for range", `{% for i in (1..count) %}{{ i }}{% endfor %}`, []v{{Name: "count", Where: sp}}},
		{"assign", `{% assign greeting = salutation | default: "Hi" %}{{ greeting }}`, []v{{Name: "salutation", HasDefault: true, Where: sp}}},
		{"capture", `{% capture intro %}Hi {{ name }}{% endcapture %}{{ intro }}`, []v{{Name: "name", Where: sp}}},
		{"raw and comment skipped", `{% raw %}{{ a }}{% endraw %}{% comment %}{{ b }}{% endcomment %}{{ c }}`, []v{{Name: "c", Where: sp}}},
		{"closer inside string", `{{ name | default: "}}" }} {{ other }}`, []v{{Name: "name", HasDefault: true, Where: sp}, {Name: "other", Where: sp}}},
		{"unterminated", `Hi {{ name`, nil},
		{"plain braces", `JSON {"a": 1} {name}`, nil},
		{"repeated", `{{ name }} and {{ name }}`, []v{{Name: "name", Where: sp}}},
		{"empty bracket", `{{ [""] }}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TemplateVariables(sp, map[string]string{"system prompt": tt.text})
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateVariablesBuiltins(t *testing.T) {
	for _, text := range []string{
		"{{ customer }}", "{{ customer.number }}", `{{ customer["name"] }}`, "{{ call.id }}", "{{ phoneNumber.number }}",
		"{{ assistant.name }}", "{{ now }}", `{{ "now" | date: "%b %d" }}`, "{{ date }}", "{{ time }}", "{{ year }}",
		"{{ month }}", "{{ day }}", "{{ hour }}", "{{ minute }}", "{{ second }}", "{% if customer.name %}x{% endif %}",
		`{{ ["customer"] }}`,
	} {
		t.Run(text, func(t *testing.T) {
			require.Empty(t, TemplateVariables([]string{"t"}, map[string]string{"t": text}))
		})
	}
	// Built-in names are matched exactly.
	got := TemplateVariables([]string{"t"}, map[string]string{"t": "{{ customer_name }} {{ Customer }}"})
	require.Equal(t, []TemplateVariable{{Name: "customer_name", Where: []string{"t"}}, {Name: "Customer", Where: []string{"t"}}}, got)
}

func TestTemplateVariablesAcrossTexts(t *testing.T) {
	texts := map[string]string{
		"system prompt":    `You call {{ first_name }} about {{ topic | default: "your account" }}.`,
		"first message":    `Hi {{ first_name | default: "there" }}, {{ company }} here.`,
		"voicemail":        `{{ topic | default: "x" }} {{ callback }}`,
		"end-call message": `Bye {{ first_name }}`,
		"unused":           `{{ ignored }}`,
	}
	order := []string{"system prompt", "first message", "voicemail", "end-call message", "absent"}
	got := TemplateVariables(order, texts)
	require.Equal(t, []TemplateVariable{
		{Name: "first_name", Where: []string{"system prompt", "first message", "end-call message"}},
		{Name: "topic", HasDefault: true, Where: []string{"system prompt", "voicemail"}},
		{Name: "company", Where: []string{"first message"}},
		{Name: "callback", Where: []string{"voicemail"}},
	}, got)

	// HasDefault needs every use to have a default; a tag condition is a use without one.
	got = TemplateVariables([]string{"a", "b"}, map[string]string{
		"a": `{{ x | default: "1" }} {{ y | default: "1" }}`,
		"b": `{{ x | default: "2" }} {% if y %}{% endif %}`,
	})
	require.Equal(t, []TemplateVariable{
		{Name: "x", HasDefault: true, Where: []string{"a", "b"}},
		{Name: "y", Where: []string{"a", "b"}},
	}, got)

	// A loop variable is local only to the text that binds it.
	got = TemplateVariables([]string{"a", "b"}, map[string]string{
		"a": `{% for x in items %}{{ x }}{% endfor %}`,
		"b": `{{ x }}`,
	})
	require.Equal(t, []TemplateVariable{
		{Name: "items", Where: []string{"a"}},
		{Name: "x", Where: []string{"b"}},
	}, got)

	require.Empty(t, TemplateVariables(nil, texts))
}

func TestCheckVariables(t *testing.T) {
	tests := []struct {
		name    string
		v       TemplateVariable
		columns []string
		want    VariableCheck
		missing bool
	}{
		{"exact", TemplateVariable{Name: "first_name"}, []string{"phone", "first_name"},
			VariableCheck{Variable: "first_name", Column: "first_name"}, false},
		{"case and space near miss", TemplateVariable{Name: "first_name"}, []string{"phone", "First Name"},
			VariableCheck{Variable: "first_name", NearMiss: "First Name"}, true},
		{"space vs underscore near miss", TemplateVariable{Name: "first_name"}, []string{"first name"},
			VariableCheck{Variable: "first_name", NearMiss: "first name"}, true},
		{"hyphen near miss", TemplateVariable{Name: "first name"}, []string{"first-name"},
			VariableCheck{Variable: "first name", NearMiss: "first-name"}, true},
		{"exact wins over near miss", TemplateVariable{Name: "first_name"}, []string{"First Name", "first_name"},
			VariableCheck{Variable: "first_name", Column: "first_name"}, false},
		{"first near miss", TemplateVariable{Name: "first_name"}, []string{"FirstName", "first name"},
			VariableCheck{Variable: "first_name", NearMiss: "FirstName"}, true},
		{"none", TemplateVariable{Name: "company"}, []string{"phone", "first_name"},
			VariableCheck{Variable: "company"}, true},
		{"none with default", TemplateVariable{Name: "company", HasDefault: true}, []string{"phone"},
			VariableCheck{Variable: "company", HasDefault: true}, false},
		{"near miss with default", TemplateVariable{Name: "company", HasDefault: true}, []string{"Company"},
			VariableCheck{Variable: "company", NearMiss: "Company", HasDefault: true}, false},
		{"different word", TemplateVariable{Name: "first_name"}, []string{"firstname2", "last_name"},
			VariableCheck{Variable: "first_name"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckVariables([]TemplateVariable{tt.v}, tt.columns)
			require.Equal(t, []VariableCheck{tt.want}, got)
			require.Equal(t, tt.missing, got[0].Missing())
		})
	}

	got := CheckVariables([]TemplateVariable{{Name: "b"}, {Name: "a"}}, []string{"a", "b"})
	require.Equal(t, []VariableCheck{{Variable: "b", Column: "b"}, {Variable: "a", Column: "a"}}, got)
	require.Empty(t, CheckVariables(nil, []string{"a"}))
}
