package main

import (
	"github.com/spf13/pflag"

	"github.com/campaign-run/campaign/campaign"
)

// columnFlags say how a CSV's columns are read: the same for `campaign run FILE` and
// `campaign call --from-file FILE`, so a test call reads a row as the run does.
type columnFlags struct {
	PhoneColumn      string
	NameColumn       string
	TimeZoneColumn   string
	ExternalIDColumn string
	OverridesColumn  string
	TargetColumn     string
	// PhoneNumberColumn names the column of each contact's own caller number.
	PhoneNumberColumn string
	Delimiter         string
	DefaultRegion     string
}

// addColumnFlags defines the column flags on f; regionHelp is --default-region's help.
func addColumnFlags(f *pflag.FlagSet, c *columnFlags, regionHelp string) {
	f.StringVar(&c.PhoneColumn, "phone-column", "", "header of the phone number column (default: found among phone, phone_number, number, mobile, to, …)")
	f.StringVar(&c.NameColumn, "name-column", "", "header of the customer name column (default: name, full_name, … if present)")
	f.StringVar(&c.TimeZoneColumn, "timezone-column", "", "header of an IANA time zone column (default: timezone, time_zone or tz if present)")
	f.StringVar(&c.ExternalIDColumn, "external-id-column", "", "header of your own id column (default: external_id, customer_id, … if present)")
	f.StringVar(&c.OverridesColumn, "overrides-column", "", "header of the column of per-contact assistantOverrides JSON objects, merged over --overrides (default: assistant_overrides if present)")
	f.StringVar(&c.TargetColumn, "target-column", "", "header of the column naming each contact's own assistant or squad (assistant:ID, squad:ID or a bare ID), used instead of the campaign's (default: assistant_id or squad_id if present)")
	f.StringVar(&c.PhoneNumberColumn, "phone-number-column", "", "header of the column naming each contact's own Vapi phone number id to call from, used instead of the pool's choice (default: phone_number_id if present)")
	f.StringVar(&c.Delimiter, "delimiter", "", `field separator: ",", ";", "tab" or "|" (default: detected from the header)`)
	f.StringVar(&c.DefaultRegion, "default-region", "US", regionHelp)
}

// headerOptions are the reader options that find the columns of the file's header.
func (c *columnFlags) headerOptions() campaign.ReaderOptions {
	delimiter, _ := parseDelimiter(c.Delimiter) // validated already
	return campaign.ReaderOptions{
		PhoneColumn: c.PhoneColumn, NameColumn: c.NameColumn, TimeZoneColumn: c.TimeZoneColumn,
		ExternalIDColumn: c.ExternalIDColumn, OverridesColumn: c.OverridesColumn, TargetColumn: c.TargetColumn,
		PhoneNumberColumn: c.PhoneNumberColumn, Delimiter: delimiter,
	}
}
