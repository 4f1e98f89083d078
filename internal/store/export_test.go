package store

// ListEventsQuery exposes ListEvents' statement to the plan test.
var ListEventsQuery = listEventsQuery

// ListSyncLogQuery exposes ListSyncLog's statement to the plan test.
var ListSyncLogQuery = listSyncLogQuery
