package config

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The checks below keep docker-compose.yml true to the topology `make cluster`
// runs. The file is loaded with compose-go, the loader Docker Compose itself
// uses: interpolation, merge keys and validation against the Compose
// specification's schema happen as in `docker compose up`, so a file that
// only parses as YAML but that Compose would reject fails here.

var repoRoot = filepath.Join("..", "..")

// loadCompose loads docker-compose.yml as Docker Compose would, except that
// it sees no environment and no .env file: the file must come up with its own
// defaults, and a developer's shell cannot make the test pass or fail.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithName("hookflow"),
		cli.WithEnv(nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("docker compose would reject docker-compose.yml: %v", err)
	}
	return project
}

// pinLine is the only form versions.env may take: the Makefile includes it,
// so quotes or spaces that an env-file reader would strip would end up in
// Make's values.
var pinLine = regexp.MustCompile(`^([A-Z_]+)=([0-9]+\.[0-9]+\.[0-9]+)$`)

// readPins reads contrib/cluster/versions.env, the pins the Makefile builds
// the Temporal binaries from.
func readPins(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "contrib", "cluster", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := pinLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("versions.env:%d: %q is not KEY=MAJOR.MINOR.PATCH", n, line)
		}
		pins[m[1]] = m[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"TEMPORAL_SERVER_VERSION", "TEMPORAL_UI_VERSION", "TEMPORAL_CLI_VERSION"} {
		if pins[key] == "" {
			t.Fatalf("versions.env does not pin %s", key)
		}
	}
	return pins
}

// isHookflow tells hookflow's own services (built from this repository) from
// third-party ones.
func isHookflow(svc types.ServiceConfig) bool {
	return svc.Build != nil || strings.HasPrefix(svc.Image, "hookflow")
}

// imageRepoTag splits "temporalio/server:1.29.1" into repository and tag.
func imageRepoTag(image string) (repo, tag string) {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return image, ""
	}
	return image[:i], image[i+1:]
}

// TestComposeUsesKnownVariables checks that every variable docker-compose.yml
// sets for a hookflow service is one the config reads (standard OTEL_*
// variables, read by the OpenTelemetry SDK, are allowed): `make cluster`
// configures its processes with the same variables, so a name the config
// does not know is a setting that silently does nothing in both.
func TestComposeUsesKnownVariables(t *testing.T) {
	project := loadCompose(t)
	vars, err := Variables()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range vars {
		known[v.Name] = true
	}
	hookflow := 0
	for name, svc := range project.Services {
		if !isHookflow(svc) {
			continue
		}
		hookflow++
		for k := range svc.Environment {
			if !known[k] && !strings.HasPrefix(k, "OTEL_") {
				t.Errorf("service %s sets %s, which hookflow does not read", name, k)
			}
		}
		for _, required := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS"} {
			if v := svc.Environment[required]; v == nil || *v == "" {
				t.Errorf("service %s must set %s", name, required)
			}
		}
	}
	if hookflow == 0 {
		t.Fatal("docker-compose.yml has no hookflow service (none builds this repository)")
	}
}

// TestComposeTopology checks that docker-compose.yml runs what `make cluster`
// runs: two API replicas and two workers after one migrate step, and a
// Temporal server that starts only after its schema step has succeeded.
func TestComposeTopology(t *testing.T) {
	project := loadCompose(t)
	roles := map[string][]string{}
	for name, svc := range project.Services {
		if isHookflow(svc) && len(svc.Command) > 0 {
			roles[svc.Command[0]] = append(roles[svc.Command[0]], name)
		}
	}
	for role, want := range map[string]int{"api": 2, "worker": 2, "migrate": 1} {
		if got := len(roles[role]); got != want {
			t.Errorf("%d hookflow services run %q (%v), want %d", got, role, roles[role], want)
		}
	}
	// Each API replica must be reachable on its own host port (8080, 8081),
	// as under `make cluster`.
	hostPorts := map[string]string{}
	for _, name := range roles["api"] {
		ports := project.Services[name].Ports
		if len(ports) == 0 {
			t.Errorf("API service %s publishes no port", name)
		}
		for _, p := range ports {
			if other, dup := hostPorts[p.Published]; dup {
				t.Errorf("API services %s and %s both publish host port %s", other, name, p.Published)
			}
			hostPorts[p.Published] = name
		}
	}

	for _, want := range []string{"postgres", "temporal", "temporal-ui", "jaeger", "prometheus"} {
		if _, ok := project.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no %s service", want)
		}
	}

	// The server must not start on a database the schema tool has not
	// finished migrating: it would fail, or worse, start against an older
	// schema after a pin change.
	servers := 0
	for name, svc := range project.Services {
		if repo, _ := imageRepoTag(svc.Image); repo != "temporalio/server" {
			continue
		}
		servers++
		waits := false
		for dep, d := range svc.DependsOn {
			depRepo, _ := imageRepoTag(project.Services[dep].Image)
			if depRepo == "temporalio/admin-tools" && d.Condition == types.ServiceConditionCompletedSuccessfully {
				waits = true
			}
		}
		if !waits {
			t.Errorf("Temporal server %s does not depend on a temporalio/admin-tools schema step with condition %s",
				name, types.ServiceConditionCompletedSuccessfully)
		}
	}
	if servers != 1 {
		t.Errorf("%d services run temporalio/server, want 1", servers)
	}

	// A bind mount of a file that is not in the repository would make Docker
	// create an empty directory in its place and the service fail at start.
	for name, svc := range project.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s mounts %s: %v", name, v.Source, err)
			}
		}
	}
}

// TestComposeImagesMatchPins checks that the Temporal images run the versions
// the Makefile builds for `make cluster` (contrib/cluster/versions.env), so
// the two topologies cannot drift apart, and that none is auto-setup, which
// Temporal documents as not meant for production.
func TestComposeImagesMatchPins(t *testing.T) {
	project := loadCompose(t)
	pins := readPins(t)
	server, ui := pins["TEMPORAL_SERVER_VERSION"], pins["TEMPORAL_UI_VERSION"]
	seen := map[string]bool{}
	for name, svc := range project.Services {
		repo, tag := imageRepoTag(svc.Image)
		seen[repo] = true
		switch repo {
		case "temporalio/server":
			if tag != server {
				t.Errorf("service %s runs %s, want tag %s (TEMPORAL_SERVER_VERSION)", name, svc.Image, server)
			}
		case "temporalio/ui":
			if tag != ui {
				t.Errorf("service %s runs %s, want tag %s (TEMPORAL_UI_VERSION)", name, svc.Image, ui)
			}
		case "temporalio/admin-tools":
			// Admin-tools tags name the server version first and then
			// the tctl and CLI versions bundled with it
			// (1.29.1-tctl-1.18.4-cli-1.5.0); the server version is what
			// must match, since temporal-sql-tool carries the schema the
			// server of that version expects.
			if tag != server && !strings.HasPrefix(tag, server+"-") {
				t.Errorf("service %s runs %s, want a tag of server version %s (TEMPORAL_SERVER_VERSION)", name, svc.Image, server)
			}
		case "temporalio/auto-setup":
			t.Errorf("service %s runs %s, which Temporal documents as not meant for production; create the schema with temporal-sql-tool", name, svc.Image)
		}
	}
	for _, repo := range []string{"temporalio/server", "temporalio/ui", "temporalio/admin-tools"} {
		if !seen[repo] {
			t.Errorf("no service runs %s", repo)
		}
	}
}
