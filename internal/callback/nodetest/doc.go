// Package nodetest checks real hookflow callbacks with receivers written for
// Node.js and installed from the npm registry: the seed's express example
// (receiver.js, byte for byte, verifying X-Signature) and the standardwebhooks
// package (verify-standard.js, verifying webhook-id/-timestamp/-signature).
//
// The test runs `npm ci` here once (node_modules is git-ignored,
// package-lock.json is committed), starts hookflow with a generator fake, and
// points jobs' webhook_url at the Node receivers. Without node it skips,
// except under CI=true, where it fails.
package nodetest
