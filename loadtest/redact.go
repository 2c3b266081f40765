package loadtest

import (
	"net/url"
	"regexp"
)

// userinfoPassword finds the password of a URL's userinfo in text that
// does not parse as a URL.
var userinfoPassword = regexp.MustCompile(`(//[^/@:\s]*):[^@/\s]*@`)

// redactURL is a URL as a report or a log line may show it: a password
// in its userinfo replaced by "xxxxx" (http://bob:xxxxx@host), as
// url.URL.Redacted does. Nothing the load tool writes (reports, phase
// lines, errors) holds a target's or NATS's password.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return s
	}
	return userinfoPassword.ReplaceAllString(s, "${1}:xxxxx@")
}

// redactURLs is redactURL of each.
func redactURLs(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = redactURL(s)
	}
	return out
}
