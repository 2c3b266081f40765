package redisstore

// DrawOrderKeyForTest is the list of a drop's tickets in drawn order.
func DrawOrderKeyForTest(drop string) string { return keysFor(drop).order() }

// DrawKeyForTest is a draw's state hash.
func DrawKeyForTest(drop string) string { return keysFor(drop).draw() }
