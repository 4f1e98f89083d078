package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/demo"
)

// DemoOffMessage is the 404 answer of the demo endpoints when hookflow
// does not run in demo mode.
const DemoOffMessage = "demo mode is off: start hookflow with `make demo` (hookflow dev --demo)"

// DemoState is GET /api/v1/demo: what the demo's fakes hold (the /ops/demo
// page as JSON), so that a second process (`hookflow demo tour`) can follow
// a flow through them. Lists are oldest first.
type DemoState struct {
	ChatID      int64            `json:"chat_id"`    // the demo customer's Telegram chat
	PrinterID   int64            `json:"printer_id"` // the printer the fake SimplyPrint reports on
	Chats       []DemoChat       `json:"chats"`
	Issues      []DemoIssue      `json:"issues"`
	Comments    []DemoComment    `json:"comments"`
	Orders      []DemoOrder      `json:"orders"`
	Updates     []string         `json:"updates"`
	Jobs        []DemoJob        `json:"jobs"`
	Callbacks   []DemoCallback   `json:"callbacks"`
	SimplyPrint []DemoSPDelivery `json:"simplyprint"`
}

// DemoChat is a chat of the fake Telegram and the bot's messages in it.
type DemoChat struct {
	ID       int64         `json:"id"`
	Messages []DemoMessage `json:"messages"`
}

// DemoMessage is a message the bot sent, as it stands after edits.
type DemoMessage struct {
	ID      int          `json:"id"`
	Text    string       `json:"text"`
	Edited  bool         `json:"edited"`
	Buttons []DemoButton `json:"buttons"`
}

// DemoButton is an inline button of a message.
type DemoButton struct {
	Text string `json:"text"`
	Data string `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
}

// DemoIssue is an issue of the fake Okdesk.
type DemoIssue struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Status    string `json:"status"`
	ContactID int64  `json:"contact_id"`
}

// DemoComment is a comment posted to the fake Okdesk.
type DemoComment struct {
	ID       int64  `json:"id"`
	IssueID  int64  `json:"issue_id"`
	Content  string `json:"content"`
	AuthorID int64  `json:"author_id"`
	Public   bool   `json:"public"`
}

// DemoOrder is an order of the fake Bitrix24 portal.
type DemoOrder struct {
	ID       int64  `json:"id"`
	StatusID string `json:"status_id"`
	Price    string `json:"price"`
	Customer string `json:"customer"`
}

// DemoJob is a description job the demo page submitted.
type DemoJob struct {
	JobID  string `json:"job_id"`
	Lots   int    `json:"lots"`
	Status int    `json:"status"`
}

// DemoCallback is a callback the demo receiver got.
type DemoCallback struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	Lots      string `json:"lots"`
	Verified  bool   `json:"verified"`
	HTTP      int    `json:"http"`
	Received  string `json:"received"`
	VerifyErr string `json:"verify_error,omitempty"`
}

// DemoSPDelivery is a webhook the fake SimplyPrint sent.
type DemoSPDelivery struct {
	Event  string `json:"event"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) demoRoutes(r *gin.Engine) {
	r.GET("/api/v1/demo", s.requireRead, s.demoState)
}

func (s *Server) demoState(c *gin.Context) {
	if s.Demo == nil {
		fail(c, http.StatusNotFound, DemoOffMessage)
		return
	}
	c.JSON(http.StatusOK, ToDemoState(s.Demo.State()))
}

// ToDemoState maps the fakes' state to the API's shape.
func ToDemoState(st demo.State) DemoState {
	out := DemoState{ChatID: demo.ChatID, PrinterID: demo.PrinterID, Chats: []DemoChat{}, Issues: []DemoIssue{},
		Comments: []DemoComment{}, Orders: []DemoOrder{}, Updates: append([]string{}, st.Updates...), Jobs: []DemoJob{},
		Callbacks: []DemoCallback{}, SimplyPrint: []DemoSPDelivery{}}
	for _, ch := range st.Chats {
		dc := DemoChat{ID: ch.ID, Messages: []DemoMessage{}}
		for _, m := range ch.Messages {
			dm := DemoMessage{ID: m.ID, Text: m.Text, Edited: m.Edited, Buttons: []DemoButton{}}
			for _, b := range m.Buttons {
				dm.Buttons = append(dm.Buttons, DemoButton{Text: b.Text, Data: b.CallbackData, URL: b.URL})
			}
			dc.Messages = append(dc.Messages, dm)
		}
		out.Chats = append(out.Chats, dc)
	}
	for _, i := range st.Issues {
		status := i.Status.Code
		if status == "" {
			status = "opened"
		}
		out.Issues = append(out.Issues, DemoIssue{ID: i.ID, Title: i.Title, Status: status, ContactID: i.ContactID})
	}
	for _, cm := range st.Comments {
		out.Comments = append(out.Comments, DemoComment{ID: cm.ID, IssueID: cm.IssueID, Content: cm.Content, AuthorID: cm.AuthorID, Public: cm.Public})
	}
	for _, o := range st.Orders {
		out.Orders = append(out.Orders, DemoOrder{ID: o.ID, StatusID: o.StatusID, Price: o.Price, Customer: o.Customer})
	}
	for _, j := range st.Jobs {
		out.Jobs = append(out.Jobs, DemoJob{JobID: j.JobID, Lots: j.Lots, Status: j.Status})
	}
	for _, cb := range st.Callbacks {
		out.Callbacks = append(out.Callbacks, DemoCallback{JobID: cb.JobID, Status: cb.Status, Lots: cb.Lots, Verified: cb.Verified,
			HTTP: cb.HTTP, Received: cb.Received, VerifyErr: cb.VerifyErr})
	}
	for _, d := range st.SimplyPrint {
		out.SimplyPrint = append(out.SimplyPrint, DemoSPDelivery{Event: d.Event, Status: d.Status, Error: d.Error})
	}
	return out
}
