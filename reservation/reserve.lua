-- reserve.lua: a member reserves one unit of a date's pool (热门商品预约), atomically.
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms): activities/window.lua, prepended when loaded.
--
-- KEYS[1] state        hash: status, starts_at_ms, ends_at_ms, per_date, per_total, lazy, counters
-- KEYS[2] pools        hash "<date>|<store or all>" -> units left
-- KEYS[3] member       hash of the member's part (reservation/keys.py `member`): "c:<code>",
--                      "k:<idempotency key>", "d:<date>" held that date, "t" held in all, "L" loaded by
-- KEYS[4] reservation  hash of the new reservation (its code is in the key)
-- KEYS[5] deadlines    sorted set: reservations the sweep expires at the end of their day
-- KEYS[6] stats        hash "<date>|<store>|<reserved, cancelled, redeemed, expired>" -> count
-- KEYS[7] events       stream read by the SQL audit writer
--
-- ARGV[1] user_id   ARGV[2] code (fresh)   ARGV[3] now_ms   ARGV[4] date   ARGV[5] store (or "all")
-- ARGV[6] pool field   ARGV[7] opens_at_ms (the date opens)   ARGV[8] closes_at_ms (the date ends)
-- ARGV[9] cancel_until_ms   ARGV[10] purchase (prepay | in_store)   ARGV[11] fingerprint
-- ARGV[12] idempotency key   ARGV[13] idempotency window (s: an older record is not a replay)
-- ARGV[14] how long the reservation stays in Redis (s)   ARGV[15] channel   ARGV[16] source
-- (optional; streamed when not "")
--
-- state: per_date (reservations a member may hold per date), per_total (in all; 0: no limit), read
-- as plain fields; lazy: "0", or the token of a lazy rebuild (a member is then loaded on its first
-- request: its hash's "L" is that token once loaded). Every load writes `lazy`: a state without it
-- was written by the layout before member hashes (what members held was in other keys), and is
-- answered {"not_loaded", "legacy"}: the store drops it (drop_legacy.lua) and it is rebuilt from SQL.
--
-- Returns one of
--   {"ok", code}   {"replay", code}   {"mismatch"} (same key, other request)
--   {"code_taken"} (draw another code)   {"not_loaded"[, "legacy"]}   {"member_not_loaded"} (load it, call again)
--   {"refused", code[, detail]}   activity_not_live | not_started | already_ended | not_open_yet |
--                                 date_closed | user_date_limit | user_total_limit | sold_out

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'per_date', 'per_total', 'lazy')
if not s[1] then return {'not_loaded'} end
if not s[6] then return {'not_loaded', 'legacy'} end  -- a state of the layout before member hashes
local user, day, now = ARGV[1], ARGV[4], tonumber(ARGV[3])
local m = redis.call('HMGET', KEYS[3], 'k:' .. ARGV[12], 'd:' .. day, 't', 'L')
if s[6] and s[6] ~= '0' and m[4] ~= s[6] then return {'member_not_loaded'} end
if m[1] then
  local fingerprint, code, at = string.match(m[1], '(%S+) (%S+) (%S+)')
  if now - tonumber(at) < tonumber(ARGV[13]) * 1000 then  -- within the window (else: a new request)
    if fingerprint ~= ARGV[11] then return {'mismatch'} end
    return {'replay', code}
  end
end
local outside = outside_window(s[1], s[2], s[3], now)
if outside then return outside end
if now < tonumber(ARGV[7]) then return {'refused', 'not_open_yet', ARGV[7]} end
if now >= tonumber(ARGV[8]) then return {'refused', 'date_closed'} end

local per_date, per_total = tonumber(s[4]), tonumber(s[5])
local held_day, held = tonumber(m[2] or '0'), tonumber(m[3] or '0')
if held_day >= per_date then return {'refused', 'user_date_limit'} end
if per_total > 0 and held >= per_total then return {'refused', 'user_total_limit'} end
local store, pool = ARGV[5], ARGV[6]
if tonumber(redis.call('HGET', KEYS[2], pool) or '0') <= 0 then return {'refused', 'sold_out'} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'code_taken'} end

redis.call('HINCRBY', KEYS[2], pool, -1)
redis.call('HSET', KEYS[3], 'c:' .. ARGV[2], 1, 'k:' .. ARGV[12], ARGV[11] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3],
  'd:' .. day, held_day + 1, 't', held + 1)
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[14]) then redis.call('EXPIRE', KEYS[3], ARGV[14]) end
redis.call('HSET', KEYS[4], 'user_id', user, 'date', day, 'store', store, 'pool', pool, 'status', 'reserved',
  'purchase', ARGV[10], 'cancel_until_ms', ARGV[9], 'created_ms', ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[14])
redis.call('ZADD', KEYS[5], ARGV[8], ARGV[2])
redis.call('HINCRBY', KEYS[6], day .. '|' .. store .. '|reserved', 1)
-- The event leaves out what the writer derives: the fingerprint (of the activity, date and store:
-- reservation/audit.py); reservations made are counted by `stats` alone (no total in the state).
local event = {'type', 'reservation', 'code', ARGV[2], 'user_id', user, 'date', day,
  'store', store, 'pool', pool, 'purchase', ARGV[10], 'cancel_until_ms', ARGV[9], 'idempotency_key', ARGV[12],
  'created_at_ms', ARGV[3]}
for i, name in ipairs({'channel', 'source'}) do
  local value = ARGV[14 + i]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
redis.call('XADD', KEYS[7], '*', unpack(event))
return {'ok', ARGV[2]}
