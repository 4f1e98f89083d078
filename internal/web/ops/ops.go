// Package ops is the ops console: server-rendered pages behind the access
// tokens (a login form sets a session cookie; a Bearer header works too),
// with embedded assets and no CDN. Read tokens see every page; the buttons
// that act (send a test event, retry a callback) need an admin token. Every
// row that has a workflow links to its run in Temporal UI.
package ops

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Console serves the ops pages.
type Console struct {
	Store      *store.Store
	Tokens     *auth.Set // ADMIN_TOKEN, ADMIN_TOKENS, READ_TOKENS
	TemporalUI string    // TEMPORAL_UI_URL
	Namespace  string
	Log        *slog.Logger
	SelfURL    func() string   // the API's own base URL, for "send test event"
	SPSecret   string          // SIMPLYPRINT_WEBHOOK_SECRET, sent by the test-event button
	ClientIDs  func() []string // the callback clients of JOBS_CLIENTS (nil: none)
	HTTPClient *http.Client
	// Demo is the demo mode's fakes (hookflow dev --demo); nil otherwise.
	// When set, every page says so and /ops/demo shows the fakes' state.
	Demo  *demo.Fakes
	pages map[string]*template.Template
}

// Page is a console section in the navigation.
type Page struct {
	Path  string // under /ops, e.g. "/ratings"
	Title string
}

// Register mounts /ops on r.
func (c *Console) Register(r *gin.Engine) {
	c.pages = map[string]*template.Template{}
	funcs := template.FuncMap{
		"temporalURL": c.temporalURL,
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format("2006-01-02 15:04:05")
			case *time.Time:
				if v != nil {
					return v.UTC().Format("2006-01-02 15:04:05")
				}
			}
			return "—"
		},
		"str": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"deref": func(f *float64) float64 { return *f },
	}
	funcs["jobWorkflow"] = store.JobWorkflowID
	funcs["callbackWorkflow"] = func(d store.Delivery) string { return activities.CallbackWorkflowID(d.ID, d.Series) }
	funcs["code"] = func(p *int) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprint(*p)
	}
	funcs["stars"] = func(n int) string { return strings.Repeat("⭐", n) }
	funcs["list5"] = func() []int { return []int{5, 4, 3, 2, 1} }
	funcs["deref64"] = func(f *float64) string {
		if f == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f", *f)
	}
	funcs["json"] = func(b json.RawMessage) string {
		if len(b) == 0 {
			return ""
		}
		return string(b)
	}
	for _, name := range []string{"login", "simplyprint", "jobs", "ratings", "deadletters", "audit", "sources", "demo"} {
		c.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	sub, _ := fs.Sub(assetFS, "assets")
	r.GET("/ops/assets/*file", gin.WrapH(http.StripPrefix("/ops/assets/", http.FileServerFS(sub))))
	// The root is where a newcomer's browser lands after make run: the
	// console (its login page without a session). It shows no data.
	r.GET("/", func(g *gin.Context) { g.Redirect(http.StatusSeeOther, "/ops") })
	r.GET("/ops/login", func(g *gin.Context) { c.render(g, "login", gin.H{"Next": g.Query("next")}) })
	r.POST("/ops/login", c.login)
	r.POST("/ops/logout", c.logout)
	g := r.Group("/ops", c.auth)
	g.GET("", func(g *gin.Context) { g.Redirect(http.StatusSeeOther, "/ops/simplyprint") })
	g.GET("/", func(g *gin.Context) { g.Redirect(http.StatusSeeOther, "/ops/simplyprint") })
	g.GET("/simplyprint", c.simplyPrint)
	g.POST("/simplyprint/test-event", c.requireAdmin, c.sendTestEvent)
	g.GET("/jobs", c.jobs)
	g.GET("/ratings", c.ratings)
	g.POST("/jobs/deliveries/:id/retry", c.requireAdmin, c.retryDelivery)
	g.GET("/dead-letters", c.deadLetters)
	g.POST("/dead-letters/act", c.requireAdmin, c.actOnDeadLetters)
	g.GET("/audit", c.audit)
	g.GET("/sources", c.sources)
	g.POST("/sources/:source/pause", c.requireAdmin, c.toggleSource("pause"))
	g.POST("/sources/:source/resume", c.requireAdmin, c.toggleSource("resume"))
	g.POST("/clients/:client/pause", c.requireAdmin, c.toggleClient("pause"))
	g.POST("/clients/:client/resume", c.requireAdmin, c.toggleClient("resume"))
	g.GET("/demo", c.demoPage)
	g.POST("/demo/act", c.requireAdmin, c.demoAct)
}

func (c *Console) temporalURL(workflowID string) string {
	return TemporalRunURL(c.TemporalUI, c.Namespace, workflowID)
}

// TemporalRunURL is the Temporal UI page of a workflow ID's runs ("" when
// no UI is configured).
func TemporalRunURL(uiBase, namespace, workflowID string) string {
	if uiBase == "" || workflowID == "" {
		return ""
	}
	return strings.TrimRight(uiBase, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// auth lets a request in with the console's session cookie or a Bearer
// token, read or admin; a browser without either goes to the login form.
func (c *Console) auth(g *gin.Context) {
	if c.Tokens.Empty() {
		g.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte("The ops console is disabled: set ADMIN_TOKEN, ADMIN_TOKENS or READ_TOKENS and restart hookflow.\n"))
		g.Abort()
		return
	}
	if id, res := c.Tokens.FromRequest(g.Request, true); res == auth.Known {
		auth.Remember(g, id)
		return
	}
	g.Redirect(http.StatusSeeOther, "/ops/login?next="+url.QueryEscape(g.Request.URL.RequestURI()))
	g.Abort()
}

// requireAdmin refuses the console's actions to read-only sessions, and
// logs those it lets through under the token's name. Each action is
// audited: by the API when the button calls it (retry), else by its
// handler (test event); a refusal here as forbidden.
func (c *Console) requireAdmin(g *gin.Context) {
	id, _ := auth.Who(g)
	if id.Can(auth.Admin) {
		g.Next()
		if c.Log != nil {
			c.Log.Info("ops console action", "path", g.Request.URL.Path, "token", id.Name)
		}
		return
	}
	target := g.Param("id")
	if target == "" {
		target = g.Param("source")
	}
	c.record(g, store.AuditEntry{Actor: id.Name, Action: consoleAction(g), Target: target, Result: "forbidden",
		Detail: store.AuditDetail(map[string]any{"method": g.Request.Method, "path": g.Request.URL.Path, "status": http.StatusForbidden})})
	g.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte("Forbidden: the token "+id.Name+
		" is read-only; this action needs an admin token (ADMIN_TOKEN or ADMIN_TOKENS). Log out and log in with one.\n"))
	g.Abort()
}

func consoleAction(g *gin.Context) string {
	switch g.FullPath() {
	case "/ops/jobs/deliveries/:id/retry":
		return store.AuditDeliveryRetry
	case "/ops/simplyprint/test-event":
		return store.AuditTestEvent
	case "/ops/sources/:source/pause":
		return store.AuditSourcePause
	case "/ops/sources/:source/resume":
		return store.AuditSourceResume
	case "/ops/demo/act":
		return store.AuditDemoAction
	}
	return g.Request.Method + " " + g.FullPath()
}

// record writes an audit entry, even when the request has gone.
func (c *Console) record(g *gin.Context, e store.AuditEntry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.Request.Context()), 5*time.Second)
	defer cancel()
	if err := c.Store.RecordAudit(ctx, e); err != nil && c.Log != nil {
		c.Log.Error("ops console: cannot record an audit entry", "action", e.Action, "token", e.Actor, "error", err)
	}
}

// login takes any read or admin token and sets a session cookie that names
// the token and is signed with it (never the token itself).
func (c *Console) login(g *gin.Context) {
	next := g.PostForm("next")
	if !(strings.HasPrefix(next, "/ops") || strings.HasPrefix(next, "/crm/sync")) || strings.HasPrefix(next, "//") {
		next = "/ops/simplyprint"
	}
	id, known := c.Tokens.Lookup(g.PostForm("token"))
	cookie, ok := c.Tokens.SessionCookie(id.Name, g.Request.TLS != nil, time.Now())
	if !known || !ok {
		g.Status(http.StatusUnauthorized)
		c.render(g, "login", gin.H{"Next": next, "Error": "That is not one of hookflow's tokens (ADMIN_TOKEN, ADMIN_TOKENS or READ_TOKENS)."})
		return
	}
	auth.Remember(g, id)
	http.SetCookie(g.Writer, cookie)
	g.Redirect(http.StatusSeeOther, next)
}

func (c *Console) logout(g *gin.Context) {
	http.SetCookie(g.Writer, auth.LogoutCookie())
	g.Redirect(http.StatusSeeOther, "/ops/login")
}

func (c *Console) render(g *gin.Context, page string, data gin.H) {
	data["Page"] = page
	data["Nav"] = nav
	data["Current"] = g.Request.URL.Path
	if c.Demo != nil {
		data["Demo"] = true
		data["Nav"] = Nav(true)
	}
	if id, ok := auth.Who(g); ok && page != "login" {
		data["Who"] = id.Name
		data["Level"] = id.Level.String()
		data["CanAct"] = id.Can(auth.Admin)
	}
	var buf bytes.Buffer
	if err := c.pages[page].Execute(&buf, data); err != nil {
		c.Log.Error("ops console: render", "page", page, "error", err)
		g.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("cannot render the page; see the server log\n"))
		return
	}
	g.Data(g.Writer.Status(), "text/html; charset=utf-8", buf.Bytes()) // 200 unless a handler set another

}

// Nav is the console's navigation (with the demo page in demo mode), for a
// console page another package serves (the order sync page, /crm/sync).
func Nav(demo bool) []Page {
	pages := append([]Page(nil), nav...)
	if demo {
		pages = append(pages, Page{"/ops/demo", "Demo (fakes)"})
	}
	return pages
}

// WithLayout parses the console's layout together with a page's templates
// from fsys, which define "title", "head" (extra elements of <head>) and
// "content": a page another package serves (/crm/sync) then has the
// console's header, navigation and stylesheet. Its data must have the
// fields the layout reads: Page (not "login"), Nav, Current (the page's
// path), Who and Level (the signed-in token's name and level).
func WithLayout(funcs template.FuncMap, fsys fs.FS, patterns ...string) *template.Template {
	t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	return template.Must(t.ParseFS(fsys, patterns...))
}

var nav = []Page{
	{"/ops/simplyprint", "Print farm"},
	{"/ops/ratings", "Ratings"},
	{"/crm/sync", "Order sync"},
	{"/ops/jobs", "Jobs & callbacks"},
	{"/ops/dead-letters", "Dead letters"},
	{"/ops/sources", "Sources"},
	{"/ops/audit", "Audit log"},
}

func (c *Console) simplyPrint(g *gin.Context) {
	ctx := g.Request.Context()
	stats, err := c.Store.Stats(ctx, store.SimplyPrintSource)
	if err != nil {
		c.fail(g, err)
		return
	}
	events, err := c.Store.ListEvents(ctx, store.EventFilter{Source: store.SimplyPrintSource, EventType: g.Query("type"), Limit: 50})
	if err != nil {
		c.fail(g, err)
		return
	}
	printers, err := c.Store.ListPrinters(ctx)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, "simplyprint", gin.H{"Stats": stats, "Events": events, "Printers": printers,
		"Sent": g.Query("sent"), "SendError": g.Query("error"), "Type": g.Query("type")})
}

func (c *Console) ratings(g *gin.Context) {
	ctx := g.Request.Context()
	stats, err := c.Store.RatingStats(ctx, store.RatingStatsFilter{From: time.Now().AddDate(0, 0, -30)})
	if err != nil {
		c.fail(g, err)
		return
	}
	latest, err := c.Store.RecentRatingRequests(ctx, 50)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, "ratings", gin.H{"Stats": stats, "Latest": latest})
}

func (c *Console) jobs(g *gin.Context) {
	ctx := g.Request.Context()
	since := time.Now().Add(-24 * time.Hour)
	metrics, err := c.Store.DeliveryMetrics(ctx, since)
	if err != nil {
		c.fail(g, err)
		return
	}
	health, err := c.Store.DeliveryHealth(ctx, since)
	if err != nil {
		c.fail(g, err)
		return
	}
	jobs, err := c.Store.RecentJobs(ctx, 50)
	if err != nil {
		c.fail(g, err)
		return
	}
	failed, err := c.Store.FailedDeliveries(ctx, store.DeliveryFilter{Limit: 50})
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, "jobs", gin.H{"Metrics": metrics, "Health": health, "Jobs": jobs, "Failed": failed,
		"Retried": g.Query("retried"), "RetryError": g.Query("error")})
}

// retryDelivery calls the admin API's retry endpoint over HTTP, so the
// button does exactly what POST /api/v1/webhook-deliveries/{id}/retry does;
// it calls as the session's token, so the API logs and audits it under
// the same name.
func (c *Console) retryDelivery(g *gin.Context) {
	id := g.Param("id")
	back := "/ops/jobs"
	if g.PostForm("back") == "/ops/dead-letters" {
		back = "/ops/dead-letters"
	}
	who, _ := auth.Who(g)
	token, _ := c.Tokens.Token(who.Name)
	status, msg, err := c.callSelf(g.Request.Context(), http.MethodPost, "/api/v1/webhook-deliveries/"+url.PathEscape(id)+"/retry",
		"", map[string]string{"Authorization": "Bearer " + token})
	switch {
	case err != nil:
		g.Redirect(http.StatusSeeOther, back+"?error="+url.QueryEscape(err.Error()))
	case status != http.StatusAccepted:
		g.Redirect(http.StatusSeeOther, back+"?error="+url.QueryEscape(msg))
	default:
		g.Redirect(http.StatusSeeOther, back+"?retried="+url.QueryEscape(id))
	}
}

// callSelf sends a request to this API over HTTP and returns the status and
// the error message of a JSON error answer.
func (c *Console) callSelf(ctx context.Context, method, path, body string, headers map[string]string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.SelfURL()+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	if e.Error == "" {
		e.Error = path + " answered " + resp.Status
	}
	return resp.StatusCode, e.Error, nil
}

// sendTestEvent posts a SimplyPrint "test" event to hookflow's own webhook
// endpoint over HTTP, with the configured secret: the whole inbound path runs.
func (c *Console) sendTestEvent(g *gin.Context) {
	body := fmt.Sprintf(`{"webhook_id":0,"event":"test","timestamp":%d,"data":{"sent_by":"ops console"}}`, time.Now().Unix())
	headers := map[string]string{}
	if c.SPSecret != "" {
		headers["X-SP-Token"] = c.SPSecret
	}
	status, msg, err := c.callSelf(g.Request.Context(), http.MethodPost, "/api/v1/simpleprint/webhook/", body, headers)
	who, _ := auth.Who(g)
	e := store.AuditEntry{Actor: who.Name, Action: store.AuditTestEvent, Target: store.SimplyPrintSource, Count: 1, Result: store.AuditOK}
	switch {
	case err != nil:
		e.Count, e.Result, e.Detail = 0, store.AuditError, store.AuditDetail(map[string]any{"error": err.Error()})
	case status != http.StatusOK:
		e.Count, e.Result, e.Detail = 0, fmt.Sprintf("http_%d", status), store.AuditDetail(map[string]any{"error": msg})
	}
	c.record(g, e)
	switch {
	case err != nil:
		g.Redirect(http.StatusSeeOther, "/ops/simplyprint?error="+url.QueryEscape(err.Error()))
	case status != http.StatusOK:
		g.Redirect(http.StatusSeeOther, "/ops/simplyprint?error="+url.QueryEscape(msg))
	default:
		g.Redirect(http.StatusSeeOther, "/ops/simplyprint?sent=1")
	}
}

// deadLetters lists what ended in failure across every flow, newest first
// (?cursor= pages as the API does): callbacks with a retry button for an
// admin session, events and back syncs with their error and Temporal run.
func (c *Console) deadLetters(g *gin.Context) {
	f := store.DeadLetterFilter{Limit: 50}
	if cur, ok := decodeDeadCursor(g.Query("cursor")); ok && validDeadCursor(cur) {
		f.After = &cur
	}
	items, more, err := c.Store.DeadLetters(g.Request.Context(), f)
	if err != nil {
		c.fail(g, err)
		return
	}
	data := gin.H{"Items": items, "Retried": g.Query("retried"), "RetryError": g.Query("error"), "Done": g.Query("done")}
	if more {
		data["Next"] = encodeDeadCursor(items[len(items)-1].Cursor())
	}
	c.render(g, "deadletters", data)
}

// actOnDeadLetters replays the selected events and back syncs ("replay")
// or retries the selected callbacks ("retry"), each through the API as the
// session's token (so each is audited under its name), and says how many.
func (c *Console) actOnDeadLetters(g *gin.Context) {
	do := g.PostForm("do")
	who, _ := auth.Who(g)
	token, _ := c.Tokens.Token(who.Name)
	var done, skipped int
	var lastErr string
	for _, sel := range g.PostFormArray("sel") {
		kind, id, _ := strings.Cut(sel, ":")
		var path string
		switch {
		case do == "replay" && (kind == store.DeadEvent || kind == store.DeadBackSync):
			path = "/api/v1/events/" + url.PathEscape(id) + "/replay"
		case do == "retry" && kind == store.DeadCallback:
			path = "/api/v1/webhook-deliveries/" + url.PathEscape(id) + "/retry"
		default:
			skipped++ // a callback under "replay", an event under "retry"
			continue
		}
		status, msg, err := c.callSelf(g.Request.Context(), http.MethodPost, path, "", map[string]string{"Authorization": "Bearer " + token})
		switch {
		case err != nil:
			lastErr = err.Error()
		case status != http.StatusAccepted:
			lastErr = msg
		default:
			done++
		}
	}
	verb := map[string]string{"replay": "Replayed", "retry": "Retried"}[do]
	if done == 0 && lastErr == "" {
		// Nothing reached the API (nothing selected, or nothing the action
		// applies to): the click is audited here instead.
		if err := c.Store.RecordAudit(g.Request.Context(), store.AuditEntry{Actor: who.Name, Action: "dead_letters." + do, Target: "ops",
			Result: "nothing_selected", Detail: store.AuditDetail(map[string]any{"skipped": skipped})}); err != nil && c.Log != nil {
			c.Log.Error("audit: cannot record a dead-letters action", "token", who.Name, "error", err)
		}
	}
	if verb == "" {
		g.Redirect(http.StatusSeeOther, "/ops/dead-letters?error="+url.QueryEscape("choose replay or retry"))
		return
	}
	msg := fmt.Sprintf("%s %d", verb, done)
	if skipped > 0 {
		msg += fmt.Sprintf("; %d selected did not apply (%s applies to %s)", skipped, do,
			map[string]string{"replay": "events and back syncs", "retry": "callbacks"}[do])
	}
	q := "?done=" + url.QueryEscape(msg)
	if lastErr != "" {
		q += "&error=" + url.QueryEscape(lastErr)
	}
	g.Redirect(http.StatusSeeOther, "/ops/dead-letters"+q)
}

// audit lists the audit log newest first, optionally by action or actor.
func (c *Console) audit(g *gin.Context) {
	f := store.AuditFilter{Action: g.Query("action"), Actor: g.Query("actor"), Limit: 100}
	if cur, ok := decodeDeadCursor(g.Query("cursor")); ok && cur.Kind == "audit" {
		var id int64
		if _, err := fmt.Sscan(cur.ID, &id); err == nil {
			f.Before = &store.AuditCursor{At: cur.At, ID: id}
		}
	}
	entries, err := c.Store.ListAudit(g.Request.Context(), f)
	if err != nil {
		c.fail(g, err)
		return
	}
	data := gin.H{"Entries": entries, "Action": f.Action, "Actor": f.Actor}
	if len(entries) == f.Limit {
		last := entries[len(entries)-1]
		q := url.Values{"cursor": {encodeDeadCursor(store.DeadLetterCursor{At: last.At, Kind: "audit", ID: fmt.Sprint(last.ID)})}}
		if f.Action != "" {
			q.Set("action", f.Action)
		}
		if f.Actor != "" {
			q.Set("actor", f.Actor)
		}
		data["Next"] = "/ops/audit?" + q.Encode()
	}
	c.render(g, "audit", data)
}

func validDeadCursor(c store.DeadLetterCursor) bool {
	switch c.Kind {
	case store.DeadCallback:
		_, err := uuid.Parse(c.ID)
		return err == nil
	case store.DeadEvent, store.DeadBackSync:
		_, err := strconv.ParseInt(c.ID, 10, 64)
		return err == nil
	}
	return false
}

// The console's cursors: "<unix micros>.<kind>.<id>" (ids hold no dot).
func encodeDeadCursor(c store.DeadLetterCursor) string {
	return fmt.Sprintf("%d.%s.%s", c.At.UnixMicro(), c.Kind, c.ID)
}

func decodeDeadCursor(v string) (store.DeadLetterCursor, bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return store.DeadLetterCursor{}, false
	}
	var micros int64
	if _, err := fmt.Sscan(parts[0], &micros); err != nil {
		return store.DeadLetterCursor{}, false
	}
	return store.DeadLetterCursor{At: time.UnixMicro(micros), Kind: parts[1], ID: parts[2]}, true
}

func (c *Console) fail(g *gin.Context, err error) {
	c.Log.Error("ops console", "path", g.Request.URL.Path, "error", err)
	g.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error; see the server log\n"))
}

// sources lists every source with its pause state and held backlog, with a
// pause or resume button for admin sessions.
func (c *Console) sources(g *gin.Context) {
	states, err := c.Store.SourceStates(g.Request.Context(), config.EventSources)
	if err != nil {
		c.fail(g, err)
		return
	}
	var ids []string
	if c.ClientIDs != nil {
		ids = c.ClientIDs()
	}
	clients, err := c.Store.ClientStates(g.Request.Context(), ids)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.render(g, "sources", gin.H{"Sources": states, "Clients": clients, "Done": g.Query("done"), "ActError": g.Query("error")})
}

// toggleSource calls POST /api/v1/sources/{source}/pause or /resume over
// HTTP as the session's token, as the retry button does: the API audits it
// under the same name.
func (c *Console) toggleSource(action string) gin.HandlerFunc {
	return c.toggle("sources", "source", action)
}

// toggleClient does the same for a callback client.
func (c *Console) toggleClient(action string) gin.HandlerFunc {
	return c.toggle("clients", "client", action)
}

func (c *Console) toggle(plural, param, action string) gin.HandlerFunc {
	return func(g *gin.Context) {
		name := g.Param(param)
		who, _ := auth.Who(g)
		token, _ := c.Tokens.Token(who.Name)
		body := ""
		if reason := strings.TrimSpace(g.PostForm("reason")); reason != "" && action == "pause" {
			raw, _ := json.Marshal(map[string]string{"reason": reason})
			body = string(raw)
		}
		status, msg, err := c.callSelf(g.Request.Context(), http.MethodPost, "/api/v1/"+plural+"/"+url.PathEscape(name)+"/"+action,
			body, map[string]string{"Authorization": "Bearer " + token})
		switch {
		case err != nil:
			g.Redirect(http.StatusSeeOther, "/ops/sources?error="+url.QueryEscape(err.Error()))
		case status != http.StatusOK:
			g.Redirect(http.StatusSeeOther, "/ops/sources?error="+url.QueryEscape(msg))
		default:
			g.Redirect(http.StatusSeeOther, "/ops/sources?done="+url.QueryEscape(action+"d "+name))
		}
	}
}
