package campaign

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// targetColumnNames are the headers of the per-row target column found without
// ReaderOptions.TargetColumn. In a column named squad_id a bare id is a squad's.
var targetColumnNames = []string{"assistant_id", "squad_id"}

// vapiIDPattern is the shape of a Vapi id: a uuid, the format of the {id} of GET /assistant/{id}
// and GET /squad/{id} in Vapi's OpenAPI document.
var vapiIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// MaxRowTargets bounds the distinct targets of one campaign's target column, each of which the
// pre-flight reads from Vapi (a squad with its members).
const MaxRowTargets = 50

// RowTarget is what places one contact's calls when its row names it in the campaign's target
// column: a saved assistant or a saved squad.
type RowTarget struct {
	Kind TargetKind // TargetAssistant or TargetSquad
	ID   string
}

// String is the target as a target cell writes it with its prefix: "squad:<id>".
func (t RowTarget) String() string { return string(t.Kind) + ":" + t.ID }

// Label names the target for people: "squad <id>".
func (t RowTarget) Label() string { return string(t.Kind) + " " + t.ID }

// ParseRowTarget reads a target cell: "assistant:<id>", "squad:<id>" (the prefix in any case,
// spaces around its parts ignored) or a bare id, which is an assistant's unless the column is
// named squad_id (squadColumn). An empty cell is the zero RowTarget (the campaign's own
// target). The id must be a uuid, the form of Vapi's ids; it is returned in lower case.
func ParseRowTarget(cell string, squadColumn bool) (RowTarget, error) {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return RowTarget{}, nil
	}
	t := RowTarget{Kind: TargetAssistant, ID: cell}
	if squadColumn {
		t.Kind = TargetSquad
	}
	if prefix, id, ok := strings.Cut(cell, ":"); ok {
		switch strings.ToLower(strings.TrimSpace(prefix)) {
		case string(TargetAssistant):
			t.Kind = TargetAssistant
		case string(TargetSquad):
			t.Kind = TargetSquad
		default:
			return RowTarget{}, fmt.Errorf("%q: the prefix must be assistant: or squad:", cell)
		}
		t.ID = strings.TrimSpace(id)
	}
	t.ID = strings.ToLower(t.ID) // a uuid's canonical form, so one target is read and sent one way
	if !vapiIDPattern.MatchString(t.ID) {
		article := "a"
		if t.Kind == TargetAssistant {
			article = "an"
		}
		return RowTarget{}, fmt.Errorf("%q is not %s %s id: Vapi's ids are uuids such as 3f0c1a2b-7d4e-4f5a-9b6c-1d2e3f4a5b6c", cell, article, t.Kind)
	}
	return t, nil
}

// isSquadColumn reports whether a target column's header makes its bare ids squads'.
func isSquadColumn(header string) bool { return columnKey(header) == columnKey("squad_id") }

// RowTarget returns the contact's own target from the campaign's target column: the zero
// RowTarget when the campaign has none or the cell is empty (the campaign's target places
// the call). The cell was checked at import.
func (c *Campaign) RowTarget(ct *Contact) (RowTarget, error) {
	if c.TargetColumn == nil || *c.TargetColumn < 0 || *c.TargetColumn >= len(ct.Fields) || *c.TargetColumn >= len(c.Columns) {
		return RowTarget{}, nil
	}
	t, err := ParseRowTarget(ct.Fields[*c.TargetColumn], isSquadColumn(c.Columns[*c.TargetColumn]))
	if err != nil {
		return RowTarget{}, fmt.Errorf("contact on line %d: target column: %w", ct.Line, err)
	}
	return t, nil
}

// ContactSettings returns the settings a contact's calls are placed with: the campaign's, with
// the row's own target, if it names one, in place of the campaign's.
func (c *Campaign) ContactSettings(ct *Contact) (Settings, error) {
	s := c.Settings
	t, err := c.RowTarget(ct)
	if err != nil || t.Kind == TargetNone {
		return s, err
	}
	s.AssistantID, s.SquadID, s.WorkflowID, s.Assistant = "", "", "", nil
	if t.Kind == TargetSquad {
		s.SquadID = t.ID
	} else {
		s.AssistantID = t.ID
	}
	return s, nil
}

// RowTargets returns the distinct targets the campaign's contacts name in its target column,
// in the order of their first appearance in the file; nil without a target column. More than
// limit distinct targets is an error.
func (s *Store) RowTargets(ctx context.Context, c *Campaign, limit int) ([]RowTarget, error) {
	if c.TargetColumn == nil || *c.TargetColumn < 0 || *c.TargetColumn >= len(c.Columns) {
		return nil, nil
	}
	// Cells are compared without spaces or case: a target is written at most two ways then (bare
	// and with its prefix), so 2×limit+1 distinct cells always hold more than limit targets.
	cells, err := s.distinctCells(ctx, c.ID, *c.TargetColumn, 2*limit+1)
	if err != nil {
		return nil, fmt.Errorf("row targets: %w", err)
	}
	squadColumn := isSquadColumn(c.Columns[*c.TargetColumn])
	var out []RowTarget
	for _, cell := range cells {
		t, err := ParseRowTarget(cell, squadColumn)
		if err != nil {
			return nil, fmt.Errorf("row targets: %w", err)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: the target column %q names more than %d distinct assistants and squads; split the file into campaigns",
			ErrTooManyTargets, c.Columns[*c.TargetColumn], limit)
	}
	return out, nil
}

// distinctCells returns the distinct non-empty cells of column col (0-based) of a campaign's
// contacts, without spaces and in lower case, in the order of their first appearance in the
// file: at most max of them.
func (s *Store) distinctCells(ctx context.Context, campaignID int64, col, max int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT cell FROM (
			SELECT lower(regexp_replace(coalesce(fields[$2], ''), '\s', '', 'g')) AS cell, min(line) AS first
			FROM contact WHERE campaign_id = $1
			GROUP BY 1) cells
		WHERE cell <> ''
		ORDER BY first LIMIT $3`,
		campaignID, col+1, max)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ErrTooManyTargets is a target column naming more distinct targets than a campaign takes.
var ErrTooManyTargets = errors.New("too many targets")
