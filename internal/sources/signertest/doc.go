// Package signertest holds tests in which the vendors' own signing
// libraries, installed from the npm registry (package.json, npm ci on first
// use), sign the requests sent to hookflow's declared sources: GitHub's
// @octokit/webhooks-methods, Stripe's stripe and standardwebhooks. Nothing
// in hookflow's code produces these signatures. handover_test.go (no npm)
// drives the hand-over itself end to end: replays and form bodies.
package signertest
