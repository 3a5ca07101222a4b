// Package vapi is a small typed client for the parts of the Vapi REST API
// (https://api.vapi.ai) that the campaign runner uses, and the wire types of
// the server messages (webhooks) Vapi posts back.
//
// Endpoints: POST /call ([Client.CreateCall]), GET /call/{id}
// ([Client.GetCall]), GET /call ([Client.ListCalls]), POST /analytics
// ([Client.Analytics]), GET /assistant/{id} ([Client.GetAssistant]) and
// GET /phone-number/{id} ([Client.GetPhoneNumber]).
//
// Requests marshal only the fields that were set: Vapi rejects unknown
// properties ("property X should not exist"), so every optional field is
// omitted when empty. Responses and server messages are decoded leniently:
// enum values are plain strings (Vapi adds values often), a message
// timestamp may be a number or a string, times are floats, and unknown
// fields are ignored.
//
// The client never retries. Every failure is either an [*APIError] (Vapi
// answered with a non-2xx status) or a [*RequestError] (no usable answer),
// and [Classify] maps any error to an [ErrorClass] so that the caller can
// decide: wait and retry, re-queue, give up, or (after a failed POST /call)
// look the call up before dialling again.
package vapi
