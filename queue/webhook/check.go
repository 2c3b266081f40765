package webhook

// CheckWebhookURL returns the check the API runs on a new webhook's URL:
// an http(s) URL whose host is not a literal private, loopback or
// link-local address (unless allowPrivate). Names are checked again when
// each delivery dials, against the address they resolve to.
func CheckURL(allowPrivate bool) func(string) error {
	return func(raw string) error { return checkTargetURL(raw, allowPrivate) }
}
