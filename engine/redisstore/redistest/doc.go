// Package redistest starts real redis-server processes for tests.
//
// Tests run against the same redis-server binary that production runs on,
// not an in-memory fake, because the behaviour the store depends on lives in
// the server: Lua scripting semantics (EVAL atomicity, error replies),
// key expiry, cluster slot routing, hash tags and CROSSSLOT rejection. A fake
// reimplements a subset of that and silently diverges exactly where bugs hide,
// so a green run against a fake proves little about production.
//
// Three ways to get a server:
//
//   - [Start] / [StartCluster] give a private server or cluster that the
//     caller closes. Use them when a test needs an empty instance or kills
//     nodes.
//   - [Shared] / [SharedCluster] give one instance per test binary, started
//     lazily, so a package's tests pay the start-up cost once. Tests sharing
//     an instance must confine themselves to their own key namespace (their
//     own drop ids) and must not FLUSHALL, so that they can run in any order
//     and in parallel.
//
// Packages that use the shared instances must close them after the run:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// Every test should call [Require] (Shared and SharedCluster do so
// themselves): it skips when redis-server is not installed on a developer
// machine, but fails under CI=true, where a missing binary is a broken image
// that must not turn into a silently skipped suite.
//
// Processes are never leaked on error paths: every failure kills what was
// started, and the error carries the server's own log output so a failed
// start can be diagnosed from the test report alone. On Linux the servers
// are additionally bound to the test process with PR_SET_PDEATHSIG, so even a
// test binary that panics or times out does not leave them running.
package redistest
