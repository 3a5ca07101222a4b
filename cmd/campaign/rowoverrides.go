package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/jobs"
)

// overridesSchema is the schema a contact's overrides, merged over the campaign's, must meet.
const overridesSchema = "AssistantOverrides"

// rowOverridesCheck returns the import's check of a row's overrides cell (see
// campaign.ReaderOptions.CheckOverrides): the cell deep-merged over the campaign's overrides
// must validate strictly against Vapi's AssistantOverrides schema (the committed OpenAPI
// subset), and a workflow's calls take only variableValues. So a row whose overrides Vapi
// would refuse is rejected at import (bad_overrides) instead of failing its call.
func rowOverridesCheck(campaignOverrides json.RawMessage, workflowID string) (func(json.RawMessage) error, error) {
	spec, err := vapispec.Parse(vapispec.SubsetFile, vapispec.CommittedSubset())
	if err != nil {
		return nil, fmt.Errorf("load the Vapi schema: %w", err)
	}
	return func(row json.RawMessage) error {
		merged, err := jobs.MergeOverrides(campaignOverrides, row)
		if err != nil {
			return err
		}
		if msgs := spec.RequestMessages(overridesSchema, merged); len(msgs) > 0 {
			return errors.New("not valid assistantOverrides: " + strings.Join(msgs, "; "))
		}
		return jobs.CheckOverrides(&campaign.Settings{WorkflowID: workflowID, Overrides: merged})
	}, nil
}

// overridesColumn is the campaign's overrides column of a header: nil when it has none.
func overridesColumn(h campaign.Header) *int {
	if h.Overrides < 0 {
		return nil
	}
	i := h.Overrides
	return &i
}

// targetColumn is the campaign's target column of a header: nil when it has none.
func targetColumn(h campaign.Header) *int {
	if h.Target < 0 {
		return nil
	}
	i := h.Target
	return &i
}

// phoneNumberColumn is the campaign's caller number column of a header: nil when it has none.
func phoneNumberColumn(h campaign.Header) *int {
	if h.CallerNumber < 0 {
		return nil
	}
	i := h.CallerNumber
	return &i
}

// fileHasTargetColumn reports whether the CSV file has a per-row target column (named by
// opts.TargetColumn, or found by its header), reading its header only: a campaign-level target
// is then optional. False for stdin, and for a file that cannot be read (the import says why).
func fileHasTargetColumn(file string, opts campaign.ReaderOptions) bool {
	h, ok := fileHeader(file, opts)
	if !ok {
		return opts.TargetColumn != "" && (file == "" || file == stdinFile)
	}
	return h.Target >= 0
}

// fileHasPhoneNumberColumn reports whether the CSV file has a per-row caller number column
// (named by opts.PhoneNumberColumn, or found by its header), as fileHasTargetColumn does: the
// campaign's own phone number is then optional.
func fileHasPhoneNumberColumn(file string, opts campaign.ReaderOptions) bool {
	h, ok := fileHeader(file, opts)
	if !ok {
		return opts.PhoneNumberColumn != "" && (file == "" || file == stdinFile)
	}
	return h.CallerNumber >= 0
}

// fileHeader reads the header of the CSV file; false for stdin (or no file), and for a file that
// cannot be read.
func fileHeader(file string, opts campaign.ReaderOptions) (campaign.Header, bool) {
	if file == "" || file == stdinFile {
		return campaign.Header{}, false
	}
	f, err := os.Open(file)
	if err != nil {
		return campaign.Header{}, false
	}
	defer f.Close()
	rd, err := campaign.NewReader(f, opts)
	if err != nil {
		return campaign.Header{}, false
	}
	return rd.Header(), true
}
