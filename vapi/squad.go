package vapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Squad is a saved Vapi squad (GET /squad/{id}): assistants that hand the
// call to one another, starting with the first member.
type Squad struct {
	// ID is the squad's id.
	ID string `json:"id"`
	// OrgID is the owning organization.
	OrgID string `json:"orgId,omitempty"`
	// Name is the squad's name.
	Name string `json:"name,omitempty"`
	// Members are the squad's assistants, the first one starting the call.
	Members []SquadMember `json:"members"`
	// MembersOverrides applies to every member, after each member's own
	// AssistantOverrides.
	MembersOverrides *AssistantOverrides `json:"membersOverrides,omitempty"`
	// CreatedAt is when the squad was created.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// UpdatedAt is when the squad last changed.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// SquadMember is one assistant of a squad: a saved one (AssistantID) or a
// transient one (Assistant).
type SquadMember struct {
	// AssistantID is the saved assistant of the member.
	AssistantID string `json:"assistantId,omitempty"`
	// Assistant is the member's transient assistant, decoded far enough to
	// read its prompts, messages and server.
	Assistant *Assistant `json:"assistant,omitempty"`
	// AssistantOverrides overrides the member's settings.
	AssistantOverrides *AssistantOverrides `json:"assistantOverrides,omitempty"`
}

// GetSquad reads a saved squad (GET /squad/{id}).
func (c *Client) GetSquad(ctx context.Context, id string) (*Squad, error) {
	if id == "" {
		return nil, fmt.Errorf("vapi: %s: empty id", OperationGetSquad)
	}
	var sq Squad
	req := request{op: OperationGetSquad, method: http.MethodGet, path: "/squad/" + url.PathEscape(id)}
	if err := c.do(ctx, req, &sq); err != nil {
		return nil, err
	}
	return &sq, nil
}
