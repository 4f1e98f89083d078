// Package chaos is `make chaos`: hookflow's production topology (a Temporal
// server on Postgres, two API replicas, two workers; internal/cluster) under
// paced load on all four flows at once, against the fakes of every third
// party, while processes are killed and restarted in a fixed order. It then
// checks from the database and the fakes that nothing acked was lost and
// nothing was stored or done twice, and prints one table.
//
// The run is the test TestChaos, skipped unless HOOKFLOW_CHAOS=1 (it takes
// minutes and the whole machine): run it with `make chaos`.
package chaos
