package workflows_test

import (
	"github.com/stretchr/testify/mock"

	"github.com/hookflow/hookflow/activities"
)

// mockAny matches any argument of an activity mock.
var mockAny = mock.Anything

// spActs is the activity set the printer workflow calls (a nil receiver is
// enough to name its methods in mocks).
var spActs *activities.SimplyPrint
