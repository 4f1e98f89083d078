package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/internal/config"
)

// The dev file is how a second terminal finds what `hookflow dev` chose:
// it writes the connection details (DATABASE_URL, HOOKFLOW_URL, Temporal,
// ADMIN_TOKEN) and the inbound secrets of the run to .data/hookflow-dev.json
// with mode 0600, and removes it when it stops. The CLI's client commands
// read it for every variable their environment leaves empty: an explicit
// environment always wins. A file whose process is gone (a dev killed with
// SIGKILL) is ignored with a warning.

// devFileName is the file under the dev data directory.
const devFileName = "hookflow-dev.json"

// devDataDir is where the CLI looks for the dev file: the default of
// `hookflow dev --data`, relative to the working directory.
const devDataDir = ".data"

// devFile is the file's content.
type devFile struct {
	PID       int               `json:"pid"`
	StartedAt time.Time         `json:"started_at"`
	Env       map[string]string `json:"env"`
}

// devGeneratedSecrets are the inbound secrets without which an endpoint is
// disabled (403/503): dev makes one for this run when it is unset, so that
// `hookflow trigger` works against `make run` out of the box. The
// SimplyPrint and Okdesk webhooks accept unauthenticated calls when their
// secret is unset, so theirs are left alone (the seed's curl stays valid).
var devGeneratedSecrets = []struct {
	name string
	get  func(*config.Config) *string
	set  func(*config.Config) bool // already set (under any of its names)
}{
	{"TELEGRAM_WEBHOOK_SECRET", func(c *config.Config) *string { return &c.Ratings.TelegramWebhookSecret },
		func(c *config.Config) bool { return c.Ratings.TelegramWebhookSecret != "" }},
	{"BITRIX_WEBHOOK_TOKEN", func(c *config.Config) *string { return &c.Orders.WebhookToken },
		func(c *config.Config) bool { return c.Orders.Token() != "" }},
	{"JOBS_SHARED_SECRET", func(c *config.Config) *string { return &c.Jobs.SharedSecret },
		func(c *config.Config) bool { return c.Jobs.SharedSecret != "" || c.Jobs.Clients != "" }},
}

// fillDevSecrets sets the unset secrets of devGeneratedSecrets to values
// made for this run and returns their names (never the values: they go
// only to the 0600 dev file).
func fillDevSecrets(cfg *config.Config) []string {
	var names []string
	for _, s := range devGeneratedSecrets {
		if s.set(cfg) {
			continue
		}
		*s.get(cfg), _ = adminTokenForRun("")
		names = append(names, s.name)
	}
	return names
}

// devFileEnv is what dev writes: where everything is, the admin token and
// the inbound secrets the API checks (set ones only).
func devFileEnv(cfg config.Config, apiURL string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":       cfg.DatabaseURL,
		"HOOKFLOW_URL":       apiURL,
		"PUBLIC_BASE_URL":    cfg.PublicBaseURL,
		"TEMPORAL_ADDRESS":   cfg.Temporal.Address,
		"TEMPORAL_NAMESPACE": cfg.Temporal.Namespace,
		"TEMPORAL_UI_URL":    cfg.Temporal.UIURL,
		"ADMIN_TOKEN":        cfg.AdminToken,
		"WEBHOOK_PATH":       cfg.Ratings.Path(),

		"SIMPLYPRINT_WEBHOOK_SECRET": cfg.SimplyPrint.WebhookSecret,
		"OKDESK_WEBHOOK_SECRET":      cfg.Ratings.Secret(),
		"TELEGRAM_WEBHOOK_SECRET":    cfg.Ratings.TelegramWebhookSecret,
		"BITRIX_WEBHOOK_TOKEN":       cfg.Orders.Token(),
		"JOBS_CLIENTS":               cfg.Jobs.Clients,
		"JOBS_SHARED_SECRET":         cfg.Jobs.SharedSecret,

		// What `hookflow okdesk link-contact` needs besides the database.
		"TELEGRAM_BOT_USERNAME": cfg.Ratings.TelegramBotUsername,
		"OKDESK_API_URL":        cfg.Ratings.OkdeskAPIURL,
		"OKDESK_API_TOKEN":      cfg.Ratings.OkdeskAPIToken,
	}
	// Required with OKDESK_API_URL: without it the file's Okdesk settings
	// would not load in the second terminal.
	if cfg.Ratings.OkdeskAPIURL != "" && cfg.Ratings.CommentAuthorID != 0 {
		env["OKDESK_COMMENT_AUTHOR_ID"] = strconv.FormatInt(cfg.Ratings.CommentAuthorID, 10)
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

// writeDevFile writes the dev file under dir with mode 0600 (through a
// temporary file and a rename, so a reader never sees half of it) and
// returns its path and a function that removes it.
func writeDevFile(dir string, env map[string]string) (string, func(), error) {
	raw, err := json.MarshalIndent(devFile{PID: os.Getpid(), StartedAt: time.Now().UTC(), Env: env}, "", "  ")
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, devFileName)
	tmp, err := os.CreateTemp(dir, devFileName+".*") // 0600
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", nil, err
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return "", nil, err
	}
	if err := tmp.Close(); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", nil, err
	}
	remove := func() {
		// Only our own file: a later dev may have replaced it.
		if f, err := readDevFile(path); err == nil && f.PID == os.Getpid() {
			_ = os.Remove(path)
		}
	}
	return path, remove, nil
}

func readDevFile(path string) (devFile, error) {
	var f devFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// processAlive reports whether pid is a running process (one we may not
// signal is alive too).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// loadConfigWithDevFile is config.Load for the client commands: each
// variable the environment leaves empty is taken from the dev file in dir,
// when one is there and its `hookflow dev` still runs. Problems with the
// file are warnings on w, never a stop: the environment alone may suffice.
func loadConfigWithDevFile(dir string, w io.Writer) (config.Config, error) {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	path := filepath.Join(dir, devFileName)
	f, err := readDevFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		fmt.Fprintf(w, "hookflow: ignoring %s: %v\n", path, err)
	case !processAlive(f.PID):
		fmt.Fprintf(w, "hookflow: ignoring %s: the hookflow dev that wrote it (pid %d) is gone; start it again or set the variables\n", path, f.PID)
	default:
		var used []string
		for k, v := range f.Env {
			if vars[k] == "" {
				vars[k] = v
				used = append(used, k)
			}
		}
		if len(used) > 0 {
			sort.Strings(used)
			fmt.Fprintf(w, "hookflow: using the running hookflow dev (pid %d) from %s for %s\n", f.PID, path, strings.Join(used, ", "))
		}
	}
	return config.LoadFrom(vars)
}
