package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/cluster/clustertest"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
)

// Credentials of the fakes, shared with the cluster through its
// environment. They are test values, yet never logged all the same.
const (
	adminToken          = "chaos-admin-token"
	spSecret            = "chaos-simplyprint-secret"
	bitrixAppToken      = "chaos-bitrix24-application-token"
	okdeskAPIToken      = "chaos-okdesk-api-token"
	okdeskWebhookSecret = "chaos-okdesk-webhook-secret"
	telegramBotToken    = "424242:CHAOS-bot-token"
	telegramSecret      = "chaos_telegram_secret"
	jobsSecret          = "chaos-jobs-secret"
	generatorKey        = "sk-chaos"
	generatorModel      = "gpt-4o-mini"
)

// Timing of the run: how long the load runs before the first fault (its
// backlog is the steady state), the pause between faults once the last one
// recovered, and the bounds on recovery and on settling.
const (
	warmUp        = 10 * time.Second
	gap           = 10 * time.Second
	downtime      = 5 * time.Second // Temporal and the last worker stay down this long
	recoveryBound = 90 * time.Second
	settleBound   = 5 * time.Minute
	steadyHold    = 2 * time.Second
)

// run is one chaos run: the cluster, the fakes, the senders' bookkeeping.
type run struct {
	ctx   context.Context // ends when the run has taken too long
	scale float64         // of the offered load
	// waits ends settleBound after the load stopped: the conversations
	// still under way and the settling give up then.
	waits context.Context
	c     *cluster.Cluster
	db    *pgxpool.Pool
	send  *sender
	acks  *ackLog

	sp, bx, back, ok, tgFlow, job *flow

	okd  *okdesktest.Server
	tg   *telegramtest.Server
	rest *bitrixtest.REST
	gen  *generatortest.Server
	rcv  *callbacktest.Receiver

	loadStart       time.Time
	chats, contacts []int64
	nextUpdate      atomic.Int64
	presses         atomic.Int64

	mu       sync.Mutex
	resolved []int64 // Okdesk issues whose resolution was acked

	backlog *backlog
	// The steady state, from the warm-up: at most this many events wait
	// for hand-over, and at most this many for processing.
	threshold, unfinishedThreshold int64
}

// fault is one fault and how the cluster recovered from it.
type fault struct {
	name            string
	at, actionDone  time.Time
	down            time.Time // when the process was gone
	acked, drained  time.Time // zero: did not happen within recoveryBound
	processedCaught time.Time
	err             error
}

// TestChaos is `make chaos`: see the package comment.
func TestChaos(t *testing.T) {
	if os.Getenv("HOOKFLOW_CHAOS") != "1" {
		t.Skip("faults under load on the production topology take minutes: run `make chaos`")
	}
	scale, err := loadScale()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	r := &run{ctx: ctx, scale: scale, acks: &ackLog{}, backlog: &backlog{},
		sp: newFlow("simplyprint", store.SimplyPrintSource), bx: newFlow("bitrix24 orders", store.BitrixSource),
		back: newFlow("crm changes (back sync)", store.BitrixBackSyncSource), ok: newFlow("okdesk resolutions", store.OkdeskSource),
		tgFlow: newFlow("telegram updates", store.TelegramSource), job: newFlow("jobs", store.JobsSource)}
	waits, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	r.waits = waits
	r.nextUpdate.Store(900_000_000)
	r.startFakes(t)
	r.startCluster(t)

	samplerCtx, stopSampler := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Add(2)
	go func() { defer sampler.Done(); r.backlog.run(samplerCtx, r.db) }()
	go func() { defer sampler.Done(); r.progress(t, samplerCtx) }()
	defer func() { stopSampler(); sampler.Wait() }()

	if err := r.linkChats(); err != nil {
		t.Fatalf("link the Telegram chats: %v", err)
	}

	// The load, on all four flows at once, until the faults are over.
	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var senders, pressers sync.WaitGroup
	loadStart := time.Now()
	r.loadStart = loadStart
	r.simplyPrint(load, &senders)
	r.orders(load, &senders)
	r.issues(load, &senders)
	r.jobs(load, &senders)
	pressing := make(chan struct{})
	r.presser(pressing, &pressers)

	time.Sleep(warmUp)
	outbox, unfinished := r.backlog.peaks(loadStart.Add(warmUp/2), time.Now())
	r.threshold, r.unfinishedThreshold = max(2*outbox, 100), max(2*unfinished, 200)
	t.Logf("load ×%g; warm-up: %d acks, relay backlog up to %d, unprocessed up to %d: steady means at most %d and %d",
		r.scale, r.acked(), outbox, unfinished, r.threshold, r.unfinishedThreshold)

	faults := r.faults(t)

	stopLoad()
	loadEnd := time.Now()
	time.AfterFunc(settleBound, stopWaiting)
	t.Logf("load stopped after %s: %d acks; waiting for started conversations and for everything to settle",
		loadEnd.Sub(loadStart).Round(time.Second), r.acked())
	senders.Wait()
	settled, pending := r.settle()
	close(pressing)
	pressers.Wait()
	t.Logf("settled=%v in %s after the load (%s)", settled, time.Since(loadEnd).Round(time.Second), pending)

	rep := r.report(t, faults, settled, pending)
	fmt.Println(rep.table())
	if rep.failed() {
		t.Errorf("chaos run failed: %s (logs in %s)", rep.reasons(), r.c.LogDir())
		return
	}
	t.Logf("whole run %s", time.Since(loadStart).Round(time.Second))
}

// progress logs every 10 s how the run goes, so a run that does not keep
// up shows it long before the report.
func (r *run) progress(t *testing.T, ctx context.Context) {
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		var resent int64
		for _, f := range r.flows() {
			resent += f.retries.Load()
		}
		s := r.backlog.last()
		t.Logf("+%3.0fs  %6d acks, %5d resent, relay backlog %5d, unprocessed %5d",
			time.Since(start).Seconds(), r.acked(), resent, s.outbox, s.unfinished)
	}
}

func (r *run) acked() int64 {
	var n int64
	for _, f := range r.flows() {
		n += f.acked.Load()
	}
	return n
}

func (r *run) flows() []*flow { return []*flow{r.sp, r.bx, r.back, r.ok, r.tgFlow, r.job} }

// startFakes starts every third party in this process, on loopback.
func (r *run) startFakes(t *testing.T) {
	r.okd = okdesktest.New(okdeskAPIToken)
	t.Cleanup(r.okd.Close)
	r.tg = telegramtest.New(telegramBotToken)
	t.Cleanup(r.tg.Close)
	r.rest = bitrixtest.NewREST(t, "", "")
	r.gen = generatortest.New(generatorKey, generatorModel)
	t.Cleanup(r.gen.Close)
	r.rcv = callbacktest.New(jobsSecret)
	t.Cleanup(r.rcv.Close)
}

// startCluster starts the topology (clustertest: free ports, a data dir
// kept when the run fails) with a private Postgres, which the run restarts.
func (r *run) startCluster(t *testing.T) {
	started := time.Now()
	r.c = clustertest.Start(t, cluster.Options{Postgres: "private", AdminToken: adminToken, Env: r.env()})
	t.Logf("cluster up in %s; logs in %s", time.Since(started).Round(time.Second), r.c.LogDir())
	var err error
	if r.db, err = pgxpool.New(r.ctx, r.c.DatabaseURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.db.Close)
	r.send = &sender{apis: r.c.APIURLs(), hc: &http.Client{Timeout: 10 * time.Second}, log: r.acks}
}

// env points the APIs and workers at the fakes. Retry waits are shortened
// (a back sync or callback retried after a crash would otherwise wait 10 s
// or a minute); the relay runs with its shipped settings except the
// longest backoff, so recovery after Temporal comes back is measured in
// seconds, not up to 30 s.
func (r *run) env() []string {
	return []string{
		"LOG_LEVEL=info", "RELAY_MAX_BACKOFF=5s",
		"SIMPLYPRINT_WEBHOOK_SECRET=" + spSecret,
		"BITRIX_APP_TOKEN=" + bitrixAppToken, "BITRIX_REST_URL=" + r.rest.URL(),
		"BITRIX_BACKSYNC_RETRY_BASE=200ms", "BITRIX_BACKSYNC_RETRY_MAX=2s", "BITRIX_TIMEOUT=5s",
		"OKDESK_API_URL=" + r.okd.APIURL(), "OKDESK_API_TOKEN=" + okdeskAPIToken, "OKDESK_COMMENT_AUTHOR_ID=5",
		"OKDESK_WEBHOOK_SECRET=" + okdeskWebhookSecret,
		"TELEGRAM_BOT_TOKEN=" + telegramBotToken, "TELEGRAM_API_URL=" + r.tg.URL(),
		"TELEGRAM_WEBHOOK_SECRET=" + telegramSecret, "TELEGRAM_BOT_USERNAME=hookflow_chaos_bot",
		"JOBS_CLIENTS=chaos:" + jobsSecret,
		"GENERATOR_URL=" + r.gen.URL(), "GENERATOR_API_KEY=" + generatorKey, "GENERATOR_MODEL=" + generatorModel,
		"GENERATOR_RETRY_BASE=100ms", "GENERATOR_TIMEOUT=10s",
		"CALLBACK_RETRY_BASE=1s", "CALLBACK_TIMEOUT=5s",
		// The receiver listens on loopback, which the SSRF guard refuses
		// unless told otherwise (as jobs_test.go does).
		"CALLBACK_ALLOW_PRIVATE_NETWORKS=true",
	}
}

// faults injects the faults in the issue's order, each once the previous
// one has recovered (acks resumed, backlog steady, processing caught up).
func (r *run) faults(t *testing.T) []*fault {
	var faults []*fault
	do := func(name string, action func(gone func()) error) {
		f := r.inject(name, action)
		faults = append(faults, f)
		t.Logf("%-32s ack again %s, backlog drained %s, processing caught up %s%s", name,
			since(f.at, f.acked), since(f.at, f.drained), since(f.at, f.processedCaught), errSuffix(f.err))
		time.Sleep(gap)
	}
	do("SIGKILL worker-1", func(gone func()) error { r.c.Process("worker-1").Kill(); gone(); return nil })

	holder, err := r.shardHolder()
	do("SIGKILL "+holder+" (relay shards)", func(gone func()) error {
		if err != nil {
			return err
		}
		r.c.Process(holder).Kill()
		gone()
		return nil
	})
	do("SIGKILL temporal, start again", func(gone func()) error {
		tp := r.c.Process("temporal")
		tp.Kill()
		gone()
		time.Sleep(downtime)
		return tp.Start(r.ctx)
	})
	do("restart postgres", func(gone func()) error {
		pg := r.c.Process("postgres")
		pg.Stop()
		gone()
		return pg.Start(r.ctx)
	})
	do("SIGKILL worker-2, start all", func(gone func()) error {
		r.c.Process("worker-2").Kill()
		gone()
		time.Sleep(downtime)
		for _, name := range []string{"worker-1", "worker-2", holder} {
			if p := r.c.Process(name); p.PID() == 0 {
				if err := p.Start(r.ctx); err != nil {
					return fmt.Errorf("start %s: %w", name, err)
				}
			}
		}
		return nil
	})
	return faults
}

// inject runs one fault and waits (bounded) until the cluster recovered.
// The action calls gone once the process is down (Postgres takes a moment
// to stop): acks count as resumed from attempts started after that, as
// an attempt under way while it went down says nothing about recovery.
func (r *run) inject(name string, action func(gone func()) error) *fault {
	f := &fault{name: name, at: time.Now()}
	f.down = f.at
	f.err = action(func() { f.down = time.Now() })
	f.actionDone = time.Now()
	deadline := time.Now().Add(recoveryBound)
	for time.Now().Before(deadline) && r.ctx.Err() == nil {
		if f.acked.IsZero() {
			f.acked, _ = r.acks.firstAfter(f.down)
		}
		if f.drained.IsZero() {
			f.drained, _ = r.backlog.steadySince(f.actionDone, r.threshold, steadyHold)
		}
		if f.processedCaught.IsZero() {
			f.processedCaught, _ = r.backlog.caughtUpSince(f.actionDone, r.unfinishedThreshold, steadyHold)
		}
		if !f.acked.IsZero() && !f.drained.IsZero() && !f.processedCaught.IsZero() {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return f
}

// shardHolder asks each API's /readyz which holds relay shards (the one
// holding most, when both do).
func (r *run) shardHolder() (string, error) {
	best, bestHeld := "", 0
	for i, u := range r.c.APIURLs() {
		if held := clustertest.HeldShards(r.send.hc, u); held > bestHeld {
			best, bestHeld = fmt.Sprintf("api-%d", i+1), held
		}
	}
	if bestHeld == 0 {
		return "api-1", fmt.Errorf("no API replica reports relay shards in /readyz")
	}
	return best, nil
}

func since(from, to time.Time) string {
	if to.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%.1fs", to.Sub(from).Seconds())
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
