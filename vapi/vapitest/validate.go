package vapitest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"
)

// Property names of the request DTOs (Vapi's OpenAPI document, 2026-08).
var (
	createCallProps = set("name", "assistantId", "assistantVersion", "assistant", "assistantOverrides",
		"squadId", "squad", "squadOverrides", "workflowId", "workflow", "workflowOverrides",
		"phoneNumberId", "phoneNumber", "customerId", "customer", "customers", "schedulePlan", "transport")
	customerProps = set("number", "numberE164CheckEnabled", "extension", "name", "email", "externalId",
		"sipUri", "assistantOverrides", "squadOverrides")
	overridesProps = set("transcriber", "model", "voice", "firstMessage", "firstMessageInterruptionsEnabled",
		"firstMessageMode", "voicemailDetection", "clientMessages", "serverMessages", "maxDurationSeconds",
		"backgroundSound", "modelOutputInMessagesEnabled", "transportConfigurations", "observabilityPlan",
		"credentials", "hooks", "tools:append", "variableValues", "name", "voicemailMessage", "endCallMessage",
		"endCallPhrases", "compliancePlan", "metadata", "backgroundSpeechDenoisingPlan", "analysisPlan",
		"artifactPlan", "startSpeakingPlan", "stopSpeakingPlan", "monitorPlan", "credentialIds", "server",
		"keypadInputPlan")
	e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// MessageE164 is the 400 message for a customer number that is not E.164.
const MessageE164 = "customer.number must be a valid phone number in the E.164 format. Hot tip, you may be missing the country code (Eg. US: +1)."

// MessageBatchUnsupported is the 400 message for a batch (customers) create.
const MessageBatchUnsupported = "customers: the simulator supports single-customer calls only; send one POST /call per customer with customer"

// validateCreate checks a POST /call body the way Vapi does and returns
// NestJS messages (empty: valid).
func (s *Server) validateCreate(body []byte) []string {
	var msgs []string
	add := func(m ...string) {
		for _, x := range m {
			if !slices.Contains(msgs, x) {
				msgs = append(msgs, x)
			}
		}
	}
	if s.cfg.Spec != nil {
		add(s.cfg.Spec.RequestMessages("CreateCallDTO", body)...)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return []string{"body must be a JSON object"}
	}
	for k := range top {
		if !createCallProps[k] {
			add("property " + k + " should not exist")
		}
	}
	add(maxLen("name", top["name"], 40)...)
	if _, ok := top["customers"]; ok {
		add(MessageBatchUnsupported)
	}
	var cust map[string]json.RawMessage
	if raw, ok := top["customer"]; ok {
		if err := json.Unmarshal(raw, &cust); err != nil || cust == nil {
			add("customer must be an object")
		}
	}
	if cust != nil {
		for k := range cust {
			if !customerProps[k] {
				add("customer.property " + k + " should not exist")
			}
		}
		add(maxLen("customer.name", cust["name"], 40)...)
		add(maxLen("customer.externalId", cust["externalId"], 40)...)
		add(maxLen("customer.email", cust["email"], 40)...)
		add(maxLen("customer.number", cust["number"], 40)...)
		add(maxLen("customer.extension", cust["extension"], 10)...)
		var number string
		_ = json.Unmarshal(cust["number"], &number)
		check := true
		if raw, ok := cust["numberE164CheckEnabled"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) == nil && !b {
				check = false
			}
		}
		_, hasSIP := cust["sipUri"]
		if number != "" && utf8.RuneCountInString(number) < 3 {
			add("customer.number must be longer than or equal to 3 characters")
		}
		if check && number != "" && !e164.MatchString(number) {
			add(MessageE164)
		}
		if number == "" && !hasSIP {
			add("customer.number or customer.sipUri is required")
		}
	} else if _, ok := top["customerId"]; !ok {
		if _, batch := top["customers"]; !batch {
			add("customer or customerId is required")
		}
	}
	if raw, ok := top["assistantOverrides"]; ok {
		var ov map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ov); err != nil || ov == nil {
			add("assistantOverrides must be an object")
		}
		for k := range ov {
			if !overridesProps[k] {
				add("assistantOverrides.property " + k + " should not exist")
			}
		}
	}
	if !hasAny(top, "assistantId", "assistant", "squadId", "squad", "workflowId", "workflow") {
		add("Need Either `assistant`, `assistantId`, `squad`, `squadId`, `workflow`, or `workflowId`.")
	}
	if !hasAny(top, "phoneNumberId", "phoneNumber") {
		add("Need Either `phoneNumberId` Or `phoneNumber`.")
	}
	return msgs
}

func hasAny(m map[string]json.RawMessage, keys ...string) bool {
	for _, k := range keys {
		if v, ok := m[k]; ok && string(v) != "null" && string(v) != `""` {
			return true
		}
	}
	return false
}

// maxLen checks a string property's length (class-validator's message).
func maxLen(path string, raw json.RawMessage, n int) []string {
	if len(raw) == 0 {
		return nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{path + " must be a string"}
	}
	if utf8.RuneCountInString(v) > n {
		return []string{fmt.Sprintf("%s must be shorter than or equal to %d characters", path, n)}
	}
	return nil
}
