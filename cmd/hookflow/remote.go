package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/internal/config"
)

// The CLI's remote commands act on a running hookflow through its admin API
// (HOOKFLOW_URL, ADMIN_TOKEN), as an operator would with curl: what they
// do is audited under the token's name like any other admin call.

// remote is a running hookflow's admin API.
type remote struct {
	base  string
	token string
	http  *http.Client
}

func newRemote(cfg config.Config) (*remote, error) {
	base, err := hookflowBase(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("ADMIN_TOKEN is not set: the remote commands call hookflow's admin API with it")
	}
	return &remote{base: base, token: cfg.AdminToken, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// hookflowBase is the running hookflow's base URL, without a trailing
// slash: HOOKFLOW_URL, else this machine at HTTP_ADDR's port.
func hookflowBase(cfg config.Config) (string, error) {
	base := cfg.HookflowURL
	if base == "" {
		_, port, err := net.SplitHostPort(cfg.HTTPAddr)
		if err != nil {
			return "", fmt.Errorf("HTTP_ADDR %q: %w (or set HOOKFLOW_URL)", cfg.HTTPAddr, err)
		}
		base = "http://127.0.0.1:" + port
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("HOOKFLOW_URL %q is not an http(s) URL", base)
	}
	return strings.TrimRight(base, "/"), nil
}

// do sends a request and decodes a 2xx JSON answer into out; any other
// answer is an error with the API's own message.
func (r *remote) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("hookflow at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Error   string          `json:"error"`
			Details json.RawMessage `json:"details"`
		}
		if json.Unmarshal(raw, &apiErr) == nil && apiErr.Error != "" {
			msg := apiErr.Error
			// Every problem, when the answer lists them (a sources file's).
			var problems []struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(apiErr.Details, &problems) == nil && len(problems) > 1 {
				for _, p := range problems {
					msg += "\n  " + p.Message
				}
			}
			return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, msg)
		}
		return fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// pausable is what `hookflow sources` and `hookflow clients` act on: a
// kind of thing the admin API pauses and resumes.
type pausable struct {
	kind, plural string // "source", "sources"
	path         string // /api/v1/sources
	backlog      string // the count the list shows: held events, pending deliveries
	paused       string // what a pause does, for the message
}

var (
	sourcesKind = pausable{"source", "sources", "/api/v1/sources", "HELD",
		"its events are acked and recorded, the relay holds them"}
	clientsKind = pausable{"client", "clients", "/api/v1/clients", "PENDING",
		"its callbacks wait before each attempt, which is not spent"}
)

// pauseView is a source or a client as the API answers it.
type pauseView struct {
	Source   string     `json:"source"`
	ClientID string     `json:"client_id"`
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"paused_at"`
	PausedBy string     `json:"paused_by"`
	Reason   string     `json:"reason"`
	Held     int64      `json:"held"`
	Pending  int64      `json:"pending"`
}

func (k pausable) usage() string {
	u := fmt.Sprintf("usage: hookflow %s [list] | pause <%s> [--reason TEXT] | resume <%s>", k.plural, k.kind, k.kind)
	if k.plural == sourcesKind.plural {
		u += " | reload | check [--no-env] FILE"
	}
	return u
}

// pausesCommand: `hookflow sources|clients [list]`, `pause <name>
// [--reason]`, `resume <name>`.
func pausesCommand(ctx context.Context, k pausable, cfg config.Config, args []string, stdout io.Writer) error {
	verb := "list"
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	r, err := newRemote(cfg)
	if err != nil {
		return err
	}
	switch verb {
	case "list":
		if len(args) > 0 {
			return usageError{k.usage()}
		}
		page := map[string][]pauseView{}
		if err := r.do(ctx, http.MethodGet, k.path, nil, &page); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tSTATE\t%s\tSINCE\tBY\tREASON\n", strings.ToUpper(k.kind), k.backlog)
		for _, v := range page[k.plural] {
			fmt.Fprintln(tw, pauseLine(v))
		}
		return tw.Flush()
	case "reload":
		if len(args) > 0 || k.plural != sourcesKind.plural {
			return usageError{k.usage()}
		}
		var answer struct {
			Sources []string `json:"sources"`
		}
		if err := r.do(ctx, http.MethodPost, k.path+"/reload", nil, &answer); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "SOURCES_FILE reloaded on %s: serving %s\n", r.base, strings.Join(answer.Sources, ", "))
		return nil
	case "pause", "resume":
		fs := flag.NewFlagSet(k.plural+" "+verb, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		reason := fs.String("reason", "", "why (shown with the pause and in the audit log)")
		// The name comes first, flags after it: `pause simplyprint --reason x`.
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return usageError{k.usage()}
		}
		name := args[0]
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || (verb == "resume" && *reason != "") {
			return usageError{k.usage()}
		}
		var body any
		if verb == "pause" && *reason != "" {
			body = map[string]string{"reason": *reason}
		}
		answer := map[string]json.RawMessage{}
		if err := r.do(ctx, http.MethodPost, k.path+"/"+url.PathEscape(name)+"/"+verb, body, &answer); err != nil {
			return err
		}
		var changed bool
		var v pauseView
		_ = json.Unmarshal(answer["changed"], &changed)
		_ = json.Unmarshal(answer[k.kind], &v)
		switch {
		case !changed && verb == "pause":
			fmt.Fprintf(stdout, "%s was already paused (kept its first pause)\n", name)
		case !changed:
			fmt.Fprintf(stdout, "%s was not paused\n", name)
		case verb == "pause":
			fmt.Fprintf(stdout, "paused %s: %s until 'hookflow %s resume %s'\n", name, k.paused, k.plural, name)
		default:
			fmt.Fprintf(stdout, "resumed %s: %d waiting go out in order\n", name, v.Held+v.Pending)
		}
		return nil
	}
	return usageError{k.usage()}
}

func pauseLine(v pauseView) string {
	name := v.Source + v.ClientID
	state, since := "running", "-"
	if v.Paused {
		state = "paused"
		if v.PausedAt != nil {
			since = v.PausedAt.UTC().Format(time.RFC3339)
		}
	}
	by, reason := v.PausedBy, v.Reason
	if by == "" {
		by = "-"
	}
	if reason == "" {
		reason = "-"
	}
	return fmt.Sprintf("%s\t%s\t%d\t%s\t%s\t%s", name, state, v.Held+v.Pending, since, by, reason)
}

const deliveriesUsage = "usage: hookflow deliveries retry <delivery id> [<delivery id> ...]\n" +
	"       hookflow deliveries retry --failed [--client ID] [--status CODE] [--since T] [--until T] [--include-gone] [--dry-run] [--batch N]"

// deliveriesCommand: `hookflow deliveries retry <id>...`: a new attempt
// series of each finished delivery (same webhook-id), one after another,
// with a progress line per delivery.
func deliveriesCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) < 2 || args[0] != "retry" {
		return usageError{deliveriesUsage}
	}
	r, err := newRemote(cfg)
	if err != nil {
		return err
	}
	if strings.HasPrefix(args[1], "-") {
		return retryByFilter(ctx, r, args[1:], stdout)
	}
	return oneByOne(args[1:], stdout, "", "deliveries", "retried", func(id string) (string, error) {
		var answer struct {
			Series     int    `json:"series"`
			WorkflowID string `json:"workflow_id"`
		}
		err := r.do(ctx, http.MethodPost, "/api/v1/webhook-deliveries/"+url.PathEscape(id)+"/retry", nil, &answer)
		return fmt.Sprintf("series %d started (%s)", answer.Series, answer.WorkflowID), err
	})
}

// oneByOne calls do for each id in turn, with a progress line each:
// "[i/n] <label><id>: " and what do said, or "not <done>: " and its error.
// It fails when a call did, counting them as things (deliveries, events).
func oneByOne(ids []string, stdout io.Writer, label, things, done string, do func(id string) (string, error)) error {
	var failed int
	for i, id := range ids {
		said, err := do(id)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "[%d/%d] %s%s: not %s: %v\n", i+1, len(ids), label, id, done, err)
			continue
		}
		fmt.Fprintf(stdout, "[%d/%d] %s%s: %s\n", i+1, len(ids), label, id, said)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d %s were not %s", failed, len(ids), things, done)
	}
	return nil
}

// retryByFilter: `hookflow deliveries retry --failed [filters]`, the bulk
// retry in batches, a progress line per batch, until nothing is left.
func retryByFilter(ctx context.Context, r *remote, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("deliveries retry", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	failed := fs.Bool("failed", false, "retry the failed deliveries the filters match (required: says what the command does)")
	clientID := fs.String("client", "", "one client's deliveries")
	status := fs.Int("status", 0, "the last answer's HTTP status")
	since := fs.String("since", "", "finished at or after (RFC 3339)")
	until := fs.String("until", "", "finished before (RFC 3339)")
	gone := fs.Bool("include-gone", false, "also the deliveries whose receiver answered 410 Gone")
	dryRun := fs.Bool("dry-run", false, "only count what the filters match")
	batch := fs.Int("batch", 100, "deliveries per call (1-1000)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || !*failed {
		return usageError{deliveriesUsage}
	}
	body := map[string]any{"max": *batch}
	if *clientID != "" {
		body["client_id"] = *clientID
	}
	if *status != 0 {
		body["status_code"] = *status
	}
	for name, v := range map[string]string{"since": *since, "until": *until} {
		if v != "" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				return usageError{fmt.Sprintf("--%s %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", name, v)}
			}
			body[name] = v
		}
	}
	if *gone {
		body["failed_only"] = false
	}
	type answer struct {
		Matched    int64 `json:"matched"`
		Retried    int   `json:"retried"`
		NotStarted int   `json:"not_started"`
		More       bool  `json:"more"`
	}
	if *dryRun {
		body["dry_run"] = true
		var a answer
		if err := r.do(ctx, http.MethodPost, "/api/v1/webhook-deliveries/retry", body, &a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d deliveries match; nothing was retried (dry run)\n", a.Matched)
		return nil
	}
	var total, notStarted int
	var matched int64 = -1
	for {
		var a answer
		if err := r.do(ctx, http.MethodPost, "/api/v1/webhook-deliveries/retry", body, &a); err != nil {
			return fmt.Errorf("after %d retried: %w", total, err)
		}
		if matched < 0 {
			matched = a.Matched
		}
		total += a.Retried
		notStarted += a.NotStarted
		fmt.Fprintf(stdout, "retried %d of %d matched\n", total, matched)
		// A call that started nothing would repeat itself: stop there.
		if !a.More || a.Retried == 0 {
			break
		}
	}
	if notStarted > 0 {
		return fmt.Errorf("%d deliveries could not be retried (see the API's log)", notStarted)
	}
	return nil
}

const eventsUsage = "usage: hookflow events replay <event id> [<event id> ...]\n" +
	"       hookflow events replay --source S [--type T] [--entity ID] [--outcome O] [--since T] [--until T] [--dry-run] [--batch N]"

// eventsCommand: `hookflow events replay <id>...` or by filter, in batches
// with a progress line, newest first.
func eventsCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) < 2 || args[0] != "replay" {
		return usageError{eventsUsage}
	}
	r, err := newRemote(cfg)
	if err != nil {
		return err
	}
	type answer struct {
		Matched      int     `json:"matched"`
		More         bool    `json:"more"`
		Replayed     []int64 `json:"replayed"`
		NextBeforeID int64   `json:"next_before_id"`
	}
	if !strings.HasPrefix(args[1], "-") {
		return oneByOne(args[1:], stdout, "event ", "events", "replayed", func(id string) (string, error) {
			var a answer
			return "handed to its flow again", r.do(ctx, http.MethodPost, "/api/v1/events/"+url.PathEscape(id)+"/replay", nil, &a)
		})
	}
	fs := flag.NewFlagSet("events replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	source := fs.String("source", "", "the events' source (required)")
	typ := fs.String("type", "", "event type")
	entity := fs.String("entity", "", "entity id (a printer, an order, an issue, a chat)")
	outcome := fs.String("outcome", "", "outcome (applied, stale, failed, ...)")
	since := fs.String("since", "", "received at or after (RFC 3339)")
	until := fs.String("until", "", "received before (RFC 3339)")
	dryRun := fs.Bool("dry-run", false, "only count what the filters match")
	batch := fs.Int("batch", 100, "events per call (1-1000)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || *source == "" {
		return usageError{eventsUsage}
	}
	body := map[string]any{"source": *source, "max": *batch}
	for k, v := range map[string]string{"type": *typ, "entity_id": *entity, "outcome": *outcome, "since": *since, "until": *until} {
		if v != "" {
			body[k] = v
		}
	}
	if *dryRun {
		// Counts page by page without replaying: the count of a filter.
		body["dry_run"] = true
		total := 0
		for {
			var a answer
			if err := r.do(ctx, http.MethodPost, "/api/v1/events/replay", body, &a); err != nil {
				return err
			}
			total += a.Matched
			if !a.More {
				break
			}
			body["before_id"] = a.NextBeforeID
		}
		fmt.Fprintf(stdout, "%d events match; nothing was replayed (dry run)\n", total)
		return nil
	}
	total := 0
	for {
		var a answer
		if err := r.do(ctx, http.MethodPost, "/api/v1/events/replay", body, &a); err != nil {
			return fmt.Errorf("after %d replayed: %w", total, err)
		}
		total += len(a.Replayed)
		fmt.Fprintf(stdout, "replayed %d\n", total)
		if !a.More {
			return nil
		}
		body["before_id"] = a.NextBeforeID
	}
}
