package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/store"
)

// ---- Okdesk: per-issue events ----

// OkdeskApplyEvents applies an issue's recorded webhooks in id order,
// exactly once: it keeps the issue's status, counts resolutions and queues
// a rating request for each transition into RATING_STATUSES (a
// cancellation for each transition out of them). It returns every action
// of the issue workflow not done yet.
func (a *Ratings) OkdeskApplyEvents(ctx context.Context, in EntityApply) (EntityActions, error) {
	return a.applyEvents(ctx, in, a.applyOkdesk)
}

func (a *Ratings) applyOkdesk(ctx context.Context, tx pgx.Tx, ev store.InboundEvent) (store.EventOutcome, error) {
	w, err := okdesk.ParseWebhook(ev.Payload)
	if err != nil { // accepted once, so only if the parser changed since
		return store.EventOutcome{Outcome: "failed", Error: err.Error()}, nil
	}
	is, err := store.LockOkdeskIssue(ctx, tx, w.IssueID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	known := is != nil
	if !known {
		is = &store.OkdeskIssue{IssueID: w.IssueID}
	}
	if w.Title != "" {
		is.Title = w.Title
	}
	if w.ContactID != 0 {
		is.ContactID = w.ContactID
	}
	if w.CompanyID != 0 {
		is.CompanyID = w.CompanyID
	}
	if w.AssigneeID != 0 {
		is.AssigneeID = w.AssigneeID
	}
	is.LastEventID = ev.ID
	out := store.EventOutcome{Outcome: "recorded"}
	if w.Kind == okdesk.KindStatusChanged {
		out, err = a.applyStatusChange(ctx, tx, ev, w, is, known)
		if err != nil {
			return store.EventOutcome{}, err
		}
	}
	return out, store.SaveOkdeskIssue(ctx, tx, *is)
}

func (a *Ratings) applyStatusChange(ctx context.Context, tx pgx.Tx, ev store.InboundEvent, w okdesk.Webhook, is *store.OkdeskIssue, known bool) (store.EventOutcome, error) {
	prev := is.Status
	if !known || prev == "" {
		prev = w.OldStatus.Code
	}
	next := w.NewStatus.Code
	is.Status = next
	if known && prev == next {
		return store.EventOutcome{Outcome: "unchanged", Error: "the issue's status is " + next + " already"}, nil
	}
	was, now := a.Config.AsksForRating(prev), a.Config.AsksForRating(next)
	switch {
	case now && !was:
		is.Resolutions++
		in := RatingInput{IssueID: is.IssueID, Resolution: is.Resolutions, WorkflowID: RatingWorkflowID(is.IssueID, is.Resolutions),
			ReminderAfter: a.Config.ReminderAfter, TTL: a.Config.TTL}
		id, err := store.InsertRatingRequest(ctx, tx, store.RatingRequest{IssueID: is.IssueID, Resolution: is.Resolutions,
			WorkflowID: in.WorkflowID, Title: is.Title, Status: next, ContactID: is.ContactID, CompanyID: is.CompanyID,
			AssigneeID: is.AssigneeID, EventID: ev.ID})
		if err != nil {
			return store.EventOutcome{}, err
		}
		in.RequestID = id
		if err := store.InsertAction(ctx, tx, ev.WorkflowID, ActionStartRating, in, ev.ID); err != nil {
			return store.EventOutcome{}, err
		}
		return store.EventOutcome{Outcome: "rating_requested"}, nil
	case was && !now:
		open, err := store.OpenRatingRequest(ctx, tx, is.IssueID)
		if err != nil {
			return store.EventOutcome{}, err
		}
		if open == nil {
			return store.EventOutcome{Outcome: "reopened"}, nil
		}
		if err := store.InsertAction(ctx, tx, ev.WorkflowID, ActionCancelRating, map[string]any{"workflow_id": open.WorkflowID}, ev.ID); err != nil {
			return store.EventOutcome{}, err
		}
		return store.EventOutcome{Outcome: "reopened", Error: "cancels " + open.WorkflowID}, nil
	case was && now:
		return store.EventOutcome{Outcome: "still_resolved", Error: prev + " → " + next + ": asked already for this resolution"}, nil
	}
	return store.EventOutcome{Outcome: "recorded"}, nil
}

// ---- Okdesk: the chat's link_phone and create_issue actions ----

// phoneVariants are the spellings tried against Okdesk's exact phone
// search: as shared, with and without "+".
func phoneVariants(phone string) []string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	out := []string{}
	for _, v := range []string{strings.TrimSpace(phone), "+" + digits, digits} {
		if v == "" || v == "+" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// okdeskMissing answers the chat with text and fails the action for good:
// without Okdesk neither a phone link nor a new issue can be made.
func (a *Ratings) okdeskMissing(ctx context.Context, chatID int64, text, keyboard string) error {
	if err := a.send(ctx, chatID, text, keyboard); err != nil {
		return err
	}
	return temporal.NewNonRetryableApplicationError("Okdesk is not configured: set OKDESK_API_URL and OKDESK_API_TOKEN", ErrTypeRatingsNotConfigured, nil)
}

func (a *Ratings) linkPhone(ctx context.Context, p linkPhonePayload) error {
	t := a.texts
	if a.Okdesk == nil {
		return a.okdeskMissing(ctx, p.ChatID, t.PhoneNotFound, keyboardRemove)
	}
	var contact *okdesk.Contact
	for _, v := range phoneVariants(p.Phone) {
		c, err := a.Okdesk.FindContactByPhone(ctx, v)
		if errors.Is(err, okdesk.ErrNotFound) {
			continue
		}
		if err != nil {
			return OkdeskActivityError(err)
		}
		contact = c
		break
	}
	if contact == nil {
		return a.send(ctx, p.ChatID, t.PhoneNotFound, keyboardRemove)
	}
	if err := store.LinkChat(ctx, a.Store.Pool, p.ChatID, contact.ID, "phone", p.Phone); err != nil {
		return err
	}
	if err := a.send(ctx, p.ChatID, t.Linked, keyboardRemove); err != nil {
		return err
	}
	return a.send(ctx, p.ChatID, t.Help, keyboardMenu)
}

func (a *Ratings) createIssue(ctx context.Context, act store.RatingAction, p createIssuePayload) error {
	t := a.texts
	if a.Okdesk == nil {
		return a.okdeskMissing(ctx, p.ChatID, t.IssueFailed, keyboardNone)
	}
	var res struct {
		IssueID int64 `json:"issue_id"`
	}
	if len(act.Result) > 0 {
		_ = json.Unmarshal(act.Result, &res)
	}
	if res.IssueID == 0 {
		id, err := a.Okdesk.CreateIssue(ctx, okdesk.IssueInput{Title: issueTitle(p.Description, t), Description: p.Description, ContactID: p.ContactID})
		if err != nil {
			if okdesk.IsRetryable(err) {
				return OkdeskActivityError(err)
			}
			if serr := a.send(ctx, p.ChatID, t.IssueFailed, keyboardMenu); serr != nil {
				return serr
			}
			return OkdeskActivityError(err)
		}
		res.IssueID = id
		if err := a.Store.SetActionResult(ctx, act.ID, res); err != nil {
			return err
		}
	}
	if err := a.Store.TieIssueToChat(ctx, res.IssueID, p.ChatID, p.ContactID); err != nil {
		return err
	}
	return a.send(ctx, p.ChatID, fmt.Sprintf(t.IssueCreated, res.IssueID), keyboardNone)
}

// issueTitle is the description's first line, cut to 80 characters.
func issueTitle(description string, t ratingTexts) string {
	line := strings.TrimSpace(strings.SplitN(strings.TrimSpace(description), "\n", 2)[0])
	if line == "" {
		return t.IssueTitleFallback
	}
	if utf8.RuneCountInString(line) > 80 {
		r := []rune(line)
		line = strings.TrimSpace(string(r[:79])) + "…"
	}
	return line
}
