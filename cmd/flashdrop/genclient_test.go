package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/genclient"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestGeneratedClientDrivesASale drives one sale through the client
// oapi-codegen generated from openapi.json, against a real serve on a real
// redis-server: the document is usable, not only valid. Every exchange is
// also checked against the document.
func TestGeneratedClientDrivesASale(t *testing.T) {
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--no-demo", "--admin-token", "genclient-admin-token-0123456789")
	ctx := context.Background()
	httpc := contract.Client(t, &http.Client{Timeout: 10 * time.Second})
	client := func(token string) *genclient.ClientWithResponses {
		c, err := genclient.NewClientWithResponses("http://"+m.Addr, genclient.WithHTTPClient(httpc),
			genclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
				r.Header.Set("Authorization", "Bearer "+token)
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, alice := client(m.Config.AdminToken), client(mint(t, m, "alice"))

	now := clock.Now()
	limit := int64(1)
	created, err := admin.CreateDropWithResponse(ctx, nil, genclient.CreateDropRequest{
		Id: "genclient", Name: "Generated", Stock: 3, PerUserLimit: &limit,
		RegistrationOpensAt: now.Add(-time.Minute), RegistrationClosesAt: now.Add(10 * time.Minute),
		SaleStartsAt: now.Add(10 * time.Minute),
	})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create drop: %v %d %s", err, created.StatusCode(), created.Body)
	}
	if created.JSON201.Stock != 3 || created.JSON201.State != genclient.DropStateRegistrationOpen {
		t.Fatalf("created drop: %+v", created.JSON201)
	}
	reg, err := alice.RegisterWithResponse(ctx, "genclient", nil, genclient.RegisterRequest{})
	if err != nil || reg.JSON201 == nil || reg.JSON201.User != "alice" {
		t.Fatalf("register: %v %d %s", err, reg.StatusCode(), reg.Body)
	}
	early, err := alice.ReserveWithResponse(ctx, "genclient", nil, genclient.ReserveRequest{})
	if err != nil || early.ApplicationproblemJSON409 == nil || early.ApplicationproblemJSON409.Code != "sale_not_open" {
		t.Fatalf("reserve before the sale: %v %d %s", err, early.StatusCode(), early.Body)
	}
	clock.Set(now.Add(10 * time.Minute))
	key := "genclient-key-1"
	res, err := alice.ReserveWithResponse(ctx, "genclient", &genclient.ReserveParams{IdempotencyKey: &key}, genclient.ReserveRequest{})
	if err != nil || res.JSON201 == nil || res.JSON201.Reservation.Status != genclient.ReservationStatusHeld {
		t.Fatalf("reserve: %v %d %s", err, res.StatusCode(), res.Body)
	}
	id := res.JSON201.Reservation.Id
	conf, err := admin.ConfirmReservationWithResponse(ctx, id, nil)
	if err != nil || conf.JSON200 == nil || conf.JSON200.Reservation.Status != genclient.ReservationStatusConfirmed {
		t.Fatalf("confirm: %v %d %s", err, conf.StatusCode(), conf.Body)
	}
	stats, err := admin.GetDropStatsWithResponse(ctx, "genclient", nil)
	if err != nil || stats.JSON200 == nil {
		t.Fatalf("stats: %v %d %s", err, stats.StatusCode(), stats.Body)
	}
	if s := stats.JSON200; s.Confirmed != 1 || s.Available != 2 || s.Registered != 1 || s.Held != 0 {
		t.Fatalf("stats after one confirmed sale: %+v", s)
	}
}
