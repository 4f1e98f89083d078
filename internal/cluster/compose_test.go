package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// `make cluster` configures hookflow's processes only through variables
// that docker-compose.yml sets for the same services: what runs here is
// what the compose stack runs (internal/config's compose tests check the
// file itself against the Compose specification and the pins).
func TestMakeClusterSetsOnlyComposeVariables(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "..", "docker-compose.yml")},
		cli.WithWorkingDirectory(filepath.Join("..", "..")), cli.WithName("hookflow"), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{opts: Options{Ports: DefaultPorts(2, 2), AdminToken: "token"}, databaseURL: "postgres://x@127.0.0.1/hookflow"}
	inherited := len(os.Environ()) // hookflowEnv passes this process's environment first
	for service, env := range map[string][]string{
		"api-1":    c.hookflowEnv("HTTP_ADDR=:8080"),
		"worker-1": c.hookflowEnv("METRICS_ADDR=:9464"),
		"migrate":  c.hookflowEnv(),
	} {
		svc, ok := project.Services[service]
		if !ok {
			t.Fatalf("docker-compose.yml has no service %s", service)
		}
		for _, kv := range env[inherited:] {
			name, _, _ := strings.Cut(kv, "=")
			if _, ok := svc.Environment[name]; !ok {
				t.Errorf("make cluster sets %s for %s, docker-compose.yml does not", name, service)
			}
		}
	}
}
