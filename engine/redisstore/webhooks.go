package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

var _ engine.WebhookStore = (*Store)(nil)

// maxDeadLetters bounds each webhook's dead-letter list.
const maxDeadLetters = 1000

// createWebhookScript writes a webhook unless its id exists.
// KEYS[1] cfg hash. ARGV: field/value pairs. Returns 0, or 16 if it exists.
var createWebhookScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 16 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 0`)

// CreateWebhook implements engine.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w engine.Webhook) error {
	if err := engine.ValidateWebhook(w); err != nil {
		return err
	}
	// Index first, as for drops: a crash in between leaves an entry that
	// Webhooks skips, never a webhook nobody can list or delete.
	if err := s.rdb.SAdd(ctx, webhookIndexKey, w.ID).Err(); err != nil {
		return err
	}
	types := make([]string, len(w.Types))
	for i, t := range w.Types {
		types[i] = string(t)
	}
	code, err := createWebhookScript.Run(ctx, s.rdb, []string{webhookKeysFor(w.ID).cfg},
		"url", w.URL, "types", strings.Join(types, ","), "secret", w.Secret, "created", msString(w.CreatedAt)).Int64()
	if err != nil {
		return err
	}
	if code == codeExists {
		return fmt.Errorf("%w: webhook %q", engine.ErrWebhookExists, w.ID)
	}
	return nil
}

func parseWebhook(id string, m map[string]string) engine.Webhook {
	w := engine.Webhook{ID: id, URL: m["url"], Secret: m["secret"]}
	if m["types"] != "" {
		for _, t := range strings.Split(m["types"], ",") {
			w.Types = append(w.Types, engine.EventType(t))
		}
	}
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	w.CreatedAt = fromMS(created)
	return w
}

// Webhook implements engine.WebhookStore. The secret is included: the
// deliverer needs it; the API leaves it out.
func (s *Store) Webhook(ctx context.Context, id string) (engine.Webhook, error) {
	m, err := s.rdb.HGetAll(ctx, webhookKeysFor(id).cfg).Result()
	if err != nil {
		return engine.Webhook{}, err
	}
	if len(m) == 0 {
		return engine.Webhook{}, fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	}
	return parseWebhook(id, m), nil
}

// Webhooks implements engine.WebhookStore, ordered by id.
func (s *Store) Webhooks(ctx context.Context) ([]engine.Webhook, error) {
	ids, err := s.rdb.SMembers(ctx, webhookIndexKey).Result()
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, webhookKeysFor(id).cfg)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]engine.Webhook, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) > 0 {
			out = append(out, parseWebhook(ids[i], c.Val()))
		}
	}
	return out, nil
}

// DeleteWebhook implements engine.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	k := webhookKeysFor(id)
	n, err := s.rdb.Del(ctx, k.cfg).Result()
	if err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, k.status, k.dead).Err(); err != nil {
		return err
	}
	if err := s.rdb.SRem(ctx, webhookIndexKey, id).Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	}
	return nil
}

// RecordDelivery implements engine.WebhookStore: one atomic update of the
// counters and last-attempt fields (same slot, so a MULTI suffices).
func (s *Store) RecordDelivery(ctx context.Context, id string, d engine.Delivery) error {
	k := webhookKeysFor(id)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.status, "last_status", d.Status, "last_error", d.Err, "last_attempt", msString(d.At))
		if d.OK() {
			p.HIncrBy(ctx, k.status, "delivered", 1)
			p.HSet(ctx, k.status, "last_success", msString(d.At))
		} else {
			p.HIncrBy(ctx, k.status, "failed", 1)
		}
		if d.Dead {
			p.HIncrBy(ctx, k.status, "dead", 1)
			p.LPush(ctx, k.dead, d.EventID)
			p.LTrim(ctx, k.dead, 0, maxDeadLetters-1)
		}
		return nil
	})
	return err
}

// WebhookStatus implements engine.WebhookStore.
func (s *Store) WebhookStatus(ctx context.Context, id string) (engine.WebhookStatus, error) {
	m, err := s.rdb.HGetAll(ctx, webhookKeysFor(id).status).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return engine.WebhookStatus{}, err
	}
	n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
	return engine.WebhookStatus{
		Delivered: n("delivered"), Failed: n("failed"), DeadLettered: n("dead"),
		LastStatus: int(n("last_status")), LastError: m["last_error"],
		LastAttemptAt: fromMS(n("last_attempt")), LastSuccessAt: fromMS(n("last_success")),
	}, nil
}

// DeadLetters implements engine.WebhookStore.
func (s *Store) DeadLetters(ctx context.Context, id string, n int) ([]string, error) {
	if n <= 0 {
		n = 100
	}
	return s.rdb.LRange(ctx, webhookKeysFor(id).dead, 0, int64(n-1)).Result()
}
