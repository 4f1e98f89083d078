package store

// ListEventsQuery exposes ListEvents' statement to the plan test.
var ListEventsQuery = listEventsQuery

// ListSyncLogQuery exposes ListSyncLog's statement to the plan test.
var ListSyncLogQuery = listSyncLogQuery

// DeliveryMetricsQueries expose the reads of DeliveryMetrics and
// DeliveryHealth ($1 since, $2 the next hour boundary) to the plan test.
var DeliveryMetricsQueries = map[string]string{"deliveries": deliveryCountsQuery, "codes": attemptCodesQuery,
	"latency": attemptLatencyQuery, "finished": finishedCountsQuery}
