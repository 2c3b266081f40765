//go:build race

package api_test

// raceEnabled: under the race detector sync.Pool drops items at random
// (fasthttp's body buffers and the server's pools with them), so counts
// of allocations mean nothing there.
const raceEnabled = true
