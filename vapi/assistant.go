package vapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Assistant is a saved Vapi assistant (GET /assistant/{id}), decoded far
// enough to read its prompts and messages.
type Assistant struct {
	// ID is the assistant's id.
	ID string `json:"id"`
	// OrgID is the owning organization.
	OrgID string `json:"orgId,omitempty"`
	// Name is the assistant's name.
	Name string `json:"name,omitempty"`
	// Model is the language model and its starting messages.
	Model *AssistantModel `json:"model,omitempty"`
	// FirstMessage is what the assistant says first.
	FirstMessage string `json:"firstMessage,omitempty"`
	// FirstMessageMode says who speaks first.
	FirstMessageMode string `json:"firstMessageMode,omitempty"`
	// VoicemailMessage is left on voicemail.
	VoicemailMessage string `json:"voicemailMessage,omitempty"`
	// EndCallMessage is said before hanging up.
	EndCallMessage string `json:"endCallMessage,omitempty"`
	// ServerMessages are the server messages the assistant sends.
	ServerMessages []ServerMessageType `json:"serverMessages,omitempty"`
	// Server is the assistant's own webhook destination.
	Server *Server `json:"server,omitempty"`
	// CreatedAt is when the assistant was created.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// UpdatedAt is when the assistant last changed.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// SystemPrompt joins the content of the model's system messages with blank
// lines; empty when there is none.
func (a *Assistant) SystemPrompt() string {
	if a == nil || a.Model == nil {
		return ""
	}
	var parts []string
	for _, m := range a.Model.Messages {
		if m.Role == "system" && m.Content != "" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n\n")
}

// AssistantModel is an assistant's language model.
type AssistantModel struct {
	// Provider is the model provider, e.g. "openai".
	Provider string `json:"provider,omitempty"`
	// Model is the model name, e.g. "gpt-4o".
	Model string `json:"model,omitempty"`
	// Messages is the conversation's starting state; the system prompt is
	// the "system" message.
	Messages []ModelMessage `json:"messages,omitempty"`
	// Tools are the tools the model may call during the call.
	Tools []Tool `json:"tools,omitempty"`
}

// Tool is one of an assistant model's tools, decoded far enough to know
// where its tool-calls messages go.
type Tool struct {
	// Type is the tool's type, e.g. "function", "transferCall", "endCall".
	Type string `json:"type"`
	// Function names the function of a "function" tool.
	Function *ToolFunction `json:"function,omitempty"`
	// Server is where the tool's tool-calls messages go; nil: the
	// assistant's server, else the phone number's, else the org's.
	Server *Server `json:"server,omitempty"`
}

// ToolFunction is a function tool's function.
type ToolFunction struct {
	// Name is the function's name (at most 64 characters).
	Name string `json:"name"`
}

// ModelMessage is one of a model's starting messages.
type ModelMessage struct {
	// Role is "system", "user", "assistant", "tool" or "function".
	Role string `json:"role"`
	// Content is the message text. Content sent as a list of parts has its
	// text parts joined.
	Content string `json:"content"`
}

// UnmarshalJSON decodes a message whose content is a string, null, or a list
// of {"type": "text", "text": ...} parts.
func (m *ModelMessage) UnmarshalJSON(data []byte) error {
	var aux struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return fmt.Errorf("unmarshal model message: %w", err)
	}
	m.Role = aux.Role
	m.Content = ""
	var parts []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(aux.Content, &parts); err == nil {
		texts := make([]string, 0, len(parts))
		for _, p := range parts {
			if p.Text != "" {
				texts = append(texts, p.Text)
			}
		}
		m.Content = strings.Join(texts, "\n")
		return nil
	}
	m.Content = scalarText(aux.Content)
	return nil
}
