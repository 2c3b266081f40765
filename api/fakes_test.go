package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// fakeAdmission answers every reserve with res: a handler test needs no
// store, only the method its route calls.
type fakeAdmission struct {
	Admission
	res engine.ReserveResult
}

func (f fakeAdmission) Reserve(context.Context, string, engine.ReserveRequest) (engine.ReserveResult, error) {
	return f.res, nil
}

// TestReserveTranslatesOutcomes: the reserve handler turns each outcome
// into its status and body, on fakes of the services it calls.
func TestReserveTranslatesOutcomes(t *testing.T) {
	won := engine.Reservation{ID: "d.abc", Drop: "d", User: "u", Quantity: 1, Status: engine.StatusHeld,
		ExpiresAt: time.Unix(2e9, 0).UTC(), ShareCode: "s"}
	for _, tc := range []struct {
		name   string
		res    engine.ReserveResult
		status int
		check  func(map[string]any) bool
	}{
		{"won", engine.ReserveResult{Reservation: won}, 201,
			func(b map[string]any) bool { return b["reservation"].(map[string]any)["id"] == "d.abc" }},
		{"waitlisted", engine.ReserveResult{Err: &engine.SoldOutError{WaitlistPosition: 7}}, 409,
			func(b map[string]any) bool { return b["code"] == "sold_out" && b["waitlist_position"] == float64(7) }},
		{"not open", engine.ReserveResult{Err: &engine.WindowError{Err: engine.ErrSaleNotOpen, What: "the sale starts at",
			At: time.Unix(2e9, 0)}}, 409,
			func(b map[string]any) bool {
				return b["code"] == "sale_not_open" && b["detail"] == "the sale starts at 2033-05-18T03:33:20Z"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{
				Drops: (*engine.Engine)(nil), Shoppers: (*engine.Engine)(nil), Reservations: (*engine.Engine)(nil),
				Admission: fakeAdmission{res: tc.res},
				Auth:      AuthConfig{JWTSecret: []byte(testSecret), AdminToken: testAdmin},
				Limits:    Limits{UserRate: -1},
			}
			_, client := serveConfig(t, cfg)
			req, _ := http.NewRequest("POST", "http://x/v1/drops/d/reservations", nil)
			req.Header.Set("Authorization", "Bearer "+shopperToken(t, "u"))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if resp.StatusCode != tc.status || json.Unmarshal(raw, &body) != nil || !tc.check(body) {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
		})
	}
}
