-- +goose Up
-- Retention (issue 11) purges done rating actions by when they were done.
CREATE INDEX rating_actions_done ON rating_actions (done_at) WHERE done_at IS NOT NULL;

-- Tables that churn get autovacuum settings of their own. The defaults wait
-- for a fifth of a table to be dead before vacuuming it: far too late for a
-- queue whose live rows are a few hundred and whose dead ones are millions a
-- day, or for a 100-million-row event table that retention trims by a
-- thirtieth a day. These only take effect with autovacuum on (README,
-- "Postgres settings").

-- The relay's queue: every event is inserted and deleted once. Vacuum after
-- a fixed number of dead rows, however small the table looks, and never
-- throttle it (a bloated queue slows every relay round).
ALTER TABLE relay_outbox SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 50000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0);

-- Counters: a few hundred rows, each updated by every ack and every
-- processing statement. Free space on each page keeps those updates HOT
-- (no index entry); vacuum reclaims the dead versions often.
ALTER TABLE event_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE sync_log_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE order_state_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);

-- Events: each row is updated once (processed) and, with retention, deleted
-- once. Vacuum and analyze at 2% and 1% instead of 20% and 10%, and keep
-- the visibility map current for index-only scans of the list indexes.
ALTER TABLE inbound_events SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.01);

-- Logs that retention trims in bulk.
ALTER TABLE callback_attempts SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE sync_log SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE rating_actions SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);

-- +goose Down
ALTER TABLE rating_actions RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE sync_log RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE callback_attempts RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE inbound_events RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE order_state_counts RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
ALTER TABLE sync_log_counts RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
ALTER TABLE event_counts RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
ALTER TABLE relay_outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold, autovacuum_vacuum_cost_delay);
DROP INDEX rating_actions_done;
