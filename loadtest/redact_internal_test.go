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
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactNATS: no password or token of any server of a NATS URL list
// (the load tool's --nats-url, flashdrop events'), and no userinfo of
// one that does not parse.
func TestRedactNATS(t *testing.T) {
	for in, want := range map[string]string{
		"nats://u:pw1@a:4222,nats://u:pw2@b:4222": "nats://u:xxxxx@a:4222,nats://u:xxxxx@b:4222",
		"nats://a:4222, nats://tok@b:4222":        "nats://a:4222,nats://xxxxx@b:4222",
		"nats://127.0.0.1:4222":                   "nats://127.0.0.1:4222",
		"nats://tok@127.0.0.1:42%zz":              "nats://xxxxx@127.0.0.1:42%zz",
	} {
		if got := RedactNATS(in); got != want {
			t.Errorf("RedactNATS(%q) = %q, want %q", in, got, want)
		}
	}
}
