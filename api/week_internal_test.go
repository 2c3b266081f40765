package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWeekRoutesOnAStoreWithoutThem: on a store that keeps no series or
// draws (the fuzzer's stub), the new routes answer 4xx problems, never a
// 5xx, whatever comes in.
func TestWeekRoutesOnAStoreWithoutThem(t *testing.T) {
	_, client := stubServer(t, &stubStore{}, nil)
	tok := shopperToken(t, "fuzzer")
	for _, c := range []struct{ method, path, body, auth string }{
		{"GET", "/v1/series/weekly", "", ""},
		{"GET", "/v1/series/bad%20id", "", ""},
		{"GET", "/v1/drops/stub/draw", "", ""},
		{"GET", "/v1/drops/stub/draw?limit=5&offset=9", "", ""},
		{"GET", "/v1/drops/nope/draw", "", ""},
		{"GET", "/v1/drops/stub/draw?limit=x", "", ""},
		{"GET", "/v1/admin/series", "", "Bearer " + testAdmin},
		{"GET", "/v1/admin/series/weekly", "", "Bearer " + testAdmin},
		{"DELETE", "/v1/admin/series/weekly", "", "Bearer " + testAdmin},
		{"POST", "/v1/admin/series", `{"id":"w","name":"n","stock":1,"weekday":2,"sale_time":"20:00","time_zone":"UTC"}`, "Bearer " + testAdmin},
		{"POST", "/v1/admin/series", `{"id":"w","weekday":"x"}`, "Bearer " + testAdmin},
		{"POST", "/v1/admin/series", `{}`, "Bearer " + tok},
		{"GET", "/v1/drops/stub", "", "Bearer " + tok},
	} {
		req, err := http.NewRequest(c.method, "http://x"+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
}
