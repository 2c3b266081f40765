package redisstore

// Test-only views of the key layout, so the external tests can look at
// Redis state directly without building keys inline.

// TestKeys names one drop's keys for tests.
type TestKeys struct {
	Holds, Waitlist, WaitlistQty string
	// Registrants maps user -> "registered_at[|units|latest reservation]".
	Registrants string
	// Reservations matches every reservation hash of the drop (for SCAN).
	Reservations string
	// All is every fixed key of the drop.
	All []string
	// Prefix starts every key of the drop, dynamic ones included.
	Prefix string
}

func KeysForTest(drop string) TestKeys {
	k := keysFor(drop)
	return TestKeys{
		Holds: k.holds, Waitlist: k.wl, WaitlistQty: k.wlq, Registrants: k.reg,
		Reservations: k.reservationKey("*"), All: k.all(), Prefix: k.prefix,
	}
}

// ReservationKeyForTest is the hash key of one reservation.
func ReservationKeyForTest(drop, id string) string { return keysFor(drop).reservationKey(id) }
