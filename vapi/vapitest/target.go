package vapitest

import (
	"encoding/json"
	"net/http"

	"github.com/campaign-run/campaign/vapi"
)

// callTarget is what places a simulated call beside a saved assistant: a squad, a workflow or a
// transient assistant, and the assistant that starts the call (the saved or transient one, or
// the squad's first member; none for a workflow).
type callTarget struct {
	squadID      string
	workflowID   string
	assistantRaw json.RawMessage
	// overridesKey is where the call's overrides were sent and are echoed: assistantOverrides
	// (""), squadOverrides or workflowOverrides.
	overridesKey string
	assistant    vapi.Assistant
}

// MessageTargets is the 400 message of a POST /call that names more than one of assistantId,
// assistant, squadId and workflowId.
const MessageTargets = "Only one of `assistant`, `assistantId`, `squad`, `squadId`, `workflow` or `workflowId` may be given."

// callTarget resolves what places a call: the saved assistant, squad or workflow must exist
// (Vapi's 400 otherwise). msg is the 400 message; "" when the target is good.
func (s *Server) callTarget(dto vapi.CreateCallDTO) (callTarget, string) {
	named := 0
	for _, given := range []bool{dto.AssistantID != "", len(dto.Assistant) > 0, dto.SquadID != "", dto.WorkflowID != ""} {
		if given {
			named++
		}
	}
	if named > 1 {
		return callTarget{}, MessageTargets
	}
	switch {
	case dto.SquadID != "":
		sq, ok := s.squads[dto.SquadID]
		if !ok {
			return callTarget{}, "Couldn't Get Squad. `squadId` " + dto.SquadID + " Does Not Exist."
		}
		t := callTarget{squadID: dto.SquadID, overridesKey: "squadOverrides"}
		if len(sq.Members) > 0 {
			if m := sq.Members[0]; m.Assistant != nil {
				t.assistant = *m.Assistant
			} else {
				t.assistant = s.assistants[m.AssistantID]
			}
		}
		return t, ""
	case dto.WorkflowID != "":
		if len(s.workflowIDs) > 0 && !s.workflowIDs[dto.WorkflowID] {
			return callTarget{}, "Couldn't Get Workflow. `workflowId` " + dto.WorkflowID + " Does Not Exist."
		}
		return callTarget{workflowID: dto.WorkflowID, overridesKey: "workflowOverrides"}, ""
	case len(dto.Assistant) > 0:
		t := callTarget{assistantRaw: dto.Assistant}
		_ = json.Unmarshal(dto.Assistant, &t.assistant) // validated against CreateAssistantDTO already
		return t, ""
	case dto.AssistantID != "":
		a, ok := s.assistants[dto.AssistantID]
		if !ok {
			return callTarget{}, "Couldn't Get Assistant. `assistantId` " + dto.AssistantID + " Does Not Exist."
		}
		return callTarget{assistant: a}, ""
	}
	return callTarget{}, ""
}

func (s *Server) handleSquad(w http.ResponseWriter, _ *http.Request, id string) {
	sq, ok := s.squads[id]
	writeSaved(w, sq, ok, sq.CreatedAt, sq.UpdatedAt)
}
