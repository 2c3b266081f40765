package loadtest

// OffsetOf exposes the arrival schedule to the tests.
var OffsetOf = offsetOf
