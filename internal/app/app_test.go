package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// PPROF_ADDR serves Go's profiles on a loopback listener of its own, and
// only there; a non-loopback address stops the start.
func TestPprofAddr(t *testing.T) {
	if _, err := config.LoadFrom(map[string]string{"PPROF_ADDR": "0.0.0.0:6060"}); err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
		t.Fatalf("a public PPROF_ADDR: %v", err)
	}
	dbURL, _ := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{"PPROF_ADDR": "127.0.0.1:0"}), app.Roles{API: true})
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if code, body := get("http://" + a.PprofAddr() + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200s", code, body)
	}
	if code, _ := get(a.URL() + "/debug/pprof/"); code != 404 {
		t.Fatalf("the API's own listener serves profiles: %d", code)
	}
}
