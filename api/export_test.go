package api

import "github.com/hookflow/hookflow/internal/netguard"

// SetJobsResolver swaps the resolver of the submission-time SSRF check and
// returns a function that restores it.
func SetJobsResolver(r netguard.Resolver) (restore func()) {
	old := jobsResolver
	jobsResolver = r
	return func() { jobsResolver = old }
}
