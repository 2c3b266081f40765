package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CheckURL returns the check the API runs on a new webhook's URL: an
// http(s) URL whose host is not a literal private, loopback or link-local
// address (private and loopback allowed with allowPrivate; link-local and
// cloud metadata addresses never), and https unless allowHTTP. Names are
// checked again when each delivery dials, against the address they
// resolve to.
//
// Plain http is refused because events carry shoppers' ids, reservation
// ids and share codes: over http every network on the way reads them, and
// the signature proves only who sent an event, it hides nothing. With
// allowPrivate, http stays allowed for a host that is a literal private or
// loopback address (or localhost): the receiver a developer
// runs on their own machine, which allowPrivate is for. A name may resolve
// anywhere, so it needs allowHTTP.
func CheckURL(allowPrivate, allowHTTP bool) func(string) error {
	return func(raw string) error {
		err := checkTargetURL(raw, allowPrivate)
		if errors.Is(err, errPrivateTarget) {
			return &privateTargetError{err: err}
		}
		if errors.Is(err, errMetadataTarget) {
			return fmt.Errorf("must not be on a link-local or cloud metadata address, even with --webhooks-allow-private (%s)",
				strings.TrimPrefix(err.Error(), errMetadataTarget.Error()+": "))
		}
		if err != nil || allowHTTP {
			return err
		}
		if u, perr := url.Parse(raw); perr == nil && strings.EqualFold(u.Scheme, "http") &&
			!(allowPrivate && errors.Is(checkTargetURL(raw, false), errPrivateTarget)) {
			return errPlainHTTP
		}
		return nil
	}
}

// errPlainHTTP is an http:// target refused at a webhook's creation, worded
// for the API's "url …" problem.
var errPlainHTTP = errors.New("must be https: events carry shoppers' ids and share codes, which plain http shows " +
	"to every network on the way; serve allows http with --webhooks-allow-http, and for a receiver on a " +
	"private or loopback address with --webhooks-allow-private")

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
