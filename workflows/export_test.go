package workflows

// LotBatches exposes lotBatches to the tests.
var LotBatches = lotBatches
