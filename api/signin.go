package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SignInURLPlaceholder is where Config.SignInURL takes the drop page's own
// address, query-escaped, so the shop's sign-in can send the shopper back
// to it (with its ?ref= from a share card) signed in.
const SignInURLPlaceholder = "{url}"

// CheckSignInURL checks a sign-in URL template for Config.SignInURL: an
// absolute http or https URL, with {url} anywhere in it (or not at all).
// The empty string is no sign-in page, and valid.
func CheckSignInURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	// The placeholder is not a URL's character: checked with a stand-in.
	u, err := url.Parse(strings.ReplaceAll(tmpl, SignInURLPlaceholder, "x"))
	if err == nil && u.User != nil {
		// Said without the value: it holds a password.
		return errors.New("a sign-in URL has no user or password in it")
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL, such as https://shop.example/login?next={url} ({url} is the drop page's own address)", tmpl)
	}
	return nil
}
