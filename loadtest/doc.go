// Package loadtest is the release-day rehearsal as a library: scenario,
// pacer, metrics, audit and reporters. It talks to a deployment only over
// HTTP and NATS.
//
// It arrives with the load-test issue; until then this package is only its
// place in the layout.
package loadtest
