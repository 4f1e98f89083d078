// Package crmsync renders the order-sync monitoring page GET /crm/sync:
// server-side HTML from an embedded template inside the ops console's
// layout (its header, navigation and stylesheet), with its own stylesheet
// embedded too (no CDN), refreshing itself with a meta refresh.
package crmsync

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/web/ops"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// AssetsPath is where Assets is mounted.
const AssetsPath = "/crm/sync/assets/"

// PageData is everything the page shows.
type PageData struct {
	GeneratedAt    time.Time
	RefreshSeconds int
	SyncEnabled    bool
	Status         store.SyncStatus
	Orders         []store.Order        // latest synced orders
	Log            []store.SyncLogEntry // the operation log, newest first
	// TemporalURL links a workflow ID to its runs in Temporal UI (nil: no links).
	TemporalURL func(workflowID string) string
	// Who and Level name the signed-in token in the console's header.
	Who, Level string

	// Demo: hookflow dev --demo runs against fakes (the console's banner).
	Demo bool

	// Set by Render for the console's layout.
	Page, Current string
	Nav           []ops.Page
}

var page = ops.WithLayout(template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"at": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"str": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"ms": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" },
	"count": func(m map[string]int64, k string) int64 {
		return m[k]
	},
}, templateFS, "templates/sync.html")

// Render writes the page.
func Render(w io.Writer, d PageData) error {
	if d.RefreshSeconds <= 0 {
		d.RefreshSeconds = 10
	}
	d.Page, d.Current, d.Nav = "crmsync", "/crm/sync", ops.Nav(d.Demo)
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("render /crm/sync: %w", err)
	}
	return nil
}

// Assets serves the embedded stylesheet under AssetsPath.
func Assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return http.StripPrefix(AssetsPath, http.FileServerFS(sub))
}
