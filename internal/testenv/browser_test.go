package testenv_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/hookflow/hookflow/internal/testenv"
)

const page = `<!doctype html><html><head><title>t</title></head><body style="height:3000px">
<h1 id="title">Hello</h1><p id="out">before</p>
<button id="go" onclick="document.getElementById('out').textContent='after'">go</button>
<div id="late"></div>
<script>setTimeout(function(){var p=document.createElement('p');p.id='appeared';p.textContent='late text';document.getElementById('late').appendChild(p)},200)</script>
</body></html>`

func TestBrowserHelper(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()

	b := testenv.NewBrowser(t)
	b.Open(srv.URL + "/redirect")
	if loc := b.Location(); loc != srv.URL+"/" {
		t.Fatalf("location %q after the redirect", loc)
	}
	b.WaitVisible("#title")
	if got := b.Text("#title"); got != "Hello" {
		t.Fatalf("title text %q", got)
	}
	b.WaitVisible("#appeared") // added by script after load
	if got := b.Text("#appeared"); got != "late text" {
		t.Fatalf("late text %q", got)
	}
	b.Click("#go")
	if got := b.Text("#out"); got != "after" {
		t.Fatalf("after click: %q", got)
	}
	path := b.Screenshot("testenv browser/helper")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", path)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
}
