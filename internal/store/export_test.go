package store

// ListEventsQuery exposes ListEvents' statement to the plan test.
var ListEventsQuery = listEventsQuery
