package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/samples"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/web/ops"
)

// `hookflow trigger` sends a realistic event, in its vendor's wire format
// and authenticated with the configured secret, to a running hookflow (as
// `stripe trigger` does), then prints the answer and the Temporal UI page
// of the run it starts. The bodies come from internal/samples, where the
// fakes and the tests get theirs.

const triggerUsage = "usage: hookflow trigger <source> [<event>] [flags]   (hookflow trigger --list shows what it can send)"

// triggerRequest is one event to send.
type triggerRequest struct {
	path        string
	contentType string
	header      http.Header
	body        []byte
	workflowID  string // "" when it is only known from the answer (jobs)
}

// triggerKind is one thing `hookflow trigger` can send.
type triggerKind struct {
	source, event string // "okdesk", "status-change"; event "" for job
	summary       string
	// setup declares the kind's flags and returns the builder, called after
	// parsing.
	setup func(fs *flag.FlagSet) func(cfg config.Config, now time.Time) (triggerRequest, error)
}

func (k triggerKind) name() string { return strings.TrimSpace(k.source + " " + k.event) }

// simplyPrintTriggerEvents are the job events trigger sends (the vendor's
// names).
var simplyPrintTriggerEvents = []string{"job.started", "job.paused", "job.resumed", "job.done", "job.failed", "job.cancelled"}

func triggerKinds() []triggerKind {
	kinds := make([]triggerKind, 0, 12)
	for _, ev := range simplyPrintTriggerEvents {
		kinds = append(kinds, triggerKind{"simplyprint", ev, "SimplyPrint " + ev + " webhook of a print job",
			func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
				printer := fs.Int64("printer", 3, "printer id")
				job := fs.Int64("job", 0, "job id (default: a new one)")
				return func(cfg config.Config, now time.Time) (triggerRequest, error) {
					if *printer <= 0 {
						return triggerRequest{}, usageError{"--printer must be a positive printer id"}
					}
					id := *job
					if id == 0 {
						id = now.UnixMilli() % 1_000_000_000
					}
					h := http.Header{}
					if s := cfg.SimplyPrint.WebhookSecret; s != "" {
						h.Set("X-SP-Token", s)
					}
					wf, _ := api.SimplyPrintWorkflowID(*printer)
					return triggerRequest{path: "/api/v1/simplyprint/webhook/", header: h, workflowID: wf,
						body: samples.SimplyPrintJobEvent(ev, 0, *printer, id, now.Unix())}, nil
				}
			}})
	}
	kinds = append(kinds,
		triggerKind{"okdesk", "status-change", "Okdesk status change of an issue (resolved: the rating flow asks the client)",
			func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
				issue := fs.Int64("issue", 153, "issue id")
				contact := fs.Int64("contact", 21, "the issue's contact id (0: none)")
				to := fs.String("status", "completed", "new status code")
				from := fs.String("from", "opened", "old status code")
				format := fs.String("format", "vendor", "wire format: vendor (Okdesk's) or seed")
				return func(cfg config.Config, _ time.Time) (triggerRequest, error) {
					if *issue <= 0 || *contact < 0 {
						return triggerRequest{}, usageError{"--issue must be a positive issue id, --contact 0 or a contact id"}
					}
					f := samples.OkdeskFormatVendor
					switch *format {
					case "vendor":
					case "seed":
						f = samples.OkdeskFormatSeed
					default:
						return triggerRequest{}, usageError{fmt.Sprintf("--format %q: want vendor or seed", *format)}
					}
					h := http.Header{}
					if s := cfg.Ratings.Secret(); s != "" {
						h.Set(api.OkdeskSecretHeader, s)
					}
					body := samples.OkdeskStatusChangePayload(f, samples.OkdeskStatusChange{
						Issue: samples.OkdeskIssue{ID: *issue, Title: "Принтер не печатает", ContactID: *contact, CompanyID: 15},
						Old:   samples.OkdeskStatus(*from), New: samples.OkdeskStatus(*to),
					})
					return triggerRequest{path: cfg.Ratings.Path(), header: h, body: body,
						workflowID: activities.OkdeskIssueWorkflowID(*issue)}, nil
				}
			}},
		triggerKind{"telegram", "rating", "Telegram button press: the client's rating of an issue",
			func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
				chat := fs.Int64("chat", 42, "chat id (the client's)")
				stars := fs.Int("stars", 5, "rating, 1 to 5")
				issue := fs.Int64("issue", 153, "the rated issue")
				msg := fs.Int("message", 1, "id of the message with the buttons")
				return func(cfg config.Config, now time.Time) (triggerRequest, error) {
					if *stars < 1 || *stars > 5 || *chat == 0 || *issue <= 0 {
						return triggerRequest{}, usageError{"--stars must be 1 to 5, --chat a chat id, --issue a positive issue id"}
					}
					return telegramTrigger(cfg, *chat, samples.TelegramCallbackUpdate(telegramUpdateID(now), *chat, *msg,
						samples.TelegramRateData(*issue, *stars)))
				}
			}},
		triggerKind{"telegram", "message", "Telegram text message to the bot (e.g. --text '/start')",
			func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
				chat := fs.Int64("chat", 42, "chat id")
				text := fs.String("text", "/start", "the message")
				return func(cfg config.Config, now time.Time) (triggerRequest, error) {
					if *chat == 0 || *text == "" {
						return triggerRequest{}, usageError{"--chat must be a chat id and --text not empty"}
					}
					return telegramTrigger(cfg, *chat, samples.TelegramMessageUpdate(telegramUpdateID(now), *chat, *text))
				}
			}},
	)
	for _, ev := range []struct{ name, event, summary string }{
		{"order-saved", "order.saved", "Bitrix shop order saved (the PHP handler's OnSaleOrderSaved)"},
		{"status-changed", "order.status_changed", "Bitrix shop order status change"},
	} {
		kinds = append(kinds, triggerKind{"bitrix", ev.name, ev.summary,
			func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
				order := fs.Int64("order", 236, "order id")
				status := fs.String("status", "N", "the order's status id (N accepted, P paid, F completed, ...)")
				from := fs.String("from", "", "the previous status id (status-changed: default N)")
				isNew := fs.Bool("new", false, "a new order (IS_NEW)")
				return func(cfg config.Config, now time.Time) (triggerRequest, error) {
					if *order <= 0 || *status == "" {
						return triggerRequest{}, usageError{"--order must be a positive order id and --status a status id"}
					}
					token := cfg.Orders.Token()
					if token == "" {
						return triggerRequest{}, errors.New("BITRIX_WEBHOOK_TOKEN is not set (nor in the hookflow dev file): the API refuses Bitrix events without it")
					}
					o := samples.BitrixSiteOrder(*order, *status)
					// A fresh version: the flow applies an order only when it is
					// newer than what it has.
					stamp := now.In(samples.BitrixSiteZone).Format(time.RFC3339)
					o["DATE_UPDATE"], o["DATE_STATUS"] = stamp, stamp
					old := map[string]any{}
					if prev := *from; prev != "" || ev.event == "order.status_changed" {
						if prev == "" {
							prev = "N"
						}
						old["STATUS_ID"] = prev
					}
					e := samples.BitrixSiteEvent{Event: ev.event, IsNew: *isNew, Order: o, OldValues: old, SentAt: now}
					h := http.Header{}
					h.Set(bitrix.TokenHeader, token)
					return triggerRequest{path: samples.BitrixSitePath(ev.event), header: h, body: e.JSON(),
						contentType: "application/json; charset=utf-8", workflowID: ordersync.WorkflowID(*order)}, nil
				}
			}})
	}
	kinds = append(kinds, triggerKind{"job", "", "description job submission, signed like the seed's client",
		func(fs *flag.FlagSet) func(config.Config, time.Time) (triggerRequest, error) {
			lots := fs.Int("lots", 3, "number of lots")
			images := fs.Int("images", 2, "images per lot")
			imageBase := fs.String("image-base", "https://picsum.photos/seed", "where the image URLs point")
			callback := fs.String("callback", "", "webhook_url: where the result callback goes (default: none)")
			langs := fs.String("languages", "en,ru", "comma-separated languages")
			client := fs.String("client", "", "the signing client's id (default: the first of JOBS_CLIENTS, else JOBS_SHARED_SECRET's)")
			return func(cfg config.Config, now time.Time) (triggerRequest, error) {
				if *lots < 1 || *images < 0 {
					return triggerRequest{}, usageError{"--lots must be at least 1 and --images not negative"}
				}
				secret, err := jobsSecret(cfg, *client)
				if err != nil {
					return triggerRequest{}, err
				}
				var ls []jobs.Lot
				for i := range *lots {
					ls = append(ls, samples.JobLot(strings.TrimRight(*imageBase, "/"), fmt.Sprintf("lot-%d-%d", now.Unix(), i+1), *images))
				}
				return triggerRequest{path: "/api/v1/generate-descriptions",
					body: samples.JobSubmission(secret, *callback, strings.Split(*langs, ","), ls...)}, nil
			}
		}})
	return kinds
}

// telegramUpdateID is a new update_id: Telegram's are increasing 32-bit
// numbers; one per 10 ms, from the time, keeps triggers apart.
func telegramUpdateID(now time.Time) int64 { return (now.UnixMilli() / 10) % (1 << 31) }

func telegramTrigger(cfg config.Config, chat int64, body []byte) (triggerRequest, error) {
	secret := cfg.Ratings.TelegramWebhookSecret
	if secret == "" {
		return triggerRequest{}, errors.New("TELEGRAM_WEBHOOK_SECRET is not set (nor in the hookflow dev file): the API refuses Telegram updates without it")
	}
	h := http.Header{}
	h.Set(telegram.SecretTokenHeader, secret)
	wf, _ := activities.TelegramChatWorkflowID(chat)
	return triggerRequest{path: config.TelegramWebhookPath, header: h, body: body, workflowID: wf}, nil
}

// jobsSecret is the secret of the client that signs a triggered job.
func jobsSecret(cfg config.Config, id string) (string, error) {
	clients, err := cfg.Jobs.ClientSet()
	if err != nil {
		return "", err
	}
	if len(clients) == 0 {
		return "", errors.New("JOBS_CLIENTS and JOBS_SHARED_SECRET are not set (nor in the hookflow dev file): nothing to sign a job with")
	}
	if id == "" {
		return clients[0].Secret, nil
	}
	for _, c := range clients {
		if c.ID == id {
			return c.Secret, nil
		}
	}
	return "", usageError{fmt.Sprintf("--client %q: the configured clients are %s", id, strings.Join(clients.IDs(), ", "))}
}

// triggerCommand: `hookflow trigger <source> [<event>] [flags]` or `--list`.
func triggerCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	kinds := triggerKinds()
	if len(args) == 0 || args[0] == "--list" || args[0] == "-list" || args[0] == "list" {
		if len(args) == 0 {
			return usageError{triggerUsage}
		}
		return listTriggers(kinds, stdout)
	}
	source, event, rest := args[0], "", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		event, rest = rest[0], rest[1:]
	}
	i := slices.IndexFunc(kinds, func(k triggerKind) bool { return k.source == source && k.event == event })
	if i < 0 {
		var known []string
		for _, k := range kinds {
			if k.source == source {
				known = append(known, k.event)
			}
		}
		if len(known) > 0 {
			return usageError{fmt.Sprintf("hookflow trigger %s: unknown event %q; it sends %s", source, event, strings.Join(known, ", "))}
		}
		return usageError{fmt.Sprintf("hookflow trigger: unknown source %q; see hookflow trigger --list", source)}
	}
	k := kinds[i]
	fs := flag.NewFlagSet("trigger "+k.name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	build := k.setup(fs)
	if err := fs.Parse(rest); err != nil {
		return usageError{fmt.Sprintf("hookflow trigger %s: %v (flags: %s)", k.name(), err, flagList(fs))}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("hookflow trigger %s: unexpected %q (flags: %s)", k.name(), fs.Arg(0), flagList(fs))}
	}
	base, err := hookflowBase(cfg)
	if err != nil {
		return err
	}
	req, err := build(cfg, time.Now())
	if err != nil {
		return err
	}
	return sendTrigger(ctx, cfg, base, k, req, stdout)
}

func sendTrigger(ctx context.Context, cfg config.Config, base string, k triggerKind, tr triggerRequest, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	target := base + tr.path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(tr.body))
	if err != nil {
		return err
	}
	for h, v := range tr.header {
		req.Header[h] = v
	}
	ct := tr.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "hookflow-trigger")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("hookflow at %s: %w (is it running? hookflow dev, or set HOOKFLOW_URL)", base, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: POST %s\n→ %s\n%s\n", k.name(), target, resp.Status, strings.TrimSpace(string(answer)))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("hookflow answered %s", resp.Status)
	}
	wf := tr.workflowID
	if wf == "" { // a job: its id is in the answer
		var a struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal(answer, &a) == nil && a.JobID != "" {
			wf = store.JobWorkflowID(a.JobID)
		}
	}
	var flags struct {
		Ignored   bool `json:"ignored"`
		Duplicate bool `json:"duplicate"`
	}
	_ = json.Unmarshal(answer, &flags)
	switch {
	case flags.Ignored:
		fmt.Fprintln(stdout, "\nRecorded as ignored: no flow runs for it.")
	case wf != "":
		if flags.Duplicate {
			fmt.Fprintln(stdout, "\nA duplicate of an event already recorded: nothing new runs.")
		}
		fmt.Fprintf(stdout, "\nworkflow     %s\n", wf)
		if u := ops.TemporalRunURL(cfg.Temporal.UIURL, cfg.Temporal.Namespace, wf); u != "" {
			fmt.Fprintf(stdout, "Temporal UI  %s\n", u)
		}
	}
	return nil
}

func listTriggers(kinds []triggerKind, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRIGGER\tSENDS\tFLAGS")
	for _, k := range kinds {
		fs := flag.NewFlagSet(k.name(), flag.ContinueOnError)
		k.setup(fs)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.name(), k.summary, flagList(fs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nExample: hookflow trigger simplyprint job.done --printer 3")
	return nil
}

// flagList is "--printer 3 --job 0": each flag with its default.
func flagList(fs *flag.FlagSet) string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		v := f.DefValue
		switch {
		case v == "false":
			out = append(out, "--"+f.Name)
			return
		case v == "" || strings.ContainsAny(v, " ,/"):
			v = fmt.Sprintf("%q", v)
		}
		out = append(out, "--"+f.Name+" "+v)
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}
