package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/samples"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/web/ops"
)

// `hookflow demo tour` runs in a second terminal against a running
// `hookflow dev --demo` (found through the dev file, or HOOKFLOW_URL and
// ADMIN_TOKEN): it acts through the demo's fakes as the vendors' users
// would (POST /ops/demo/act, the demo page's own form), follows each flow
// through hookflow's read API and the fakes' state (GET /api/v1/demo), and
// prints what happened and where to see it.

const demoUsage = "usage: hookflow demo tour [--timeout 60s]"

func demoCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "tour" {
		return usageError{demoUsage}
	}
	fs := flag.NewFlagSet("demo tour", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	timeout := fs.Duration("timeout", time.Minute, "how long each step waits for its flow")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || *timeout <= 0 {
		return usageError{demoUsage}
	}
	r, err := newRemote(cfg)
	if err != nil {
		return err
	}
	t := &tour{r: r, cfg: cfg, out: stdout, timeout: *timeout}
	return t.run(ctx)
}

type tour struct {
	r       *remote
	cfg     config.Config
	out     io.Writer
	timeout time.Duration
}

// tourStep is one flow of the tour; run returns what went wrong, naming
// where to look.
type tourStep struct {
	title string
	run   func(ctx context.Context) error
}

func (t *tour) run(ctx context.Context) error {
	st, err := t.state(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out, "hookflow demo tour: %s runs in demo mode (demo page %s)\n", t.r.base, t.r.base+"/ops/demo")
	steps := []tourStep{
		{"SimplyPrint job.done", func(ctx context.Context) error { return t.simplyPrint(ctx, st.PrinterID) }},
		{"Okdesk issue resolved, rated 5 stars in Telegram", func(ctx context.Context) error { return t.rating(ctx, st.ChatID) }},
		{"Bitrix24 order saved", t.order},
		{"description job and its signed callback", t.job},
	}
	failed := 0
	for i, s := range steps {
		fmt.Fprintf(t.out, "\n== step %d/%d: %s\n", i+1, len(steps), s.title)
		if err := s.run(ctx); err != nil {
			failed++
			fmt.Fprintf(t.out, "✗ step %d failed: %v\n", i+1, err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		fmt.Fprintf(t.out, "✓ step %d done: %s\n", i+1, s.title)
	}
	if failed > 0 {
		return fmt.Errorf("demo tour: %d of %d steps failed", failed, len(steps))
	}
	fmt.Fprintf(t.out, "\nThe tour is done: all %d flows ran end to end.\n", len(steps))
	return nil
}

// state is GET /api/v1/demo; a 404 means hookflow is not in demo mode.
func (t *tour) state(ctx context.Context) (api.DemoState, error) {
	var st api.DemoState
	err := t.r.do(ctx, http.MethodGet, "/api/v1/demo", nil, &st)
	if err != nil && strings.Contains(err.Error(), ": 404") {
		return st, fmt.Errorf("hookflow at %s is not in demo mode (GET /api/v1/demo: 404): the tour drives the demo's fakes; start it with `make demo` (hookflow dev --demo)", t.r.base)
	}
	return st, err
}

// act posts the demo page's form (POST /ops/demo/act) as an admin and
// returns what the page says was done.
func (t *tour) act(ctx context.Context, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.r.base+"/ops/demo/act", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+t.r.token)
	hc := &http.Client{Timeout: 45 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("hookflow at %s: %w", t.r.base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("POST /ops/demo/act %s: %s (is ADMIN_TOKEN an admin token?)", form.Get("action"), resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	if e := loc.Query().Get("error"); e != "" {
		return "", errors.New(e)
	}
	return loc.Query().Get("done"), nil
}

// wait polls check until it reports done, for at most the step timeout;
// then it says what did not happen and where to look.
func (t *tour) wait(ctx context.Context, what, where string, check func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var last error
	for {
		ok, err := check(ctx)
		if ok && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s did not happen within %s; look at %s", what, t.timeout, where)
			if last != nil {
				msg += " (last error: " + last.Error() + ")"
			}
			return errors.New(msg)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// waitFor polls load until found picks what the step waits for out of it,
// and gives that back (see wait).
func waitFor[S, T any](ctx context.Context, t *tour, what, where string, load func(context.Context) (S, error), found func(S) (T, bool)) (T, error) {
	var got T
	err := t.wait(ctx, what, where, func(ctx context.Context) (bool, error) {
		s, err := load(ctx)
		if err != nil {
			return false, err
		}
		var ok bool
		got, ok = found(s)
		return ok, nil
	})
	return got, err
}

// getList loads a list the API answers at path (for waitFor).
func getList[T any](t *tour, path string) func(context.Context) ([]T, error) {
	return func(ctx context.Context) ([]T, error) {
		var xs []T
		err := t.r.do(ctx, http.MethodGet, path, nil, &xs)
		return xs, err
	}
}

// firstOf is the first of xs that is the one, if any (for waitFor).
func firstOf[T any](xs []T, is func(T) bool) (T, bool) {
	for _, x := range xs {
		if is(x) {
			return x, true
		}
	}
	var none T
	return none, false
}

func (t *tour) say(format string, args ...any) { fmt.Fprintf(t.out, "  "+format+"\n", args...) }

// where prints the console page and the Temporal UI runs of a step.
func (t *tour) where(pages []string, runs ...string) {
	for _, p := range pages {
		t.say("see          %s%s", t.r.base, p)
	}
	for _, wf := range runs {
		if u := ops.TemporalRunURL(t.cfg.Temporal.UIURL, t.cfg.Temporal.Namespace, wf); u != "" {
			t.say("Temporal UI  %s", u)
		} else {
			t.say("workflow     %s (TEMPORAL_UI_URL is not set: no link)", wf)
		}
	}
}

func (t *tour) simplyPrint(ctx context.Context, printer int64) error {
	list := fmt.Sprintf("/api/v1/simplyprint/events?printer_id=%d&limit=20", printer)
	var before []api.SimplyPrintEvent
	if err := t.r.do(ctx, http.MethodGet, list, nil, &before); err != nil {
		return err
	}
	var seen int64
	for _, e := range before {
		seen = max(seen, e.ID)
	}
	done, err := t.act(ctx, url.Values{"action": {"print"}})
	if err != nil {
		return fmt.Errorf("the fake SimplyPrint could not deliver job.done: %w", err)
	}
	t.say("→ %s", done)
	ev, err := waitFor(ctx, t, "the job.done event recorded and processed", t.r.base+"/ops/simplyprint and the hookflow log",
		getList[api.SimplyPrintEvent](t, list), func(evs []api.SimplyPrintEvent) (api.SimplyPrintEvent, bool) {
			return firstOf(evs, func(e api.SimplyPrintEvent) bool {
				return e.ID > seen && (e.Event == "job.done" || e.EventType == "job.done") && e.Processed
			})
		})
	if err != nil {
		return err
	}
	outcome := "ok"
	if ev.Outcome != nil {
		outcome = *ev.Outcome
	}
	t.say("✓ event %d (job.done, printer %d) recorded at %s and processed: %s", ev.ID, printer, ev.ReceivedAt.Format(time.TimeOnly), outcome)
	if ev.Error != nil && *ev.Error != "" {
		return fmt.Errorf("event %d was processed with an error: %s; look at %s/ops/simplyprint", ev.ID, *ev.Error, t.r.base)
	}
	wf := ev.WorkflowID
	if wf == "" {
		wf, _ = api.SimplyPrintWorkflowID(printer)
	}
	t.where([]string{"/ops/simplyprint"}, wf)
	return nil
}

func (t *tour) rating(ctx context.Context, chat int64) error {
	st, err := t.state(ctx)
	if err != nil {
		return err
	}
	if len(st.Issues) == 0 {
		return errors.New("the fake Okdesk has no issue to resolve; look at /ops/demo")
	}
	// An issue not rated yet, else the first one again.
	issue := st.Issues[0].ID
	rated := map[int64]bool{}
	for _, c := range st.Comments {
		rated[c.IssueID] = true
	}
	for _, i := range st.Issues {
		if !rated[i.ID] {
			issue = i.ID
			break
		}
	}
	comments := len(commentsOf(st, issue))
	msgs := len(messagesOf(st, chat))
	if _, err := t.act(ctx, url.Values{"action": {"reopen"}, "issue": {fmt.Sprint(issue)}}); err != nil {
		return fmt.Errorf("reopening Okdesk issue %d: %w", issue, err)
	}
	done, err := t.act(ctx, url.Values{"action": {"resolve"}, "issue": {fmt.Sprint(issue)}})
	if err != nil {
		return fmt.Errorf("the fake Okdesk could not send the status change: %w", err)
	}
	t.say("→ %s", done)
	data := samples.TelegramRateData(issue, 5)
	msg, err := waitFor(ctx, t, fmt.Sprintf("the rating request for issue %d in the demo chat", issue),
		t.r.base+"/ops/demo (Telegram) and "+t.r.base+"/ops/ratings",
		t.state, func(st api.DemoState) (api.DemoMessage, bool) {
			ms := messagesOf(st, chat)
			return firstOf(ms[min(msgs, len(ms)):], func(m api.DemoMessage) bool {
				return slices.ContainsFunc(m.Buttons, func(b api.DemoButton) bool { return b.Data == data })
			})
		})
	if err != nil {
		return err
	}
	var labels []string
	for _, b := range msg.Buttons {
		labels = append(labels, "["+b.Text+"]")
	}
	t.say("✓ the bot asked in the fake Telegram: %q %s", firstLine(msg.Text), strings.Join(labels, " "))
	done, err = t.act(ctx, url.Values{"action": {"press"}, "chat": {fmt.Sprint(chat)}, "message": {fmt.Sprint(msg.ID)}, "data": {data}})
	if err != nil {
		return fmt.Errorf("pressing 5 stars: %w", err)
	}
	t.say("→ the customer pressed 5 stars: %s", done)
	comment, err := waitFor(ctx, t, fmt.Sprintf("the rating's comment on Okdesk issue %d", issue),
		t.r.base+"/ops/ratings and "+t.r.base+"/ops/demo (Okdesk comments)",
		t.state, func(st api.DemoState) (api.DemoComment, bool) {
			if cs := commentsOf(st, issue); len(cs) > comments {
				return cs[len(cs)-1], true
			}
			return api.DemoComment{}, false
		})
	if err != nil {
		return err
	}
	t.say("✓ hookflow posted to Okdesk issue %d: %q", issue, firstLine(comment.Content))
	chatWF, _ := activities.TelegramChatWorkflowID(chat)
	t.where([]string{"/ops/ratings", "/ops/demo"}, activities.OkdeskIssueWorkflowID(issue), chatWF)
	return nil
}

func messagesOf(st api.DemoState, chat int64) []api.DemoMessage {
	for _, c := range st.Chats {
		if c.ID == chat {
			return c.Messages
		}
	}
	return nil
}

func commentsOf(st api.DemoState, issue int64) []api.DemoComment {
	var out []api.DemoComment
	for _, c := range st.Comments {
		if c.IssueID == issue {
			out = append(out, c)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (t *tour) order(ctx context.Context) error {
	// A new order, so that its arrival in the CRM is unambiguous.
	id := 10_000 + time.Now().Unix()%1_000_000
	done, err := t.act(ctx, url.Values{"action": {"order"}, "order": {fmt.Sprint(id)}})
	if err != nil {
		return fmt.Errorf("the fake Bitrix24 could not send ONSALEORDERSAVED: %w", err)
	}
	t.say("→ %s", done)
	o, err := waitFor(ctx, t, fmt.Sprintf("Bitrix24 order %d in the CRM (GET /api/orders)", id), t.r.base+"/crm/sync (sync log)",
		getList[store.Order](t, "/api/orders?limit=100"), func(orders []store.Order) (store.Order, bool) {
			return firstOf(orders, func(x store.Order) bool { return x.BitrixID == id })
		})
	if err != nil {
		return err
	}
	t.say("✓ order %d is in the CRM as %d: status %s, %s %s, sync %s", id, o.ID, o.Status, o.Total, o.Currency, o.SyncState)
	t.say("see          %s/api/orders/%d", t.r.base, o.ID)
	t.where([]string{"/crm/sync"}, ordersync.WorkflowID(id))
	return nil
}

func (t *tour) job(ctx context.Context) error {
	st, err := t.state(ctx)
	if err != nil {
		return err
	}
	jobs := len(st.Jobs)
	done, err := t.act(ctx, url.Values{"action": {"job"}, "lots": {"2"}})
	if err != nil {
		return fmt.Errorf("submitting the job: %w", err)
	}
	t.say("→ %s", done)
	if st, err = t.state(ctx); err != nil {
		return err
	}
	if len(st.Jobs) <= jobs || st.Jobs[len(st.Jobs)-1].JobID == "" {
		return fmt.Errorf("the demo lists no new job after the submission; look at %s/ops/demo", t.r.base)
	}
	jobID := st.Jobs[len(st.Jobs)-1].JobID
	cb, err := waitFor(ctx, t, fmt.Sprintf("the callback of job %s at the demo receiver", jobID),
		t.r.base+"/ops/jobs (the job and its delivery) and "+t.r.base+"/ops/demo (callbacks received)",
		t.state, func(st api.DemoState) (api.DemoCallback, bool) {
			return firstOf(st.Callbacks, func(c api.DemoCallback) bool { return c.JobID == jobID })
		})
	if err != nil {
		return err
	}
	if !cb.Verified {
		return fmt.Errorf("the receiver got job %s's callback but its signature did not verify (%s); look at %s/ops/demo", jobID, cb.VerifyErr, t.r.base)
	}
	t.say("✓ the demo receiver got job %s's signed callback: %s, %s lots, signatures verified, answered %d", jobID, cb.Status, cb.Lots, cb.HTTP)
	runs := []string{store.JobWorkflowID(jobID)}
	var js api.JobStatus
	if err := t.r.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(jobID)+"/status", nil, &js); err == nil &&
		js.Callback != nil && js.Callback.DeliveryID != "" {
		runs = append(runs, activities.CallbackWorkflowID(js.Callback.DeliveryID, 1))
	}
	t.where([]string{"/ops/jobs"}, runs...)
	return nil
}
