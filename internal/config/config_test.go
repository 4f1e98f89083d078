package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, map[string]string{})
	if cfg.HTTPAddr != ":8080" || cfg.Temporal.Address != "127.0.0.1:7233" || cfg.Temporal.Namespace != "default" ||
		cfg.BodyLimit != 1<<20 || cfg.Temporal.TaskQueue != "hookflow" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"LOG_LEVEL":            {"LOG_LEVEL": "loud"},
		"BODY_LIMIT_BYTES":     {"BODY_LIMIT_BYTES": "lots"},
		"PUBLIC_BASE_URL":      {"PUBLIC_BASE_URL": "ftp://x"},
		"RELAY_POLL_INTERVAL":  {"RELAY_POLL_INTERVAL": "soon"},
		"READ_TOKENS entry 1":  {"READ_TOKENS": "grafana:short"},
		"ADMIN_TOKENS entry 2": {"ADMIN_TOKENS": "ops:0123456789abcdef0123,ops:fedcba98765432100123"},
		"PUBLIC_MONITORING":    {"PUBLIC_MONITORING": "maybe"},
	}
	for name, vars := range cases {
		loadFails(t, vars, name)
	}
}

func TestEveryVariableIsDocumented(t *testing.T) {
	vars, err := Variables()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if v.Description == "" {
			t.Errorf("%s has no desc tag", v.Name)
		}
	}
}

// TestREADMEConfigTable keeps README.md's table equal to the config structs
// (UPDATE_README=1 rewrites it).
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const startMark, endMark = "<!-- config:start -->\n", "<!-- config:end -->"
	readme := string(raw)
	i, j := strings.Index(readme, startMark), strings.Index(readme, endMark)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", startMark, endMark)
	}
	table, err := MarkdownTable()
	if err != nil {
		t.Fatal(err)
	}
	if readme[i+len(startMark):j] == table {
		return
	}
	if os.Getenv("UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(readme[:i+len(startMark)]+table+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's configuration table is out of date: run UPDATE_README=1 go test ./internal/config/")
}

// TestTokens: ADMIN_TOKEN keeps accepting what it always did (tests use
// short ones); the named lists need 16 characters and never show a token in
// their errors.
func TestTokens(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"ADMIN_TOKEN": "admin-token", "ADMIN_TOKENS": "ci:0123456789abcdef0123",
		"READ_TOKENS": "grafana:fedcba98765432100123"})
	set, err := cfg.Tokens()
	if err != nil || len(set.Identities()) != 3 {
		t.Fatalf("tokens %v %v", set.Identities(), err)
	}
	_, err = LoadFrom(map[string]string{"READ_TOKENS": "grafana:too-short-token"})
	if err == nil || !strings.Contains(err.Error(), "READ_TOKENS entry 1") || strings.Contains(err.Error(), "too-short-token") {
		t.Fatalf("error %v", err)
	}
}

// mustLoad loads a Config from vars, failing the test on an error.
func mustLoad(t *testing.T, vars map[string]string) Config {
	t.Helper()
	cfg, err := LoadFrom(vars)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// loadFails loads vars and wants an error that says want; it returns the
// error for further checks.
func loadFails(t *testing.T, vars map[string]string, want string) error {
	t.Helper()
	_, err := LoadFrom(vars)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v: error %v, want it to say %q", vars, err, want)
	}
	return err
}

func TestHTTPURL(t *testing.T) {
	for s, want := range map[string]bool{
		"http://x": true, "https://x.example/api/?a=b": true, "HTTPS://x": true,
		"": false, "ftp://x": false, "x.example/api": false, "https://": false, "http://[::1": false, "/relative": false,
	} {
		if _, ok := httpURL(s); ok != want {
			t.Errorf("httpURL(%q) = %v, want %v", s, ok, want)
		}
	}
}
