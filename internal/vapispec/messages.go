package vapispec

import (
	"errors"
	"regexp"
	"strings"
)

// RequestMessages validates a request body against a component schema, strictly, and words
// what is wrong the way Vapi's 400 answer does (NestJS class-validator messages:
// "customer.property foo should not exist", "name must be shorter than or equal to 40
// characters"); none when the body conforms. A failure to validate at all (an unknown schema,
// a body that is not JSON) is one message. The simulator (vapitest.SpecValidator) calls it.
func (s *Spec) RequestMessages(schema string, body []byte) []string {
	err := s.Validate(schema, body, true)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		out = append(out, nestMessage(v))
	}
	return out
}

// nestMessage words one violation as class-validator would, with the property's dotted path.
func nestMessage(v Violation) string {
	tokens := strings.Split(strings.TrimPrefix(v.Pointer, "/"), "/")
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	dotted := strings.Join(tokens, ".")
	switch {
	case v.Keyword == "additionalProperties":
		parent := strings.Join(tokens[:len(tokens)-1], ".")
		msg := "property " + tokens[len(tokens)-1] + " should not exist"
		if parent != "" {
			msg = parent + "." + msg
		}
		return msg
	case strings.HasSuffix(v.Keyword, "maxLength"):
		if n := lastNumber(v.Message); n != "" {
			return dotted + " must be shorter than or equal to " + n + " characters"
		}
	case strings.HasSuffix(v.Keyword, "minLength"):
		if n := lastNumber(v.Message); n != "" {
			return dotted + " must be longer than or equal to " + n + " characters"
		}
	case strings.HasSuffix(v.Keyword, "type"):
		switch {
		case strings.Contains(v.Message, "want string"):
			return dotted + " must be a string"
		case strings.Contains(v.Message, "want number"), strings.Contains(v.Message, "want integer"):
			return dotted + " must be a number conforming to the specified constraints"
		case strings.Contains(v.Message, "want boolean"):
			return dotted + " must be a boolean value"
		case strings.Contains(v.Message, "want object"):
			return "nested property " + dotted + " must be either object or array"
		case strings.Contains(v.Message, "want array"):
			return dotted + " must be an array"
		}
	}
	if dotted == "" {
		return v.Message
	}
	return dotted + ": " + v.Message
}

// numberPattern matches the numbers of a violation's message.
var numberPattern = regexp.MustCompile(`\d+`)

// lastNumber is the last number in s ("" when none): the limit of a length violation.
func lastNumber(s string) string {
	all := numberPattern.FindAllString(s, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}
