package cluster

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hookflow/hookflow/internal/devenv"
)

//go:embed temporal.yaml.tmpl ui.yaml.tmpl dynamicconfig.yaml
var templates embed.FS

// historyShards is fixed when the databases are first set up; 4 keeps the
// server light beside everything else on a small machine.
const historyShards = 4

type templateData struct {
	Ports                        Ports
	HistoryShards                int
	Database, VisibilityDatabase string
	PostgresAddr, User, Password string
	DynamicConfigPath, Namespace string
}

func (c *Cluster) templateData() templateData {
	u, _ := url.Parse(c.adminURL)
	pw, _ := u.User.Password()
	host := u.Hostname()
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return templateData{
		Ports: c.opts.Ports, HistoryShards: historyShards,
		Database: c.opts.DatabasePrefix + "temporal", VisibilityDatabase: c.opts.DatabasePrefix + "temporal_visibility",
		PostgresAddr: net.JoinHostPort(host, port), User: u.User.Username(), Password: pw,
		DynamicConfigPath: filepath.Join(c.opts.DataDir, "temporal", "dynamicconfig.yaml"),
		Namespace:         Namespace,
	}
}

// writeTemplate renders an embedded template to path. quote writes a YAML
// string (JSON is YAML), so names and passwords need no escaping rules.
func writeTemplate(path, name string, data any, mode os.FileMode) error {
	raw, err := templates.ReadFile(name)
	if err != nil {
		return err
	}
	tpl, err := template.New(name).Funcs(template.FuncMap{"quote": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	}}).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), mode)
}

// setupTemporalSchemas creates Temporal's two databases and brings their
// schemas to the version this server expects, with the server's own schema
// tool and the schemas embedded in it (--schema-name), so nothing outside
// the binary is needed. Idempotent: existing databases are kept, the
// versioning tables are set up only when missing, update-schema applies
// only what is new.
func (c *Cluster) setupTemporalSchemas(ctx context.Context) error {
	d := c.templateData()
	for _, db := range []struct{ name, schema string }{
		{d.Database, "postgresql/v12/temporal"},
		{d.VisibilityDatabase, "postgresql/v12/visibility"},
	} {
		exists, hasVersioning, err := c.inspectDatabase(ctx, db.name)
		if err != nil {
			return fmt.Errorf("inspect database %s: %w", db.name, err)
		}
		if !exists {
			if err := c.sqlTool(ctx, d, db.name, "create-database"); err != nil {
				return err
			}
		}
		if !hasVersioning {
			if err := c.sqlTool(ctx, d, db.name, "setup-schema", "-v", "0.0"); err != nil {
				return err
			}
		}
		if err := c.sqlTool(ctx, d, db.name, "update-schema", "--schema-name", db.schema); err != nil {
			return err
		}
	}
	return nil
}

// inspectDatabase tells whether the database exists and has the schema
// tool's versioning table.
func (c *Cluster) inspectDatabase(ctx context.Context, name string) (exists, hasVersioning bool, err error) {
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return false, false, err
	}
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists)
	conn.Close(ctx)
	if err != nil || !exists {
		return exists, false, err
	}
	dbURL, err := devenv.DatabaseURL(c.adminURL, name)
	if err != nil {
		return true, false, err
	}
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return true, false, err
	}
	defer db.Close(ctx)
	err = db.QueryRow(ctx, `SELECT to_regclass('public.schema_version') IS NOT NULL`).Scan(&hasVersioning)
	return true, hasVersioning, err
}

// sqlTool runs temporal-sql-tool against one database. The connection goes
// in the tool's SQL_* variables, so the password is not on a command line
// (ps shows those to every user).
func (c *Cluster) sqlTool(ctx context.Context, d templateData, db string, args ...string) error {
	host, port, _ := net.SplitHostPort(d.PostgresAddr)
	c.log.Info("temporal-sql-tool "+args[0], "database", db)
	p := &devenv.Process{
		Name: fmt.Sprintf("temporal-sql-tool %s (database %s)", strings.Join(args, " "), db),
		Path: c.opts.SQLTool, Args: args, LogPath: c.logPath("temporal-sql-tool"),
		Env: append(serverEnv(), "SQL_PLUGIN=postgres12", "SQL_HOST="+host, "SQL_PORT="+port,
			"SQL_USER="+d.User, "SQL_PASSWORD="+d.Password, "SQL_DATABASE="+db),
	}
	return p.Run(ctx)
}

// startTemporal writes the server's config and starts it, then registers
// the namespace and hookflow's search attributes.
func (c *Cluster) startTemporal(ctx context.Context) error {
	d := c.templateData()
	root := filepath.Join(c.opts.DataDir, "temporal")
	// 0600: the file holds the database password.
	if err := writeTemplate(filepath.Join(root, "cluster.yaml"), "temporal.yaml.tmpl", d, 0o600); err != nil {
		return err
	}
	dyn, err := templates.ReadFile("dynamicconfig.yaml")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.DynamicConfigPath, dyn, 0o644); err != nil {
		return err
	}
	c.temporal, err = client.NewLazyClient(client.Options{
		HostPort: c.TemporalAddress(), Namespace: Namespace, Logger: sdkLogger(c.log),
	})
	if err != nil {
		return err
	}
	err = c.add(ctx, "temporal", 30*time.Second, &devenv.Process{
		Path: c.opts.TemporalServer,
		// --root/--config/--env: the server reads <root>/<config>/<env>.yaml.
		Args: []string{"--root", root, "--config", ".", "--env", "cluster", "--allow-no-auth", "start"},
		Env:  serverEnv(),
		Ready: func(ctx context.Context) error {
			_, err := c.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
		ReadyTimeout: 2 * time.Minute,
	})
	if err != nil {
		return err
	}
	if err := c.ensureNamespace(ctx); err != nil {
		return err
	}
	if err := c.waitNamespaceCached(ctx); err != nil {
		return err
	}
	return c.migrate(ctx)
}

// waitNamespaceCached waits until the frontend serves the namespace: it
// answers from a cache refreshed every few seconds, so right after the
// registration hookflow migrate would be told the namespace is not found.
func (c *Cluster) waitNamespaceCached(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.temporal.OperatorService().ListSearchAttributes(rctx, &operatorservice.ListSearchAttributesRequest{Namespace: Namespace})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Temporal frontend does not serve namespace %q 30s after its registration: %w; see %s", Namespace, err, c.logPath("temporal"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ensureNamespace registers the namespace unless it exists.
func (c *Cluster) ensureNamespace(ctx context.Context) error {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: c.TemporalAddress(), Logger: sdkLogger(c.log)})
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = nc.Describe(ctx, Namespace)
	var notFound *serviceerror.NamespaceNotFound
	if !errors.As(err, &notFound) {
		return wrapNamespace(err)
	}
	c.log.Info("registering the Temporal namespace", "namespace", Namespace, "retention", retention.String())
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: Namespace, WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	return wrapNamespace(err)
}

func wrapNamespace(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("register the Temporal namespace %q: %w", Namespace, err)
}

// migrate runs `hookflow migrate --temporal` with the cluster's
// environment: hookflow's tables and search attributes, as the migrate
// service of docker-compose.yml does.
func (c *Cluster) migrate(ctx context.Context) error {
	p := &devenv.Process{Name: "hookflow migrate --temporal", Path: c.opts.Hookflow, Args: []string{"migrate", "--temporal"},
		Env: c.hookflowEnv(), LogPath: c.logPath("migrate")}
	c.log.Info("hookflow migrate --temporal", "log", p.LogPath)
	return p.Run(ctx)
}
