package redistest

import "testing"

// Own starts a redis-server for tb alone, closed when tb ends. Tests of
// parts that work on every drop they can see (the scheduler lists all
// drops and series) need a Redis of their own: on the shared one they
// would act on other tests' drops at their own clock's time.
func Own(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	s, err := Start()
	if err != nil {
		tb.Fatalf("redistest: own server: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("redistest: closing own server: %v", err)
		}
	})
	return s
}
