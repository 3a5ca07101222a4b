package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// FileImport is a CSV file to import as a new draft campaign: the first step of every
// `campaign run`, dry or not.
type FileImport struct {
	// Reader reads the file; NewReader has read and checked its header.
	Reader *Reader
	// Source names the input: a path, or "stdin". It is the campaign's source file, the prefix
	// of errors about the file, and the base of its default name.
	Source string
	// Name is the campaign's name; "" means a free name made of Source and Now (see
	// DefaultCampaignName and Store.FreeCampaignName).
	Name string
	Mode Mode
	// Settings are the campaign's settings; an empty WebhookSecret gets a new random one.
	Settings Settings
	// Suppress lists numbers (E.164) not to import, on top of the stored suppression list.
	Suppress []string
	// Rejects receives the rejected rows, as CSV in the file's own columns and delimiter; it is
	// written (and flushed) only when some row was rejected. RejectsPath names it, and is
	// recorded with the campaign.
	Rejects     io.Writer
	RejectsPath string
	// Now is the time of the import, for the default name.
	Now time.Time
}

// ImportFile imports f as a new draft campaign (see Import) and returns it. A file without data
// rows fails with ErrNoDataRows, prefixed with f.Source; a name already taken fails with a
// *NameTakenError.
func (s *Store) ImportFile(ctx context.Context, f FileImport) (*Campaign, error) {
	name := f.Name
	if name == "" {
		var err error
		if name, err = s.FreeCampaignName(ctx, DefaultCampaignName(f.Source, f.Now)); err != nil {
			return nil, err
		}
	}
	settings := f.Settings
	if settings.WebhookSecret == "" {
		settings.WebhookSecret = newWebhookSecret()
	}
	hdr := f.Reader.Header()
	rejects := NewRejectsWriter(f.Rejects, hdr.Columns, hdr.Delimiter)
	c, err := s.Import(ctx, NewCampaign{Name: name, SourceFile: f.Source, Mode: f.Mode, Settings: settings},
		ImportInput{Reader: f.Reader, Rejects: rejects, Suppress: f.Suppress, RejectsPath: f.RejectsPath})
	if errors.Is(err, ErrNoDataRows) {
		return nil, fmt.Errorf("%s: %w; nothing was imported", f.Source, err)
	}
	if err != nil {
		return nil, err
	}
	if c.ImportStats.RejectedTotal() > 0 {
		if err := rejects.Flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.RejectsPath, err)
		}
	}
	return c, nil
}

// DefaultCampaignName is the name of a campaign imported from file at now when none is given:
// the file's base name and the time (UTC), e.g. customers-20261122-153012.
func DefaultCampaignName(file string, now time.Time) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	return base + "-" + now.UTC().Format("20060102-150405")
}

// newWebhookSecret returns a random webhook secret, for a campaign given none.
func newWebhookSecret() string {
	buf := make([]byte, 24)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(buf)
}

// ZoneOpening is one set of time zones shared by some contacts of a campaign, and when they may
// first be called.
type ZoneOpening struct {
	TimeZones []string
	Contacts  int
	// FirstCallable is the first instant at or after now inside the window in all the zones;
	// zero when the contacts fail instead (Fail). Location is the first of the zones, to show it
	// in local time.
	FirstCallable time.Time
	Location      *time.Location
	// CallableNow is true when the window is open in these zones at now.
	CallableNow bool
	// Fail is the outcome the runner fails these contacts with instead of calling them
	// (CallingHours.Decide): OutcomeInvalidTimeZone for a zone this machine cannot load,
	// OutcomeNoCallingWindow when the zones' windows never overlap; "" when they are called.
	Fail Outcome
}

// ZoneOpenings returns, for each set of time zones the contacts of campaign c have (largest
// first), what hours decide for them at now: when they are first called, or the outcome they
// fail with.
func (s *Store) ZoneOpenings(ctx context.Context, c *Campaign, hours CallingHours, now time.Time) ([]ZoneOpening, error) {
	var openings []ZoneOpening
	zones, err := s.TimeZoneCounts(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, z := range zones {
		zr := ZoneOpening{TimeZones: z.TimeZones, Contacts: z.Contacts}
		d := hours.Decide(z.TimeZones, now)
		zr.Fail = d.FailOutcome
		if d.FailOutcome == "" {
			zr.FirstCallable, zr.CallableNow = d.DeferUntil, d.Queue
			if d.Queue {
				zr.FirstCallable = now
			}
			loc, err := LoadTimeZone(z.TimeZones[0]) // Decide has loaded it: no error expected
			if err != nil {
				return nil, fmt.Errorf("time zone of stored contacts: %w", err)
			}
			zr.Location = loc
		}
		openings = append(openings, zr)
	}
	return openings, nil
}
