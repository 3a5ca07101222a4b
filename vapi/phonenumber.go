package vapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// GetPhoneNumber reads a phone number (GET /phone-number/{id}).
func (c *Client) GetPhoneNumber(ctx context.Context, id string) (*PhoneNumber, error) {
	if id == "" {
		return nil, fmt.Errorf("vapi: %s: empty id", OperationGetPhoneNumber)
	}
	var p PhoneNumber
	req := request{op: OperationGetPhoneNumber, method: http.MethodGet, path: "/phone-number/" + url.PathEscape(id)}
	if err := c.do(ctx, req, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
