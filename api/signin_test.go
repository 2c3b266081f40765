package api_test

import (
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api"
)

// TestDropPageSignInURL: with Config.SignInURL the drop page carries the
// shop's sign-in template for its script (which fills in {url}); without
// it, the page tells a visitor where to sign in. A template that is not
// an absolute http(s) URL is refused.
func TestDropPageSignInURL(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.SignInURL = "https://shop.example/login?next={url}&x=1" })
	drop := h.createDrop(3, 1, nil)
	_, _, body := h.get("/d/" + drop)
	if page := string(body); !strings.Contains(page, `data-signin="https://shop.example/login?next={url}&amp;x=1"`) ||
		!strings.Contains(page, `<a id="signin-link" class="button" hidden>`) {
		t.Errorf("the drop page lacks the sign-in link's template:\n%s", page)
	}
	plain := newHarness(t, nil)
	drop = plain.createDrop(3, 1, nil)
	_, _, body = plain.get("/d/" + drop)
	if page := string(body); strings.Contains(page, "data-signin") || !strings.Contains(page, "sign in on the shop’s site or app") {
		t.Errorf("without a sign-in URL the drop page:\n%s", page)
	}
	for _, bad := range []string{"/login?next={url}", "shop.example/login", "ftp://shop.example/{url}", "https:///login", "https://u:pw@shop.example/"} {
		if err := api.CheckSignInURL(bad); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("CheckSignInURL(%q): %v", bad, err)
		}
	}
	for _, good := range []string{"", "https://shop.example/login?next={url}", "http://127.0.0.1:9/{url}", "https://shop.example/login"} {
		if err := api.CheckSignInURL(good); err != nil {
			t.Errorf("CheckSignInURL(%q): %v", good, err)
		}
	}
}
