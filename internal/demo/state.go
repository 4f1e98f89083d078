package demo

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

// State is what the fakes hold, for the demo page: newest last.
type State struct {
	Chats       []Chat
	Issues      []okdesktest.Issue
	Comments    []okdesktest.RecordedComment
	Orders      []Order
	Updates     []string // sale.order.update calls hookflow made (back sync), as "order 236: statusId S"
	Jobs        []SubmittedJob
	Callbacks   []Callback
	SimplyPrint []Delivery
}

// Chat is one chat of the fake Telegram.
type Chat struct {
	ID       int64
	Messages []Message
}

// Message is a message the bot sent, as it stands after edits.
type Message struct {
	ID      int
	Text    string
	Edited  bool
	Buttons []telegramtest.InlineButton // its inline keyboard, the rating buttons
}

// Order is an order of the fake Bitrix24 portal.
type Order struct {
	ID       int64
	StatusID string
	Price    string
	Customer string
	Comments string
}

// Callback is a callback the demo receiver got.
type Callback struct {
	JobID     string
	Status    string
	Lots      string // completed/total
	Verified  bool   // both signatures verified with the client's secret
	HTTP      int    // what the receiver answered
	Received  string
	VerifyErr string
}

// Delivery is a webhook the fake SimplyPrint sent.
type Delivery struct {
	Event  string
	Status int
	Error  string
}

// State reads every fake.
func (f *Fakes) State() State {
	var s State
	for _, id := range f.Telegram.Chats() {
		c := Chat{ID: id}
		for _, m := range f.Telegram.Messages(id) {
			c.Messages = append(c.Messages, Message{ID: m.ID, Text: m.Text, Edited: m.Edited, Buttons: m.InlineButtons()})
		}
		s.Chats = append(s.Chats, c)
	}
	s.Issues = f.Okdesk.Issues()
	s.Comments = f.Okdesk.Comments()
	for _, o := range f.Bitrix.Orders() {
		s.Orders = append(s.Orders, Order{
			ID: toInt(o["id"]), StatusID: fmt.Sprint(o["statusId"]), Price: fmt.Sprintf("%v %v", o["price"], o["currency"]),
			Customer: customer(o), Comments: fmt.Sprint(o["comments"]),
		})
	}
	for _, c := range f.Bitrix.Calls() {
		if c.Method == "sale.order.update" {
			s.Updates = append(s.Updates, fmt.Sprintf("%s → HTTP %d", c.Params, c.Status))
		}
	}
	s.Jobs = f.Jobs()
	for _, d := range f.Receiver.Deliveries() {
		cb := Callback{JobID: d.Payload.JobID, Status: d.Payload.Status, Verified: d.Verified(), HTTP: d.Status,
			Lots:     fmt.Sprintf("%d/%d", d.Payload.CompletedLots, d.Payload.TotalLots),
			Received: d.ReceivedAt.UTC().Format("2006-01-02 15:04:05"), VerifyErr: d.StandardErr}
		s.Callbacks = append(s.Callbacks, cb)
	}
	for _, d := range f.SimplyPrint.Deliveries() {
		sd := Delivery{Event: d.Event, Status: d.StatusCode}
		if d.Err != nil {
			sd.Error = d.Err.Error()
		}
		s.SimplyPrint = append(s.SimplyPrint, sd)
	}
	return s
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

func customer(o map[string]any) string {
	props, _ := o["propertyValues"].([]any)
	var parts []string
	for _, p := range props {
		m, _ := p.(map[string]any)
		if m["code"] == "FIO" || m["code"] == "PHONE" {
			parts = append(parts, fmt.Sprint(m["value"]))
		}
	}
	return strings.Join(parts, ", ")
}
