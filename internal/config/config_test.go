package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDefaults(t *testing.T) {
	cfg, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":8080" || cfg.Temporal.Address != "127.0.0.1:7233" || cfg.Temporal.Namespace != "default" ||
		cfg.BodyLimit != 1<<20 || cfg.Temporal.TaskQueue != "hookflow" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"LOG_LEVEL":           {"LOG_LEVEL": "loud"},
		"BODY_LIMIT_BYTES":    {"BODY_LIMIT_BYTES": "lots"},
		"PUBLIC_BASE_URL":     {"PUBLIC_BASE_URL": "ftp://x"},
		"RELAY_POLL_INTERVAL": {"RELAY_POLL_INTERVAL": "soon"},
	}
	for name, vars := range cases {
		_, err := LoadFrom(vars)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", vars, err, name)
		}
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

// TestComposeUsesKnownVariables parses docker-compose.yml and checks that
// every variable it sets for a hookflow service is one the config reads
// (standard OTEL_* variables, read by the OpenTelemetry SDK, are allowed).
func TestComposeUsesKnownVariables(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   any               `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	vars, _ := Variables()
	known := map[string]bool{}
	for _, v := range vars {
		known[v.Name] = true
	}
	hookflow := 0
	roles := map[string]bool{}
	for name, svc := range compose.Services {
		if svc.Build == nil && !strings.Contains(svc.Image, "hookflow") {
			continue
		}
		hookflow++
		if len(svc.Command) > 0 {
			roles[svc.Command[0]] = true
		}
		for k := range svc.Environment {
			if !known[k] && !strings.HasPrefix(k, "OTEL_") {
				t.Errorf("service %s sets %s, which hookflow does not read", name, k)
			}
		}
		if svc.Environment["DATABASE_URL"] == "" || svc.Environment["TEMPORAL_ADDRESS"] == "" {
			t.Errorf("service %s must set DATABASE_URL and TEMPORAL_ADDRESS", name)
		}
	}
	for _, want := range []string{"api", "worker", "migrate"} {
		if !roles[want] {
			t.Errorf("no hookflow service runs %q", want)
		}
	}
	for _, want := range []string{"postgres", "temporal", "temporal-ui", "jaeger"} {
		if _, ok := compose.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no %s service", want)
		}
	}
	if hookflow < 3 {
		t.Errorf("%d hookflow services, want api, worker and migrate", hookflow)
	}
}
