package webhook

import (
	"errors"
	"strings"
)

// CheckWebhookURL returns the check the API runs on a new webhook's URL:
// an http(s) URL whose host is not a literal private, loopback or
// link-local address (unless allowPrivate). Names are checked again when
// each delivery dials, against the address they resolve to.
func CheckURL(allowPrivate bool) func(string) error {
	return func(raw string) error {
		err := checkTargetURL(raw, allowPrivate)
		if errors.Is(err, errPrivateTarget) {
			return &privateTargetError{err: err}
		}
		return err
	}
}

// privateTargetError is a private target refused at a webhook's creation,
// worded for the API's "url …" problem, and naming the flag that allows
// such targets: a developer pointing a webhook at a receiver on their own
// machine otherwise learnt only that it was refused.
type privateTargetError struct{ err error }

func (e *privateTargetError) Error() string {
	why := strings.TrimPrefix(e.err.Error(), errPrivateTarget.Error()+": ")
	return "must not be on a private, loopback or link-local address (" + why +
		"); for development, serve allows such targets with --webhooks-allow-private"
}

func (e *privateTargetError) Unwrap() error { return e.err }
