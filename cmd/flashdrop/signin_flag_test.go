package main

import (
	"strings"
	"testing"
)

// TestSignInURLFlag: serve's --sign-in-url (and FLASHDROP_SIGN_IN_URL)
// takes an absolute http(s) URL template and refuses anything else at
// start, naming the flag and never a password in it.
func TestSignInURLFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (*Main, error) {
		m := NewMain(&strings.Builder{}, &strings.Builder{})
		m.Lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		return m, m.ParseFlags(args)
	}
	for _, bad := range []string{"/login?next={url}", "shop.example/login?next={url}", "ftp://shop.example/{url}", "https://", "https://u:pw@shop.example/login"} {
		if _, err := parse([]string{"--sign-in-url", bad}, nil); err == nil || !strings.Contains(err.Error(), "--sign-in-url") || strings.Contains(err.Error(), "pw") {
			t.Errorf("--sign-in-url %s: %v", bad, err)
		}
	}
	m, err := parse([]string{"--sign-in-url", "https://shop.example/login?next={url}"}, nil)
	if err != nil || m.Config.SignInURL != "https://shop.example/login?next={url}" {
		t.Fatalf("a good --sign-in-url: %v %q", err, m.Config.SignInURL)
	}
	m, err = parse(nil, map[string]string{"FLASHDROP_SIGN_IN_URL": "http://127.0.0.1:8081/in?back={url}"})
	if err != nil || m.Config.SignInURL != "http://127.0.0.1:8081/in?back={url}" {
		t.Fatalf("FLASHDROP_SIGN_IN_URL: %v %q", err, m.Config.SignInURL)
	}
}
