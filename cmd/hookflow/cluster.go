package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/config"
)

// clusterCommand runs the production topology on this machine (make
// cluster): Postgres, a Temporal server on Postgres with its UI server, and
// API and worker replicas as separate processes. Ctrl-C stops all of it.
func clusterCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	o := cluster.Options{Log: log}
	fs.StringVar(&o.DataDir, "data", ".data/cluster", "configs, logs and a private Postgres")
	fs.StringVar(&o.Postgres, "postgres", "auto", "auto (127.0.0.1:5432, else a private cluster), local, or private")
	fs.StringVar(&o.AdminDatabaseURL, "postgres-url", "", "a superuser URL of another Postgres to create the databases in")
	fs.StringVar(&o.BinDir, "bin", "bin", "where temporal-server, temporal-sql-tool and temporal-ui-server are")
	fs.IntVar(&o.APIs, "apis", 2, "API replicas")
	fs.IntVar(&o.Workers, "workers", 2, "worker processes")
	apiPort := fs.Int("api-port", 8080, "first API port; replicas take the next ones")
	metricsPort := fs.Int("metrics-port", 9464, "first worker metrics port; workers take the next ones")
	fs.IntVar(&o.Ports.Frontend, "temporal-port", 7233, "Temporal frontend gRPC port")
	fs.IntVar(&o.Ports.UI, "ui-port", 8233, "Temporal UI port")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if o.APIs < 1 || o.Workers < 1 {
		return usageError{"--apis and --workers must be at least 1"}
	}
	for i := range o.APIs {
		o.Ports.APIs = append(o.Ports.APIs, *apiPort+i)
	}
	for i := range o.Workers {
		o.Ports.WorkerMetrics = append(o.Ports.WorkerMetrics, *metricsPort+i)
	}
	var generatedToken bool
	o.AdminToken, generatedToken = adminTokenForRun(cfg.AdminToken)
	fmt.Fprintln(stdout, "starting the cluster (first start: about a minute; logs in", o.DataDir+"/logs)")
	c, err := cluster.Start(ctx, o)
	if err != nil {
		return err
	}
	defer c.Stop()
	printCluster(stdout, c, adminHint(o.AdminToken, generatedToken), bearerForRun(o.AdminToken, generatedToken))
	// A process that dies on its own is reported; the rest keeps running,
	// as replicas behind a load balancer would.
	for _, p := range c.Processes() {
		go func() {
			select {
			case <-p.Exited():
				if ctx.Err() == nil {
					fmt.Fprintf(stdout, "\n%s exited on its own; see %s\n", p.Name(), p.LogPath())
				}
			case <-ctx.Done():
			}
		}()
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping (workers, APIs, UI, Temporal, Postgres)...")
	return nil
}

func printCluster(w io.Writer, c *cluster.Cluster, admin, bearer string) {
	apis := c.APIURLs()
	var b strings.Builder
	fmt.Fprintf(&b, "\nhookflow cluster is running (Ctrl-C stops everything it started)\n\n")
	for i, u := range apis {
		fmt.Fprintf(&b, "  API %d          %s   (health %[2]s/readyz, metrics %[2]s/metrics)\n", i+1, u)
	}
	for i, u := range c.MetricsURLs() {
		fmt.Fprintf(&b, "  worker %d       %s\n", i+1, u)
	}
	fmt.Fprintf(&b, "  Temporal UI    %s/namespaces/%s/workflows\n", c.UIURL(), cluster.Namespace)
	fmt.Fprintf(&b, "  Temporal       %s (gRPC frontend; server on Postgres, database %s)\n", c.TemporalAddress(), redactURL(c.TemporalDatabaseURL()))
	fmt.Fprintf(&b, "  Postgres       %s\n", redactURL(c.DatabaseURL()))
	fmt.Fprintf(&b, "  ops console    %s/ops   %s\n\n", apis[0], admin)
	fmt.Fprintf(&b, "  logs (%s)\n", c.LogDir())
	for _, p := range c.Processes() {
		fmt.Fprintf(&b, "    %-12s pid %-8d %s\n", p.Name(), p.PID(), p.LogPath())
	}
	fmt.Fprintf(&b, "\nTry:  ")
	for i, u := range apis {
		if i > 0 {
			fmt.Fprintf(&b, "      ")
		}
		fmt.Fprintf(&b, "curl -X POST %s/api/v1/simpleprint/webhook/ -H 'Content-Type: application/json' -d '{\"test\": true}'\n", u)
	}
	fmt.Fprintf(&b, "      curl -H \"Authorization: Bearer %s\" %s/api/v1/simpleprint/events\n", bearer, apis[0])
	fmt.Fprint(w, b.String())
}
