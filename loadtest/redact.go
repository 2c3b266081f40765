package loadtest

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfoPassword finds the password of a URL's userinfo in text that
// does not parse as a URL.
var userinfoPassword = regexp.MustCompile(`(//[^/@:\s]*):[^@/\s]*@`)

// userinfo finds a URL's whole userinfo in text that does not parse.
var userinfo = regexp.MustCompile(`//[^/@\s]*@`)

// RedactURL is a URL as a report or a log line may show it: a password
// in its userinfo replaced by "xxxxx" (http://bob:xxxxx@host), as
// url.URL.Redacted does. Nothing the load tool writes (reports, phase
// lines, errors) holds a target's password; a NATS URL goes through
// RedactNATS.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return s
	}
	return userinfoPassword.ReplaceAllString(s, "${1}:xxxxx@")
}

// redactURLs is RedactURL of each.
func redactURLs(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = RedactURL(s)
	}
	return out
}

// RedactNATS is a NATS URL as it may be printed (the load tool's
// --nats-url, flashdrop events'): each of its comma-separated servers
// without a password, or a token (NATS takes one as the user part
// alone), and one that does not parse without its userinfo.
func RedactNATS(s string) string {
	parts := strings.Split(s, ",")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		switch {
		case err != nil:
			parts[i] = userinfo.ReplaceAllString(part, "//xxxxx@")
		case u.User == nil:
			parts[i] = part
		default:
			if _, hasPassword := u.User.Password(); hasPassword {
				parts[i] = u.Redacted()
			} else {
				u.User = url.User("xxxxx")
				parts[i] = u.String()
			}
		}
	}
	return strings.Join(parts, ",")
}
