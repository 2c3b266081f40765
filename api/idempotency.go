package api

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// storedResponse is an admin answer kept under its Idempotency-Key.
type storedResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body"`
	// Sealed: Body is the answer encrypted (sealAnswer), because it shows
	// a secret once (Cache-Control: no-store): an API key's, a webhook's.
	Sealed bool `json:"sealed,omitempty"`
}

// IdempotencyStore keeps the answers of admin POSTs that carry an
// Idempotency-Key, so that an admin whose reply was lost can retry safely
// (creating a webhook twice would mint two secrets). Keys and answers are
// opaque to it: the server scopes keys by caller and hashes them.
type IdempotencyStore interface {
	// ClaimAnswer starts a keyed request. It returns the stored answer of
	// an earlier request with the same key and fingerprint (found);
	// engine.ErrIdempotencyMismatch if that request had another
	// fingerprint; engine.ErrInProgress if one is running; or claims the
	// key for this request, for at most claimFor.
	ClaimAnswer(ctx context.Context, key, fingerprint string, claimFor time.Duration) (answer []byte, found bool, err error)
	// SaveAnswer stores the claimed request's answer for ttl.
	SaveAnswer(ctx context.Context, key, fingerprint string, answer []byte, ttl time.Duration) error
	// ReleaseAnswer gives a claimed key up, so that a retry runs the
	// request again (its outcome was a server error or a temporary
	// refusal, finalAnswer: nothing to keep).
	ReleaseAnswer(ctx context.Context, key string) error
}

// Admin idempotency timing: answers are kept as long as reserve answers
// (SPEC I5's 24 h); a claim outlives any one request's handling.
const (
	adminIdempotencyTTL   = 24 * time.Hour
	adminIdempotencyClaim = time.Minute
)

// adminIdempotent runs an admin POST under its Idempotency-Key, if it has
// one: a repeat with the same key and the same request gets the first
// answer (with Idempotent-Replayed: true) and has no second effect; the
// same key with another request is refused with 422. Only a final answer
// is kept (finalAnswer); after any other the key is free again.
func (s *Server) adminIdempotent(r *request, h handlerFunc) error {
	raw := r.ctx.Request.Header.Peek("Idempotency-Key")
	if len(raw) == 0 && emptyIdempotencyKey(&r.ctx.Request.Header) {
		return engine.ValidateIdempotencyKey("")
	}
	if len(raw) == 0 || s.cfg.AdminIdempotency == nil {
		return h(r)
	}
	key := string(raw)
	if err := engine.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	// One scope per credential: two admin tokens never share keys.
	sum := sha256.Sum256([]byte(r.who.scope() + "\x00" + key))
	scoped := hex.EncodeToString(sum[:16])
	body := sha256.Sum256(r.ctx.PostBody())
	fp := r.route + " " + strings.Join(r.args, "/") + " " + hex.EncodeToString(body[:16])

	ctx, cancel := r.context()
	raw, found, err := s.cfg.AdminIdempotency.ClaimAnswer(ctx, scoped, fp, adminIdempotencyClaim)
	if errors.Is(err, engine.ErrIdempotencyMismatch) {
		// A sealed answer is kept under the request's fingerprint marked
		// sealed (sealedFingerprint): a node of a version before sealing
		// finds a mismatch there and refuses, rather than replaying the
		// ciphertext as the answer.
		raw, found, err = s.cfg.AdminIdempotency.ClaimAnswer(ctx, scoped, sealedFingerprint(fp), adminIdempotencyClaim)
	}
	cancel()
	var stored storedResponse
	if found && err == nil {
		err = json.Unmarshal(raw, &stored)
	}
	switch {
	case errors.Is(err, engine.ErrIdempotencyMismatch):
		return err
	case err != nil:
		// In progress elsewhere, or the store failed: retry shortly.
		return fmt.Errorf("%w: %w", errUnavailable, err)
	case found:
		if stored.Sealed {
			if stored.Body, err = s.openAnswer(r, scoped, stored.Body); err != nil {
				return err
			}
			r.ctx.Response.Header.Set("Cache-Control", "no-store")
		}
		resp := &r.ctx.Response
		resp.SetStatusCode(stored.Status)
		resp.Header.SetContentType(stored.ContentType)
		if stored.Location != "" {
			resp.Header.Set("Location", stored.Location)
		}
		resp.Header.Set("Idempotent-Replayed", "true")
		resp.SetBody(stored.Body)
		return nil
	}

	herr := h(r)
	if herr != nil {
		s.fail(r, herr)
	}
	ctx, cancel = r.context()
	defer cancel()
	// release gives the key up, so that a retry runs the request again.
	release := func() {
		if err := s.cfg.AdminIdempotency.ReleaseAnswer(ctx, scoped); err != nil {
			s.log.Warn("idempotency: release failed", "err", err.Error())
		}
	}
	resp := &r.ctx.Response
	if !finalAnswer(resp.StatusCode(), herr) {
		release()
		return nil
	}
	answer := storedResponse{
		Status: resp.StatusCode(), ContentType: string(resp.Header.ContentType()),
		Location: string(resp.Header.Peek("Location")), Body: resp.Body(),
	}
	if string(resp.Header.Peek("Cache-Control")) == "no-store" {
		// The answer shows a secret once; Redis must never hold it in
		// the clear.
		sealed, err := s.sealAnswer(r, scoped, answer.Body)
		if err != nil {
			s.log.Warn("idempotency: sealing an answer failed; not kept", "err", err.Error())
			release()
			return nil
		}
		answer.Body, answer.Sealed = sealed, true
		fp = sealedFingerprint(fp)
	}
	saved, _ := json.Marshal(answer) // cannot fail for this struct
	if err := s.cfg.AdminIdempotency.SaveAnswer(ctx, scoped, fp, saved, adminIdempotencyTTL); err != nil {
		// The answer stands; only a retry would run the request again.
		s.log.Warn("idempotency: saving an answer failed", "err", err.Error())
	}
	return nil
}

// finalAnswer reports whether an admin answer is the request's outcome
// for good, to keep under its Idempotency-Key for adminIdempotencyTTL: a
// success, or a refusal a retry would get again (400 invalid, 404, 409
// conflicts with what exists, 422). A temporary refusal is not kept, or
// the key would answer it for 24 h after its cause has passed: 409
// replay_running (the README promises a retry once the replay ends), 409
// rotation_pending (a retry after the named time rotates), 429,
// and every other status, which the key releases so that a retry runs the
// request again (a 5xx's outcome may be unknown too). Releasing is always
// safe for these: none of them changed anything.
func finalAnswer(status int, err error) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == fasthttp.StatusConflict:
		return !errors.Is(err, engine.ErrReplayRunning) && !errors.Is(err, engine.ErrRotationPending)
	case status == fasthttp.StatusBadRequest, status == fasthttp.StatusNotFound,
		status == fasthttp.StatusUnprocessableEntity:
		return true
	}
	return false
}

// isAdminPOST reports whether a route is an admin POST, which honours
// Idempotency-Key.
func isAdminPOST(method, route string) bool {
	return method == fasthttp.MethodPost && strings.HasPrefix(route, "/v1/admin/")
}

// scope names a caller's idempotency namespace.
func (p principal) scope() string {
	if p.admin && p.key != "" {
		return "key:" + p.key
	}
	if p.admin {
		return "admin"
	}
	return "user:" + p.user
}

// An answer that shows a secret is kept sealed: AES-256-GCM under a key
// derived from the credential that made the request and the nodes' JWT
// secret, neither of which Redis holds (it keeps an API key's SHA-256 and
// nothing of the admin token). Only a retry with that credential reads it
// again: whoever reads Redis gets neither the secret nor a way to it.
var errSealedElsewhere = &engine.DetailError{Err: engine.ErrIdempotencyMismatch,
	Detail: "the first answer to this Idempotency-Key shows a secret, and only the credential that made that request can read it"}

// sealedFingerprint is the fingerprint a sealed answer is kept under.
func sealedFingerprint(fp string) string { return fp + " sealed" }

// answerAEAD is the cipher of a sealed answer of r's caller under the
// scoped idempotency key. Its key is an HMAC under the nodes' JWT secret
// of the caller's token and the scoped key: Redis holds neither secret,
// so a copy of Redis gives no way to test guesses of an admin token
// against the sealed answers either.
func (s *Server) answerAEAD(r *request, scoped string) (cipher.AEAD, error) {
	token, err := parseBearer(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, s.cfg.Auth.JWTSecret)
	mac.Write([]byte("flashdrop idempotent answer\x00"))
	mac.Write([]byte(strconv.Itoa(len(token)) + "\x00"))
	mac.Write(token)
	mac.Write([]byte("\x00" + scoped))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealAnswer encrypts body for the caller: a random nonce, then the
// ciphertext.
func (s *Server) sealAnswer(r *request, scoped string, body []byte) ([]byte, error) {
	aead, err := s.answerAEAD(r, scoped)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(body)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, body, []byte(scoped)), nil
}

// openAnswer decrypts a sealed answer; another credential of the same
// scope (the admin token, changed since) cannot, and is told so.
func (s *Server) openAnswer(r *request, scoped string, sealed []byte) ([]byte, error) {
	aead, err := s.answerAEAD(r, scoped)
	if err != nil || len(sealed) < aead.NonceSize() {
		return nil, errSealedElsewhere
	}
	body, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(scoped))
	if err != nil {
		return nil, errSealedElsewhere
	}
	return body, nil
}

var idempotencyKeyHeader = []byte("Idempotency-Key")

// emptyIdempotencyKey reports whether the request has an Idempotency-Key
// header with an empty value, which Peek does not tell from none: taken
// as none, a client whose key came out empty (a bug of its own) would
// lose the replay safety it meant to have, with no error to say so. It
// is asked only when Peek found no value, and allocates nothing.
func emptyIdempotencyKey(h *fasthttp.RequestHeader) bool {
	for k := range h.All() {
		if bytes.EqualFold(k, idempotencyKeyHeader) {
			return true
		}
	}
	return false
}
