package ops

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/store"
)

// demoPage shows the fakes' state in demo mode: what the bot "sent" to
// Telegram (with its rating buttons), the comments "posted" to Okdesk, the
// orders in "Bitrix24", the callbacks the receiver got. Without demo mode
// it says how to start it (404).
func (c *Console) demoPage(g *gin.Context) {
	if c.Demo == nil {
		g.Status(http.StatusNotFound)
		c.render(g, "demo", gin.H{"Off": true})
		return
	}
	c.render(g, "demo", gin.H{"State": c.Demo.State(), "Done": g.Query("done"), "Error": g.Query("error"),
		"ChatID": demo.ChatID})
}

// demoAct is the visitor acting as a vendor's user through a fake: the
// fake then calls hookflow's real webhook, as the vendor would. The form's
// action: press (a Telegram inline button: chat, message, data), resolve
// (an Okdesk issue), reopen (an Okdesk issue, no webhook), order (save a
// Bitrix24 order), job (submit a description job of lots lots), print (a
// SimplyPrint job.done).
func (c *Console) demoAct(g *gin.Context) {
	action := g.PostForm("action")
	who, _ := auth.Who(g)
	e := store.AuditEntry{Actor: who.Name, Action: store.AuditDemoAction, Target: action, Count: 1, Result: store.AuditOK}
	done, err := c.runDemoAction(g.Request.Context(), action, g)
	if err != nil {
		e.Count, e.Result, e.Detail = 0, store.AuditError, store.AuditDetail(map[string]any{"error": err.Error()})
	}
	c.record(g, e)
	if err != nil {
		g.Redirect(http.StatusSeeOther, "/ops/demo?error="+url.QueryEscape(err.Error()))
		return
	}
	g.Redirect(http.StatusSeeOther, "/ops/demo?done="+url.QueryEscape(done))
}

func (c *Console) runDemoAction(ctx context.Context, action string, g *gin.Context) (string, error) {
	if c.Demo == nil {
		return "", fmt.Errorf("demo mode is off: start hookflow with `make demo` (hookflow dev --demo)")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := c.Demo
	switch action {
	case "press":
		chat, err := demo.ParseID("chat", g.PostForm("chat"))
		if err != nil {
			return "", err
		}
		msg, err := demo.ParseID("message", g.PostForm("message"))
		if err != nil {
			return "", err
		}
		data := g.PostForm("data")
		if err := d.Press(ctx, chat, int(msg), data); err != nil {
			return "", err
		}
		return fmt.Sprintf("Telegram delivered the press of %q on message %d to hookflow's webhook", data, msg), nil
	case "resolve", "reopen":
		issue, err := demo.ParseID("issue", g.PostForm("issue"))
		if err != nil {
			return "", err
		}
		if action == "reopen" {
			return fmt.Sprintf("Okdesk issue %d is open again (no webhook)", issue), d.ReopenIssue(issue)
		}
		if err := d.ResolveIssue(ctx, issue); err != nil {
			return "", err
		}
		return fmt.Sprintf("Okdesk sent the status change of issue %d to resolved", issue), nil
	case "order":
		id, err := demo.ParseID("order", g.PostForm("order"))
		if err != nil {
			return "", err
		}
		if err := d.SaveOrder(ctx, id); err != nil {
			return "", err
		}
		return fmt.Sprintf("Bitrix24 sent ONSALEORDERSAVED for order %d", id), nil
	case "job":
		lots, err := strconv.Atoi(g.DefaultPostForm("lots", "2"))
		if err != nil {
			return "", fmt.Errorf("lots: %q is not a number", g.PostForm("lots"))
		}
		j, err := d.SubmitJob(ctx, lots)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("job %s submitted (%d lots); its callback arrives below", j.JobID, j.Lots), nil
	case "print":
		if err := d.FireSimplyPrint(ctx); err != nil {
			return "", err
		}
		return "SimplyPrint sent job.done (see Print farm)", nil
	}
	return "", fmt.Errorf("action: %q is not one of press, resolve, reopen, order, job, print", action)
}
