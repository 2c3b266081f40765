package loadtest

import "testing"

// TestRedactURL: a URL's password never reaches a report or a log line;
// the user and the host stay, and text that does not parse as a URL is
// redacted too.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://bob:T4RGETPW@127.0.0.1:8080":    "http://bob:xxxxx@127.0.0.1:8080",
		"https://bob:T4RGETPW@shop.example/":    "https://bob:xxxxx@shop.example/",
		"nats://svc:T4RGETPW@nats:4222":         "nats://svc:xxxxx@nats:4222",
		"http://bob@127.0.0.1:8080":             "http://bob@127.0.0.1:8080",
		"http://127.0.0.1:8080":                 "http://127.0.0.1:8080",
		"http://bob:T4RGETPW@127.0.0.1:80%zz/x": "http://bob:xxxxx@127.0.0.1:80%zz/x",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
