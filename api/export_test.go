package api

import (
	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/netguard"
)

// SetJobsResolver swaps the resolver of the submission-time SSRF check and
// returns a function that restores it.
func SetJobsResolver(r netguard.Resolver) (restore func()) {
	old := jobsResolver
	jobsResolver = r
	return func() { jobsResolver = old }
}

// Routes lists every route a server with cfg registers (the route-access
// test walks them).
func Routes(cfg config.Config) gin.RoutesInfo {
	return (&Server{Config: cfg}).Handler().(*gin.Engine).Routes()
}
