package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a campaign looked up by id or name does not exist.
var ErrNotFound = errors.New("campaign not found")

// ErrContactNotFound is returned when a contact looked up by id does not exist (its campaign
// was deleted).
var ErrContactNotFound = errors.New("contact not found")

// ErrNameTaken is returned when a new campaign's name is already used.
var ErrNameTaken = errors.New("a campaign with that name already exists")

// NameTakenError is ErrNameTaken with what holds the name: a campaign in Status, and for a draft
// whether it was imported from another file (a draft of the same file is replaced, see Import).
type NameTakenError struct {
	Name      string
	Status    Status
	OtherFile bool
}

func (e *NameTakenError) Error() string { return fmt.Sprintf("campaign %q: %v", e.Name, ErrNameTaken) }

// Unwrap returns ErrNameTaken.
func (e *NameTakenError) Unwrap() error { return ErrNameTaken }

// Store keeps campaigns, contacts, attempts, webhook events and the suppression list in Postgres.
// All application SQL lives in this package.
type Store struct {
	pool *pgxpool.Pool
	// importSlots holds a token for each Import running on this Store: at most cap of them at
	// once (see importSlotsFor).
	importSlots chan struct{}
}

// NewStore returns a Store on pool. The schema must be migrated (package migrations).
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, importSlots: make(chan struct{}, importSlotsFor(pool))}
}

// NewCampaign is what a campaign is created with; the CSV layout comes from the import.
type NewCampaign struct {
	Name       string
	SourceFile string
	Mode       Mode // "" = ModeForeground
	Settings
}

const campaignColumns = `id, name, status, mode, source_file, columns, delimiter, phone_column, name_column,
	time_zone_column, external_id_column, variable_columns, assistant_id, phone_number_id, overrides,
	public_url, webhook_secret, window_spec, default_time_zone, default_region, rate_per_second,
	max_concurrent, retry_policy, max_attempts, callback_key, do_not_call_key, retry_time_scale,
	webhooks, keep_server, server_messages, max_cost::float8, paused_reason, squad_id, workflow_id, assistant,
	predial_url, overrides_column, import_stats, created_at, updated_at, notify_url, notify_spike, target_column,
	start_at, end_by, phone_number_ids, number_strategy, coalesce(per_number_max_concurrent, 0),
	coalesce(per_number_daily_cap, 0), new_number_on_retry, phone_number_column`

func scanCampaign(row pgx.Row) (*Campaign, error) {
	var (
		c         Campaign
		delimiter string
		stats     []byte
		varCols   []int32
	)
	err := row.Scan(&c.ID, &c.Name, &c.Status, &c.Mode, &c.SourceFile, &c.Columns, &delimiter, &c.PhoneColumn,
		&c.NameColumn, &c.TimeZoneColumn, &c.ExternalIDColumn, &varCols, &c.AssistantID, &c.PhoneNumberID,
		&c.Overrides, &c.PublicURL, &c.WebhookSecret, &c.WindowSpec, &c.DefaultTimeZone, &c.DefaultRegion,
		&c.RatePerSecond, &c.MaxConcurrent, &c.RetryPolicy, &c.MaxAttempts, &c.CallbackKey, &c.DoNotCallKey,
		&c.RetryTimeScale, &c.Webhooks, &c.KeepServer, &c.ServerMessages, &c.MaxCostUSD, &c.PausedReason,
		&c.SquadID, &c.WorkflowID, &c.Assistant, &c.PredialURL, &c.OverridesColumn, &stats, &c.CreatedAt, &c.UpdatedAt,
		&c.NotifyURL, &c.NotifySpike, &c.TargetColumn, &c.StartAt, &c.EndBy,
		&c.PhoneNumberIDs, &c.NumberStrategy, &c.PerNumberMaxConcurrent, &c.PerNumberDailyCap, &c.NewNumberOnRetry,
		&c.PhoneNumberColumn)
	if err != nil {
		return nil, err
	}
	for _, r := range delimiter {
		c.Delimiter = r
		break
	}
	for _, v := range varCols {
		c.VariableColumns = append(c.VariableColumns, int(v))
	}
	if err := json.Unmarshal(stats, &c.ImportStats); err != nil {
		return nil, fmt.Errorf("decode import stats: %w", err)
	}
	return &c, nil
}

// Campaign returns the campaign with the given id.
func (s *Store) Campaign(ctx context.Context, id int64) (*Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaign WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load campaign %d: %w", id, err)
	}
	return c, nil
}

// CampaignByRef returns the campaign named ref, or else the one whose id is ref.
func (s *Store) CampaignByRef(ctx context.Context, ref string) (*Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaign WHERE name = $1`, ref))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("load campaign %q: %w", ref, err)
	}
	id, convErr := strconv.ParseInt(ref, 10, 64)
	if convErr != nil {
		return nil, fmt.Errorf("campaign %q: %w", ref, ErrNotFound)
	}
	return s.Campaign(ctx, id)
}

// FreeCampaignName returns base if no campaign has that name, else base-2, base-3, … the first
// that is free.
func (s *Store) FreeCampaignName(ctx context.Context, base string) (string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM campaign WHERE name = $1 OR name LIKE $2`,
		base, strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(base)+"-%")
	if err != nil {
		return "", fmt.Errorf("find a free campaign name: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("find a free campaign name: %w", err)
	}
	used := make(map[string]bool, len(taken))
	for _, n := range taken {
		used[n] = true
	}
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name, nil
}

const contactColumns = `id, campaign_id, line, phone, name, external_id, time_zones, time_zone_source,
	fields, state, outcome, attempts, next_attempt_at, predial_failures, predial_reason`

func scanContact(row pgx.Row) (Contact, error) {
	var c Contact
	err := row.Scan(&c.ID, &c.CampaignID, &c.Line, &c.Phone, &c.Name, &c.ExternalID, &c.TimeZones,
		&c.TimeZoneSource, &c.Fields, &c.State, &c.Outcome, &c.Attempts, &c.NextAttemptAt, &c.PredialFailures, &c.PredialReason)
	return c, err
}

// collectContact is scanContact for pgx.CollectRows.
func collectContact(row pgx.CollectableRow) (Contact, error) { return scanContact(row) }

// Contact returns one contact by id.
func (s *Store) Contact(ctx context.Context, id int64) (*Contact, error) {
	c, err := scanContact(s.pool.QueryRow(ctx, `SELECT `+contactColumns+` FROM contact WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("contact %d: %w", id, ErrContactNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load contact %d: %w", id, err)
	}
	return &c, nil
}

// Contacts returns up to limit contacts of a campaign in file order (ids follow the file).
func (s *Store) Contacts(ctx context.Context, campaignID int64, limit int) ([]Contact, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+contactColumns+` FROM contact WHERE campaign_id = $1 ORDER BY id LIMIT $2`,
		campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	contacts, err := pgx.CollectRows(rows, collectContact)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return contacts, nil
}

// ZoneCount is how many contacts of a campaign share one set of time zones.
type ZoneCount struct {
	TimeZones []string
	Contacts  int
}

// TimeZoneCounts returns the time-zone distribution of a campaign's contacts, largest first.
func (s *Store) TimeZoneCounts(ctx context.Context, campaignID int64) ([]ZoneCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT time_zones, count(*) FROM contact WHERE campaign_id = $1
		GROUP BY time_zones ORDER BY count(*) DESC, time_zones`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("count time zones: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ZoneCount, error) {
		var z ZoneCount
		err := row.Scan(&z.TimeZones, &z.Contacts)
		return z, err
	})
	if err != nil {
		return nil, fmt.Errorf("count time zones: %w", err)
	}
	return counts, nil
}

// isForeignKeyViolation reports whether err is a violation of foreign key constraint.
func isForeignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == constraint
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// CampaignNames returns the names of the campaigns that start with prefix, newest first (for
// shell completion).
func (s *Store) CampaignNames(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM campaign WHERE starts_with(name, $1) ORDER BY id DESC`, prefix)
	if err != nil {
		return nil, fmt.Errorf("list campaign names: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list campaign names: %w", err)
	}
	return names, nil
}
