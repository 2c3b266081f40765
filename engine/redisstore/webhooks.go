package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

var _ engine.WebhookStore = (*Store)(nil)

// maxDeadLetters bounds each webhook's dead-letter list.
const maxDeadLetters = engine.MaxDeadLetters

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
	by := w.CreatedBy
	if by == "" {
		by = engine.WebhookCreatedByAdmin
	}
	code, err := createWebhookScript.Run(ctx, s.rdb, []string{webhookKeysFor(w.ID).cfg},
		"url", w.URL, "types", strings.Join(types, ","), "secret", w.Secret, "created", msString(w.CreatedAt), "reh", boolString(w.Rehearsals),
		"by", by).Int64()
	if err != nil {
		return err
	}
	if code == codeExists {
		return fmt.Errorf("%w: webhook %q", engine.ErrWebhookExists, w.ID)
	}
	return nil
}

func parseWebhook(id string, m map[string]string) engine.Webhook {
	// No types is every type: [] in JSON, as when it was created, not null.
	w := engine.Webhook{ID: id, URL: m["url"], Secret: m["secret"], Types: []engine.EventType{}}
	if m["types"] != "" {
		for _, t := range strings.Split(m["types"], ",") {
			w.Types = append(w.Types, engine.EventType(t))
		}
	}
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	w.CreatedAt = fromMS(created)
	w.Rehearsals = m["reh"] == "1"
	// A webhook from before creators were recorded has no "by": the
	// admin's, so that no key acts on it unless it holds webhooks:all.
	w.CreatedBy = m["by"]
	if w.CreatedBy == "" {
		w.CreatedBy = engine.WebhookCreatedByAdmin
	}
	if until, _ := strconv.ParseInt(m["prev_until"], 10, 64); until > 0 && m["prev"] != "" {
		w.PreviousSecret, w.PreviousUntil = m["prev"], fromMS(until)
	}
	if m["disabled"] == "1" {
		at, _ := strconv.ParseInt(m["disabled_at"], 10, 64)
		w.Disabled, w.DisabledAt, w.DisabledReason = true, fromMS(at), m["disabled_reason"]
	}
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

// rotateWebhookSecretScript: KEYS[1] the webhook's cfg hash; ARGV[1] the
// new secret, ARGV[2] now (ms), ARGV[3] until when the secret it replaces
// keeps signing (ARGV[2]: not at all). Returns {0, <the webhook's hash>},
// {3} for no such webhook, or {4, until} while an earlier previous secret
// is still valid and this rotation would keep one (as rotateAPIKeyScript).
var rotateWebhookSecretScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'secret')
if not cur then return {3} end
if ARGV[3] == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'prev', 'prev_until')
  redis.call('HSET', KEYS[1], 'secret', ARGV[1])
  return {0, redis.call('HGETALL', KEYS[1])}
end
local prev = redis.call('HMGET', KEYS[1], 'prev', 'prev_until')
if prev[1] and prev[2] and tonumber(prev[2]) > tonumber(ARGV[2]) then
  return {4, prev[2]}
end
redis.call('HSET', KEYS[1], 'prev', cur, 'prev_until', ARGV[3], 'secret', ARGV[1])
return {0, redis.call('HGETALL', KEYS[1])}`)

// RotateWebhookSecret implements engine.WebhookStore.
func (s *Store) RotateWebhookSecret(ctx context.Context, id, secret string, at, prevUntil time.Time) (engine.Webhook, error) {
	v, err := rotateWebhookSecretScript.Run(ctx, s.rdb, []string{webhookKeysFor(id).cfg}, secret, msString(at), msString(prevUntil)).Slice()
	if err != nil {
		return engine.Webhook{}, err
	}
	r := reply(v)
	switch code := r.int(0); {
	case r.err != nil:
		return engine.Webhook{}, r.err
	case code == codeNotFound:
		return engine.Webhook{}, fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	case code == 4:
		return engine.Webhook{}, &engine.RotationPendingError{Until: time.UnixMilli(r.int(1)).UTC()}
	case code != 0:
		return engine.Webhook{}, fmt.Errorf("rotate webhook %q: unexpected reply %v", id, v)
	}
	fields := reply(r.slice(1))
	m := make(map[string]string, len(fields.v)/2)
	for i := 0; i+1 < len(fields.v); i += 2 {
		m[fields.str(i)] = fields.str(i + 1)
	}
	return parseWebhook(id, m), nil
}

// endWebhookGraceScript forgets the previous secret: 0, or 3 if the
// webhook does not exist.
var endWebhookGraceScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 3 end
redis.call('HDEL', KEYS[1], 'prev', 'prev_until')
return 0`)

// EndWebhookGrace implements engine.WebhookStore.
func (s *Store) EndWebhookGrace(ctx context.Context, id string) error {
	code, err := endWebhookGraceScript.Run(ctx, s.rdb, []string{webhookKeysFor(id).cfg}).Int64()
	switch {
	case err != nil:
		return err
	case code == codeNotFound:
		return fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	case code != 0:
		return fmt.Errorf("end grace of webhook %q: unexpected reply %d", id, code)
	}
	return nil
}

// DeleteWebhook implements engine.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	k := webhookKeysFor(id)
	// Only a webhook this store had is marked deleted (its id is in the
	// index until the last step): a DELETE of another deployment's id on
	// the same NATS (a 404 here) must not have its consumer removed.
	had, err := s.rdb.SIsMember(ctx, webhookIndexKey, id).Result()
	if err != nil {
		return err
	}
	n, err := s.rdb.Del(ctx, k.cfg).Result()
	if err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, k.status, k.dead, k.deadInfo, k.log, k.replay).Err(); err != nil {
		return err
	}
	// Marked after the webhook is gone, never before: a mark on a webhook
	// that still exists would have its consumer removed and made again,
	// redelivering its history. A repeat after a failure here finds the id
	// still in the index and marks it then. NX: the first deletion's time.
	if n > 0 || had {
		if err := s.rdb.ZAddNX(ctx, deletedWebhooksKey, redis.Z{Score: float64(time.Now().UnixMilli()), Member: id}).Err(); err != nil {
			return err
		}
	}
	if err := s.rdb.SRem(ctx, webhookIndexKey, id).Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	}
	return nil
}

// DeletedWebhooks implements engine.WebhookStore.
func (s *Store) DeletedWebhooks(ctx context.Context) ([]engine.DeletedWebhook, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, deletedWebhooksKey, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]engine.DeletedWebhook, 0, len(zs))
	for _, z := range zs {
		id, _ := z.Member.(string)
		out = append(out, engine.DeletedWebhook{ID: id, At: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

// ForgetDeletedWebhook implements engine.WebhookStore.
func (s *Store) ForgetDeletedWebhook(ctx context.Context, id string) error {
	return s.rdb.ZRem(ctx, deletedWebhooksKey, id).Err()
}

// recordDeliveryScript logs an attempt and, for an ordinary delivery,
// updates the status and the failure streak, disabling the webhook when
// the streak reaches the rule; a replay or a test that succeeded updates
// the status's last attempt and success, and a replay ends the streak. One script, so two nodes recording at once
// cannot both miss (or both make) the disabling step.
//
// A delivered event (an ordinary delivery or a replay, not a test) is no
// longer a dead letter: it leaves the dead list and its entry. A replay
// takes it off the list even without an entry (a dead letter recorded
// before entries were kept); an ordinary delivery, which is never of a
// dead letter but after a consumer was made anew, only with one, so
// that the common case costs one HDEL. A dead letter is kept once: one
// dead-lettered again (say, replayed and refused, then so again) moves
// to the front with its new entry.
//
// KEYS[1] status hash, KEYS[2] dead list, KEYS[3] log list, KEYS[4] cfg
// hash, KEYS[5] dead-letter entries hash. ARGV[1] time (ms), ARGV[2]
// status code, ARGV[3] error, ARGV[4] ok (1/0), ARGV[5] dead (1/0),
// ARGV[6] event id, ARGV[7] log entry (JSON), ARGV[8] counts (1 for an
// ordinary delivery), ARGV[9] disable after (n), ARGV[10] disable span
// (ms), ARGV[11] log size, ARGV[12] dead-letter cap, ARGV[13] the reason a
// disabled webhook shows (DisableRule.Reason), ARGV[14] the dead letter's
// entry (JSON, when dead), ARGV[15] replay (1/0), ARGV[16] delivers an
// event (1/0: not a test). Returns 1 if this call disabled the webhook,
// else 0.
var recordDeliveryScript = redis.NewScript(`
redis.call('LPUSH', KEYS[3], ARGV[7])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[11]) - 1)
if ARGV[4] == '1' and ARGV[16] == '1' then
  local had = redis.call('HDEL', KEYS[5], ARGV[6])
  if had == 1 or ARGV[15] == '1' then redis.call('LREM', KEYS[2], 0, ARGV[6]) end
end
-- A replay or a test the receiver refused is not counted: an operator's
-- attempt, not the events' own.
local counts = ARGV[8] == '1'
if not counts and ARGV[4] ~= '1' then return 0 end
local at = tonumber(ARGV[1])
-- Attempts are timed at their start but recorded as they end, so a slow
-- one can arrive after a later one: the status keeps the latest attempt
-- and success, and the failure streak is judged by start times (a slow
-- success does not end a streak of failures that started after it, and a
-- slow failure that started before the last success is not in the streak).
local last = redis.call('HMGET', KEYS[1], 'last_attempt', 'last_success', 'last_failure')
local lastAttempt = tonumber(last[1] or '0') or 0
local lastSuccess = tonumber(last[2] or '0') or 0
local lastFailure = tonumber(last[3] or '0') or 0
if at >= lastAttempt then
  redis.call('HSET', KEYS[1], 'last_status', ARGV[2], 'last_error', ARGV[3], 'last_attempt', ARGV[1])
end
if ARGV[4] == '1' then
  -- A replay or a test the receiver took is news of it too: the status
  -- shows it, and the counts stay the ordinary deliveries'. A replay's, a
  -- real event taken, ends the failure streak before it as a delivery
  -- does (a webhook whose dead letters were all replayed read "failing
  -- since" for good); a test's does not: a receiver may take the test and
  -- refuse every real event, and a monitor testing it every minute would
  -- keep it from ever being disabled.
  if counts then redis.call('HINCRBY', KEYS[1], 'delivered', 1) end
  if at >= lastSuccess then redis.call('HSET', KEYS[1], 'last_success', ARGV[1]) end
  if (counts or ARGV[15] == '1') and at >= lastFailure then
    redis.call('HSET', KEYS[1], 'consecutive', 0, 'streak_since', 0)
  end
  return 0
end
redis.call('HINCRBY', KEYS[1], 'failed', 1)
if ARGV[5] == '1' then
  redis.call('HINCRBY', KEYS[1], 'dead', 1)
  if redis.call('HSET', KEYS[5], ARGV[6], ARGV[14]) == 0 then
    redis.call('LREM', KEYS[2], 0, ARGV[6])
  end
  redis.call('LPUSH', KEYS[2], ARGV[6])
  local over = redis.call('LRANGE', KEYS[2], tonumber(ARGV[12]), -1)
  if #over > 0 then
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[12]) - 1)
    for _, old in ipairs(over) do
      if redis.call('LPOS', KEYS[2], old) == false then redis.call('HDEL', KEYS[5], old) end
    end
  end
end
if at > lastFailure then
  lastFailure = at
  redis.call('HSET', KEYS[1], 'last_failure', ARGV[1])
end
if at < lastSuccess then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
local since = tonumber(redis.call('HGET', KEYS[1], 'streak_since') or '0') or 0
if n == 1 or since == 0 or at < since then
  since = at
  redis.call('HSET', KEYS[1], 'streak_since', ARGV[1])
end
if n >= tonumber(ARGV[9]) and lastFailure - since >= tonumber(ARGV[10]) and redis.call('EXISTS', KEYS[4]) == 1
   and redis.call('HGET', KEYS[4], 'disabled') ~= '1' then
  redis.call('HSET', KEYS[4], 'disabled', '1', 'disabled_at', string.format('%d', lastFailure), 'disabled_reason', ARGV[13])
  return 1
end
return 0`)

// RecordDelivery implements engine.WebhookStore.
func (s *Store) RecordDelivery(ctx context.Context, id string, d engine.Delivery, rule engine.DisableRule) (bool, error) {
	rule = rule.WithDefaults()
	k := webhookKeysFor(id)
	entry, _ := json.Marshal(d.Record()) // cannot fail for this struct
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	counts := d.Kind == "" || d.Kind == engine.DeliveryKindEvent
	dead := ""
	if d.Dead && counts {
		e, _ := json.Marshal(d.DeadLetter()) // cannot fail for this struct
		dead = string(e)
	}
	n, err := recordDeliveryScript.Run(ctx, s.rdb, []string{k.status, k.dead, k.log, k.cfg, k.deadInfo},
		msString(d.At), d.Status, d.Err, b(d.OK()), b(d.Dead), d.EventID, entry, b(counts),
		rule.After, rule.Span.Milliseconds(), engine.DeliveryLogSize, maxDeadLetters, rule.Reason(),
		dead, b(d.Kind == engine.DeliveryKindReplay), b(d.Kind != engine.DeliveryKindTest)).Int64()
	return n == 1, err
}

// DeliveryLog implements engine.WebhookStore: newest first by the time
// each attempt started. The list holds them in the order they were
// recorded, when each ended, and attempts overlap (a slow test, a replay,
// the ordinary deliveries, several nodes): they are sorted on the way out.
func (s *Store) DeliveryLog(ctx context.Context, id string, n int) ([]engine.DeliveryRecord, error) {
	if n <= 0 {
		n = engine.DeliveryLogSize
	}
	raw, err := s.rdb.LRange(ctx, webhookKeysFor(id).log, 0, int64(n-1)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]engine.DeliveryRecord, 0, len(raw))
	for _, r := range raw {
		var rec engine.DeliveryRecord
		if json.Unmarshal([]byte(r), &rec) == nil {
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	for i := range out {
		// Entries logged before Record kept milliseconds had nanoseconds.
		out[i].At = out[i].At.Truncate(time.Millisecond)
	}
	return out, nil
}

// enableWebhookScript clears a webhook's disabled state and its failure
// streak. KEYS[1] cfg hash, KEYS[2] status hash. Returns 0, or 3 (not
// found).
var enableWebhookScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 3 end
redis.call('HDEL', KEYS[1], 'disabled', 'disabled_at', 'disabled_reason')
redis.call('HSET', KEYS[2], 'consecutive', 0, 'streak_since', 0)
return 0`)

// EnableWebhook implements engine.WebhookStore.
func (s *Store) EnableWebhook(ctx context.Context, id string) error {
	k := webhookKeysFor(id)
	code, err := enableWebhookScript.Run(ctx, s.rdb, []string{k.cfg, k.status}).Int64()
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	}
	return nil
}

// ClaimReplay implements engine.WebhookStore.
func (s *Store) ClaimReplay(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, webhookKeysFor(id).replay, "1", ttl).Result()
}

// ReleaseReplay implements engine.WebhookStore.
func (s *Store) ReleaseReplay(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, webhookKeysFor(id).replay).Err()
}

// WebhookStatus implements engine.WebhookStore.
func (s *Store) WebhookStatus(ctx context.Context, id string) (engine.WebhookStatus, error) {
	k := webhookKeysFor(id)
	var all *redis.MapStringStringCmd
	var pending *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all, pending = p.HGetAll(ctx, k.status), p.LLen(ctx, k.dead)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return engine.WebhookStatus{}, err
	}
	m := all.Val()
	n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
	return engine.WebhookStatus{
		Delivered: n("delivered"), Failed: n("failed"), DeadLettered: n("dead"), DeadLettersPending: pending.Val(),
		LastStatus: int(n("last_status")), LastError: m["last_error"],
		LastAttemptAt: fromMS(n("last_attempt")), LastSuccessAt: fromMS(n("last_success")),
		ConsecutiveFailures: n("consecutive"), FailingSince: fromMS(n("streak_since")),
	}, nil
}

// DeadLetters implements engine.WebhookStore.
func (s *Store) DeadLetters(ctx context.Context, id string, n int) ([]string, error) {
	if n <= 0 {
		n = 100
	}
	return s.rdb.LRange(ctx, webhookKeysFor(id).dead, 0, int64(n-1)).Result()
}

// deadLetterEntriesScript: KEYS[1] the dead list, KEYS[2] the entries
// hash; ARGV[1] how many. Returns {id, entry or false, ...}, newest
// first, read in one step so that an entry matches its id.
var deadLetterEntriesScript = redis.NewScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for i, id in ipairs(ids) do
  out[2*i-1] = id
  out[2*i] = redis.call('HGET', KEYS[2], id)
end
return out`)

// DeadLetterEntries implements engine.WebhookStore: newest first by the
// time each was dead-lettered (its last attempt's start), then by stream
// sequence. The list holds them in the order they were recorded, as each
// last attempt ended, and attempts overlap (several at a time per
// webhook, several nodes), so they are sorted on the way out, as the
// delivery log is: the list's order showed 52.263, 52.261, 52.262. A dead
// letter kept before entries were (only its id in the list) has only its
// EventID, and comes after the dated ones, in the list's order.
func (s *Store) DeadLetterEntries(ctx context.Context, id string, n int) ([]engine.DeadLetter, error) {
	if n <= 0 {
		n = 100
	}
	k := webhookKeysFor(id)
	v, err := deadLetterEntriesScript.Run(ctx, s.rdb, []string{k.dead, k.deadInfo}, n).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]engine.DeadLetter, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		eid, _ := v[i].(string)
		d := engine.DeadLetter{EventID: eid}
		if raw, ok := v[i+1].(string); ok && json.Unmarshal([]byte(raw), &d) == nil {
			d.EventID = eid
		} else {
			d = engine.DeadLetter{EventID: eid}
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.DeadLetteredAt.Equal(b.DeadLetteredAt) {
			return a.DeadLetteredAt.After(b.DeadLetteredAt)
		}
		return a.Sequence > b.Sequence
	})
	return out, nil
}

// dismissDeadLettersScript takes the given dead letters off a webhook's
// list and their entries: every read and check first, then the list is
// written once without them (it holds at most maxDeadLetters, so this is
// O(list + ids) where an LREM each would be O(list × ids)). An id given
// with a sequence other than 0 goes only while its entry has that
// sequence; one without an entry then stays too (it was delivered and
// dead-lettered anew, or never had one). The status hash's dead count is
// not touched: it counts every dead letter ever.
//
// KEYS[1] cfg hash, KEYS[2] dead list, KEYS[3] dead-letter entries hash.
// ARGV: event id and sequence ('0': any), pairs. Returns {3} when the
// webhook does not exist, else {0, id taken off, ...} in the order given.
var dismissDeadLettersScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {3} end
local list = redis.call('LRANGE', KEYS[2], 0, -1)
local present = {}
for _, e in ipairs(list) do present[e] = true end
local out, drop = {0}, {}
for i = 1, #ARGV, 2 do
  local eid, seq = ARGV[i], tonumber(ARGV[i + 1])
  if present[eid] and not drop[eid] then
    local ok = seq == 0
    if not ok then
      local raw = redis.call('HGET', KEYS[3], eid)
      if raw then
        local good, d = pcall(cjson.decode, raw)
        ok = good and type(d) == 'table' and tonumber(d['sequence']) == seq
      end
    end
    if ok then
      drop[eid] = true
      out[#out + 1] = eid
    end
  end
end
if #out == 1 then return out end
local keep = {}
for _, e in ipairs(list) do
  if not drop[e] then keep[#keep + 1] = e end
end
redis.call('DEL', KEYS[2])
for i = 1, #keep, 500 do
  redis.call('RPUSH', KEYS[2], unpack(keep, i, math.min(i + 499, #keep)))
end
for i = 2, #out, 500 do
  redis.call('HDEL', KEYS[3], unpack(out, i, math.min(i + 499, #out)))
end
return out`)

// DismissDeadLetters implements engine.WebhookStore.
func (s *Store) DismissDeadLetters(ctx context.Context, id string, dls []engine.DeadLetter) ([]string, error) {
	k := webhookKeysFor(id)
	args := make([]any, 0, 2*len(dls))
	for _, d := range dls {
		args = append(args, d.EventID, strconv.FormatUint(d.Sequence, 10))
	}
	v, err := dismissDeadLettersScript.Run(ctx, s.rdb, []string{k.cfg, k.dead, k.deadInfo}, args...).Slice()
	if err != nil {
		return nil, err
	}
	r := reply(v)
	switch code := r.int(0); {
	case r.err != nil:
		return nil, r.err
	case code == codeNotFound:
		return nil, fmt.Errorf("%w: webhook %q", engine.ErrNotFound, id)
	}
	out := make([]string, 0, len(v)-1)
	for i := 1; i < len(v); i++ {
		out = append(out, r.str(i))
	}
	return out, nil
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
