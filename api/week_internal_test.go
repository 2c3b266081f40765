package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
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
		if code, body := stubDo(t, client, c.method, c.path, c.auth, c.body); code >= 500 {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
}

// goneSeries lists two series, one of which is deleted before its next
// drop is read.
type goneSeries struct{ SeriesService }

func (goneSeries) SeriesList(context.Context) ([]engine.Series, error) {
	s := engine.Series{Name: "Weekly", Stock: 1, PerUserLimit: 1, HoldSeconds: 600, Mode: engine.ModeFCFS,
		ConfirmBy: engine.ConfirmByBackend, Weekday: 2, SaleTime: "20:00", TimeZone: "UTC", SaleSeconds: 3600}
	gone, kept := s, s
	gone.ID, kept.ID = "gone", "kept"
	return []engine.Series{gone, kept}, nil
}

func (goneSeries) NextSeriesDrop(_ context.Context, id string) (engine.Series, engine.NextDrop, error) {
	if id == "gone" {
		return engine.Series{}, engine.NextDrop{}, fmt.Errorf("%w: series %q", engine.ErrNotFound, id)
	}
	return engine.Series{ID: id}, engine.NextDrop{ID: id + "-2027-03-23", State: engine.StateScheduled}, nil
}

// TestSeriesListSkipsASeriesDeletedMeanwhile: a series deleted between
// the list's two reads is left out, instead of the whole list (which the
// ops page polls) answering 404.
func TestSeriesListSkipsASeriesDeletedMeanwhile(t *testing.T) {
	_, client := stubServer(t, &stubStore{}, func(c *Config) { c.Series = goneSeries{} })
	code, body := stubDo(t, client, "GET", "/v1/admin/series", "Bearer "+testAdmin, "")
	if code != 200 || strings.Contains(body, `"gone"`) || !strings.Contains(body, `"kept"`) {
		t.Fatalf("%d %s", code, body)
	}
}
