package samples

import (
	"strconv"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
)

// OkdeskFormat selects an Okdesk webhook wire format.
type OkdeskFormat int

const (
	// OkdeskFormatSeed is the seed document's format: event.event_type
	// "issue.status_changed", integer ids, new status in issue.status and
	// old in issue.old_status.
	OkdeskFormatSeed OkdeskFormat = iota
	// OkdeskFormatVendor is Okdesk's own: event_type "new_ticket_status",
	// event.author, event.old_status/new_status, string ids.
	OkdeskFormatVendor
)

func (f OkdeskFormat) String() string {
	if f == OkdeskFormatVendor {
		return "vendor"
	}
	return "seed"
}

// OkdeskIssue is the issue data a status change carries.
type OkdeskIssue struct {
	ID           int64
	Title        string
	ContactID    int64
	CompanyID    int64
	AssigneeID   int64
	AssigneeName string
}

// OkdeskContactName is the contact's name a vendor payload carries.
type OkdeskContactName struct {
	FirstName, LastName string
}

// OkdeskStatusChange is one status change of an issue.
type OkdeskStatusChange struct {
	Issue   OkdeskIssue
	Contact *OkdeskContactName // nil: only Issue.ContactID is sent
	Old     okdesk.Status
	New     okdesk.Status
	Author  okdesk.Author // vendor format only; zero means employee 1
}

// OkdeskStatusChangePayload renders a status change webhook body in
// format f.
func OkdeskStatusChangePayload(f OkdeskFormat, ch OkdeskStatusChange) []byte {
	st := func(s okdesk.Status) map[string]any { return map[string]any{"code": s.Code, "name": s.Name} }
	is := ch.Issue
	if f == OkdeskFormatVendor {
		id := func(v int64) string { return strconv.FormatInt(v, 10) }
		author := ch.Author
		if author.ID == 0 {
			author = okdesk.Author{ID: 1, Type: okdesk.AuthorEmployee}
		}
		client := map[string]any{}
		if is.CompanyID != 0 {
			client["company"] = map[string]any{"id": id(is.CompanyID)}
		}
		if is.ContactID != 0 {
			contact := map[string]any{"id": id(is.ContactID)}
			if c := ch.Contact; c != nil {
				contact["first_name"], contact["last_name"] = c.FirstName, c.LastName
			}
			client["contact"] = contact
		}
		issue := map[string]any{"id": id(is.ID), "title": is.Title, "status": st(ch.New), "client": client}
		if is.AssigneeID != 0 {
			issue["assignee"] = map[string]any{"id": id(is.AssigneeID), "name": is.AssigneeName}
		}
		return mustJSON("OkdeskStatusChangePayload", map[string]any{
			"event": map[string]any{
				"event_type": okdesk.EventNewTicketStatus,
				"author":     map[string]any{"id": id(author.ID), "type": author.Type},
				"old_status": st(ch.Old),
				"new_status": st(ch.New),
			},
			"issue": issue,
		})
	}
	client := map[string]any{}
	if is.ContactID != 0 {
		client["contact"] = map[string]any{"id": is.ContactID}
	}
	if is.CompanyID != 0 {
		client["company"] = map[string]any{"id": is.CompanyID}
	}
	return mustJSON("OkdeskStatusChangePayload", map[string]any{
		"event": map[string]any{"event_type": okdesk.EventStatusChanged},
		"issue": map[string]any{
			"id": is.ID, "title": is.Title,
			"status": st(ch.New), "old_status": st(ch.Old),
			"client": client,
		},
	})
}

// OkdeskStatusNames are the Russian names Okdesk shows for its system
// status codes (accounts may add their own codes).
var OkdeskStatusNames = map[string]string{
	"opened": "Открыта", "in_progress": "В работе", "delayed": "Отложена",
	"completed": "Решена", "closed": "Закрыта",
}

// OkdeskStatus is a status with its name (the code itself when unknown).
func OkdeskStatus(code string) okdesk.Status {
	name := OkdeskStatusNames[code]
	if name == "" {
		name = code
	}
	return okdesk.Status{Code: code, Name: name}
}
