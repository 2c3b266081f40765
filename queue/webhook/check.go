package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CheckURL returns the check the API runs on a new webhook's URL: given,
// parsable, absolute and without a fragment (checkURLShape, its problems
// worded for a person), an http(s) URL whose host is not a literal
// private, loopback or link-local address (private and loopback allowed
// with allowPrivate; link-local and cloud metadata addresses never), and
// https unless allowHTTP. Names are
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
		if err := checkURLShape(raw); err != nil {
			return err
		}
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

// checkURLShape refuses, worded for a person (the API's problem reads "url
// " and the reason), a URL that is missing, that does not parse, that has
// no host, or that has a fragment: Go's parse errors quoted the whole URL
// and its internals ("webhook url: parse …: …"), and a missing url read
// "no host".
func checkURLShape(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a valid URL: %s", urlParseReason(err))
	}
	if u.Host == "" {
		return errors.New("must be an absolute URL with a host, such as https://hooks.example.com/flashdrop")
	}
	// A fragment is never sent (an HTTP request has none), so a
	// receiver that tells webhooks apart by it would get every delivery
	// alike; say so now rather than let it be lost silently.
	if strings.Contains(raw, "#") { // an empty fragment too ("…/h#")
		return errors.New("must not have a fragment (the part from #): it is never sent to the receiver; " +
			"put what it says in the path or the query instead")
	}
	return nil
}

// urlParseReason words url.Parse's error for a person, without the URL
// (the person has it) or Go's "parse" prefix.
func urlParseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var host url.InvalidHostError
	var esc url.EscapeError
	switch msg := err.Error(); {
	case errors.As(err, &host):
		return "its host has " + strings.TrimSuffix(strings.TrimPrefix(msg, "invalid character "), " in host name") +
			", which a host name cannot have"
	case errors.As(err, &esc):
		return "a % must be followed by two hex digits (write %25 for a % itself)"
	case msg == "missing protocol scheme", msg == "first path segment in URL cannot contain colon":
		return "it must start with https://"
	case msg == "missing ']' in host", msg == "invalid IP-literal", strings.HasPrefix(msg, "invalid host: "):
		return "only an IPv6 address goes between [ and ], as in https://[2001:db8::1]/hook"
	case strings.HasPrefix(msg, "invalid port "):
		return "its port must be a number from 1 to 65535"
	case msg == "net/url: invalid control character in URL":
		return "it has a control character (a line break, a tab)"
	default:
		return msg
	}
}
