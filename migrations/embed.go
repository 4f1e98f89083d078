// Package migrations embeds hookflow's SQL migrations (goose format). They are
// applied by `hookflow migrate` and by `hookflow dev`.
//
// Files are numbered per flow to keep parallel work conflict-free:
// 00001-00009 core and SimplyPrint, 00010-00019 ratings, 00020-00029 order
// sync, 00030-00039 jobs and callbacks, 00040-00049 operability, 00050-00059
// counters of reads at constant cost.
package migrations

import "embed"

// FS holds every *.sql migration.
//
//go:embed *.sql
var FS embed.FS
