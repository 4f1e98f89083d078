package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/store"
)

// The ceiling benchmark's bare handlers run in a process of their own: this
// test binary started again with these variables set (see TestMain), so
// that /proc gives their CPU apart from the load generator's.
const (
	baselineDBEnv   = "HOOKFLOW_BENCH_BASELINE_DB"   // their database
	baselineAddrEnv = "HOOKFLOW_BENCH_BASELINE_ADDR" // host:port to listen on
	// hookflow's migrated database for the bare pipeline (pathPipeline)
	baselineHookDBEnv = "HOOKFLOW_BENCH_BASELINE_HOOKFLOW_DB"
)

// Paths of the three baselines on the baseline server.
const (
	pathSingle = "/single" // one INSERT and commit per request
	pathGroup  = "/group"  // group commit: one COPY and one commit per batch
	pathNoDB   = "/nodb"   // read the body, answer
	// hookflow's parse and ack pipeline in a bare handler: no middleware,
	// no auth, no tracer provider (spans are no-ops), no log line
	pathPipeline = "/pipeline"
	baselinePGN  = 20 // pool size, DATABASE_MAX_CONNS' default
)

// serveBaselines runs the baseline server until SIGTERM; it returns the
// exit code.
func serveBaselines() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := runBaselines(ctx, os.Getenv(baselineDBEnv), os.Getenv(baselineAddrEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "baseline server:", err)
		return 1
	}
	return 0
}

func runBaselines(ctx context.Context, dbURL, addr string) error {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = baselinePGN
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, ddl := range []string{
		`CREATE TABLE IF NOT EXISTS bare_events (id bigserial PRIMARY KEY, payload json NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS bare_group_events (id bigint PRIMARY KEY, payload json NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if _, err := pool.Exec(ctx, ddl); err != nil {
			return err
		}
	}
	gc, err := newGroupCommitter(ctx, pool)
	if err != nil {
		return err
	}
	writers := 1
	if v, err := strconv.Atoi(os.Getenv("BENCH_GROUP_WRITERS")); err == nil && v > 0 {
		writers = v
	}
	for range writers {
		go gc.run(ctx)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.POST(pathSingle, singleInsert(pool))
	r.POST(pathGroup, gc.handle)
	if db := os.Getenv(baselineHookDBEnv); db != "" {
		h, err := newBarePipeline(ctx, db)
		if err != nil {
			return err
		}
		defer h.st.Close()
		r.POST(pathPipeline, h.handle)
	}
	var seq atomic.Int64
	r.POST(pathNoDB, func(c *gin.Context) {
		if _, err := io.ReadAll(c.Request.Body); err != nil {
			c.AbortWithStatus(400)
			return
		}
		c.JSON(200, gin.H{"status": "received", "id": seq.Add(1)})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// groupCommitter is the group-commit baseline: handlers queue their bodies
// to one writer goroutine (BENCH_GROUP_WRITERS: that many, sharing the
// queue), which writes everything queued at that moment (up to
// groupMaxBatch) with one COPY in one transaction, commits once, and then
// answers each request of the batch. There is no timer: an idle writer
// takes the first request at once, and while it commits, the next batch
// forms in the queue. Ids are assigned by the writers (the table's only
// writers; a failed batch leaves a gap; the primary key checks them).
type groupCommitter struct {
	pool  *pgxpool.Pool
	queue chan groupReq
	next  atomic.Int64 // the last id handed out
}

const groupMaxBatch = 1024

type groupReq struct {
	payload []byte
	done    chan groupRes // buffered (1): the writer never waits on a handler
}

type groupRes struct {
	id  int64
	err error
}

func newGroupCommitter(ctx context.Context, pool *pgxpool.Pool) (*groupCommitter, error) {
	g := &groupCommitter{pool: pool, queue: make(chan groupReq, 4*groupMaxBatch)}
	var last int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM bare_group_events`).Scan(&last); err != nil {
		return nil, err
	}
	g.next.Store(last)
	return g, nil
}

func (g *groupCommitter) handle(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.AbortWithStatus(400)
		return
	}
	req := groupReq{payload: body, done: make(chan groupRes, 1)}
	select {
	case g.queue <- req:
	case <-c.Request.Context().Done():
		c.AbortWithStatus(503)
		return
	}
	res := <-req.done // answered only after the batch's commit
	if res.err != nil {
		c.AbortWithStatus(500)
		return
	}
	c.JSON(200, gin.H{"status": "received", "id": res.id})
}

func (g *groupCommitter) run(ctx context.Context) {
	batch := make([]groupReq, 0, groupMaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-g.queue:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < groupMaxBatch {
			select {
			case r := <-g.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		first := g.next.Add(int64(len(batch))) - int64(len(batch)) + 1
		err := g.write(ctx, batch, first)
		for i, r := range batch {
			r.done <- groupRes{id: first + int64(i), err: err}
		}
	}
}

// write stores the batch with ids first, first+1, ... with one COPY. A
// COPY outside BEGIN is a transaction of its own, committed when it ends:
// one transaction and one commit, without the round trips of BEGIN and
// COMMIT.
func (g *groupCommitter) write(ctx context.Context, batch []groupReq, first int64) error {
	_, err := g.pool.CopyFrom(ctx, pgx.Identifier{"bare_group_events"}, []string{"id", "payload"},
		pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
			return []any{first + int64(i), string(batch[i].payload)}, nil
		}))
	return err
}

// barePipeline is hookflow's own ack pipeline (inbound.Pipeline: one
// flusher, its multi-row INSERT, the outbox and counter triggers, every
// index of inbound_events) behind a bare Gin handler that parses the
// SimplyPrint body as hookflow does. Against the group commit it shows
// what hookflow's table and statement cost; against hookflow's API, what
// the server around them (middleware, auth, tracing, metrics) costs.
type barePipeline struct {
	st *store.Store
	p  *inbound.Pipeline
}

func newBarePipeline(ctx context.Context, db string) (*barePipeline, error) {
	st, err := store.Open(ctx, db, baselinePGN)
	if err != nil {
		return nil, err
	}
	p := &inbound.Pipeline{Store: st}
	p.Run(ctx)
	return &barePipeline{st: st, p: p}, nil
}

func (b *barePipeline) handle(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.AbortWithStatus(400)
		return
	}
	ev, err := simplyprint.ParseEvent(body)
	if err != nil {
		c.AbortWithStatus(400)
		return
	}
	id, _, err := b.p.Accept(c.Request.Context(), api.SimplyPrintRecord(ev, body))
	if err != nil {
		c.AbortWithStatus(500)
		return
	}
	c.JSON(200, gin.H{"status": "received", "id": id})
}
