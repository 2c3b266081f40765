package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// verify-draw's exit codes.
const (
	verifyMatch    = 0 // the record recomputes
	verifyMismatch = 1 // it does not: the draw or the record was tampered with
	verifyCannot   = 2 // no verdict: bad flags, unreachable, not drawn yet
)

// drawRecord is the public record GET /v1/drops/{drop}/draw serves.
type drawRecord struct {
	Drop         string   `json:"drop"`
	Algorithm    string   `json:"algorithm"`
	State        string   `json:"state"`
	SeedHash     string   `json:"seed_hash"`
	FrozenDigest string   `json:"frozen_digest"`
	Registrants  int64    `json:"registrants"`
	Stock        int64    `json:"stock"`
	Quantity     int64    `json:"quantity"`
	Winners      int64    `json:"winners"`
	HoldsGiven   *int64   `json:"holds_given"`
	Seed         string   `json:"seed"`
	Offset       int64    `json:"offset"`
	Tickets      []string `json:"tickets"`
	NextOffset   *int64   `json:"next_offset"`
}

// verifyDraw is `flashdrop verify-draw --target URL --drop ID`. It fetches
// the drop's public draw record and recomputes the draw from that alone,
// with code of its own (not the engine's), following the algorithm the
// README publishes. It returns the process exit code.
func verifyDraw(args []string, stdout, stderr io.Writer, client *http.Client) int {
	fs := flag.NewFlagSet("verify-draw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: flashdrop verify-draw --target URL --drop ID

Recomputes a draw from its public record (GET /v1/drops/{drop}/draw) and
checks that the revealed seed hashes to the commitment published before the
draw, that the tickets are the frozen list, and that winners and waitlist
follow from the seed. Exit status: 0 match, 1 mismatch, 2 no verdict.

`)
		fs.PrintDefaults()
	}
	target := fs.String("target", "", "base URL of a flashdrop server, such as https://shop.example")
	drop := fs.String("drop", "", "the drop id")
	page := fs.Int("page", 1000, "tickets per request (1 to 10000)")
	timeout := fs.Duration("timeout", time.Minute, "time allowed for the whole check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return verifyMatch
		}
		return verifyCannot
	}
	u, err := url.Parse(*target)
	if *target == "" || *drop == "" || fs.NArg() > 0 || err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		*page < 1 || *page > 10000 {
		fs.Usage()
		return verifyCannot
	}
	if client == nil {
		client = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rec, err := fetchDrawRecord(ctx, client, strings.TrimSuffix(*target, "/"), *drop, *page)
	var mismatch *recordMismatch
	switch {
	case errors.As(err, &mismatch):
		fmt.Fprintf(stdout, "MISMATCH: draw of %s: %s\n", *drop, mismatch.what)
		return verifyMismatch
	case err != nil:
		fmt.Fprintf(stderr, "flashdrop verify-draw: %v\n", err)
		return verifyCannot
	case rec.State != "drawn":
		fmt.Fprintf(stdout, "draw of %s not done yet (state %s); committed seed hash %s\n", *drop, rec.State, rec.SeedHash)
		return verifyCannot
	}
	if what := checkDraw(rec); what != "" {
		fmt.Fprintf(stdout, "MISMATCH: draw of %s: %s\n", *drop, what)
		return verifyMismatch
	}
	fmt.Fprintf(stdout, "draw of %s verified (%s): %d registrants, %d winners of %d units each; the seed hashes to "+
		"the committed %s; the tickets are the frozen list %s; winners and waitlist follow from the seed\n",
		*drop, rec.Algorithm, rec.Registrants, rec.Winners, rec.Quantity, rec.SeedHash, rec.FrozenDigest)
	if rec.HoldsGiven != nil && *rec.HoldsGiven < rec.Winners {
		// The order verifies; what it gave does not follow from it.
		fmt.Fprintf(stdout, "note: %d of the %d winners got no hold: the sale had closed before the draw reached them\n",
			rec.Winners-*rec.HoldsGiven, rec.Winners)
	}
	return verifyMatch
}

// recordMismatch is a record whose pages contradict each other.
type recordMismatch struct{ what string }

func (m *recordMismatch) Error() string { return m.what }

// fetchDrawRecord reads every page of a record into one.
func fetchDrawRecord(ctx context.Context, client *http.Client, base, drop string, page int) (drawRecord, error) {
	var all drawRecord
	for off, n := int64(0), 0; ; n++ {
		u := fmt.Sprintf("%s/v1/drops/%s/draw?offset=%d&limit=%d", base, url.PathEscape(drop), off, page)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return drawRecord{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return drawRecord{}, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return drawRecord{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return drawRecord{}, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(body))
		}
		var rec drawRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			return drawRecord{}, fmt.Errorf("GET %s: %w", u, err)
		}
		if n == 0 {
			all = rec
			all.Tickets = nil
		} else if rec.Seed != all.Seed || rec.SeedHash != all.SeedHash || rec.FrozenDigest != all.FrozenDigest ||
			rec.Winners != all.Winners || rec.Registrants != all.Registrants || rec.Stock != all.Stock ||
			rec.Quantity != all.Quantity || rec.State != all.State {
			return drawRecord{}, &recordMismatch{fmt.Sprintf("the page at offset %d describes another draw", off)}
		}
		if rec.Offset != off {
			return drawRecord{}, &recordMismatch{fmt.Sprintf("asked for offset %d, got %d", off, rec.Offset)}
		}
		all.Tickets = append(all.Tickets, rec.Tickets...)
		if rec.NextOffset == nil || all.State != "drawn" {
			return all, nil
		}
		if *rec.NextOffset <= off || int64(len(all.Tickets)) > all.Registrants {
			return drawRecord{}, &recordMismatch{"the pages do not move forward"}
		}
		off = *rec.NextOffset
	}
}

// checkDraw recomputes a drawn record: "" when it holds, else what fails.
func checkDraw(rec drawRecord) string {
	if rec.Algorithm != "flashdrop-draw-1" {
		return fmt.Sprintf("unknown algorithm %q", rec.Algorithm)
	}
	seed, err := hex.DecodeString(rec.Seed)
	if err != nil || len(seed) == 0 {
		return "the record reveals no seed"
	}
	if sum := sha256.Sum256(seed); hex.EncodeToString(sum[:]) != rec.SeedHash {
		return "the revealed seed does not hash to the committed seed hash " + rec.SeedHash
	}
	if int64(len(rec.Tickets)) != rec.Registrants {
		return fmt.Sprintf("%d tickets published for %d registrants", len(rec.Tickets), rec.Registrants)
	}
	sorted := slices.Clone(rec.Tickets)
	sort.Strings(sorted)
	h := sha256.New()
	for i, t := range sorted {
		if i > 0 && t == sorted[i-1] {
			return "ticket " + t + " appears twice"
		}
		h.Write([]byte(t))
		h.Write([]byte{'\n'})
	}
	if hex.EncodeToString(h.Sum(nil)) != rec.FrozenDigest {
		return "the tickets are not the frozen list (digest differs from " + rec.FrozenDigest + ")"
	}
	rank := make(map[string][]byte, len(rec.Tickets))
	for _, t := range rec.Tickets {
		m := hmac.New(sha256.New, seed)
		m.Write([]byte(t))
		rank[t] = m.Sum(nil)
	}
	order := slices.Clone(rec.Tickets)
	sort.Slice(order, func(i, j int) bool {
		if c := bytes.Compare(rank[order[i]], rank[order[j]]); c != 0 {
			return c < 0
		}
		return order[i] < order[j]
	})
	for i := range order {
		if order[i] != rec.Tickets[i] {
			return fmt.Sprintf("rank %d should be ticket %s, the record has %s", i+1, order[i], rec.Tickets[i])
		}
	}
	q := max(rec.Quantity, 1)
	if want := min(rec.Registrants, rec.Stock/q); rec.Winners != want {
		return fmt.Sprintf("%d winners published, the rules give %d", rec.Winners, want)
	}
	return ""
}
