-- start.lua: a member starts an initiative (发起助力), reserving a unit of the prize (or item).
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms): activities/window.lua, prepended when loaded.
--
-- KEYS[1] state       hash: status, starts_at_ms, ends_at_ms, rules (JSON), counters
-- KEYS[2] initiative  hash of the new initiative
-- KEYS[3] open        hash user_id -> the member's open initiative
-- KEYS[4] initiators  hash user_id -> initiatives started
-- KEYS[5] stock       hash "prize" -> units left (not reserved)
-- KEYS[6] deadlines   sorted set: open initiatives by deadline
-- KEYS[7] events      stream read by the SQL audit writer
-- KEYS[8] members     hash user_id -> 1: members loaded since a lazy rebuild (assist/members.py)
--
-- ARGV[1] user_id   ARGV[2] initiative_id (fresh)   ARGV[3] now_ms   ARGV[4] deadline_ms
-- ARGV[5] helps needed   ARGV[6] price (cents; "" unless a bargain)   ARGV[7] floor (cents; "")
-- ARGV[8] cuts ("120,35,..."; "" unless a bargain)   ARGV[9] seed of the cuts ("")
-- ARGV[10] channel   ARGV[11] source   (optional; streamed when not "")
--
-- state: per_user (initiatives a member may start; a state written before it: `rules`, JSON),
-- lazy ("0" or a lazy rebuild's token)
--
-- Returns one of
--   {"ok", initiative_id}
--   {"open", initiative_id}        the member already has an open initiative: that one
--   {"not_loaded"}                 no state: rebuild from SQL, then call again
--   {"member_not_loaded"}          rebuilt lazily: load the member from SQL, then call again
--   {"refused", code[, detail]}    activity_not_live | not_started | already_ended |
--                                  initiative_limit | out_of_stock

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'per_user', 'lazy')
if not s[1] then return {'not_loaded'} end
local user = ARGV[1]
if s[5] and s[5] ~= '0' and redis.call('HEXISTS', KEYS[8], user) == 0 then return {'member_not_loaded'} end
local open = redis.call('HGET', KEYS[3], user)
if open then return {'open', open} end
local now = tonumber(ARGV[3])
local outside = outside_window(s[1], s[2], s[3], now)
if outside then return outside end

local per_user = tonumber(s[4]) or cjson.decode(redis.call('HGET', KEYS[1], 'rules')).per_user
if tonumber(redis.call('HGET', KEYS[4], user) or '0') >= per_user then
  return {'refused', 'initiative_limit'}
end
if tonumber(redis.call('HGET', KEYS[5], 'prize') or '0') <= 0 then return {'refused', 'out_of_stock'} end

redis.call('HINCRBY', KEYS[5], 'prize', -1)
redis.call('HSET', KEYS[2], 'initiator', user, 'status', 'open', 'needed', ARGV[5], 'helps', 0,
  'started_ms', ARGV[3], 'deadline_ms', ARGV[4], 'price', ARGV[6], 'floor', ARGV[7], 'cuts', ARGV[8])
redis.call('HSET', KEYS[3], user, ARGV[2])
redis.call('HINCRBY', KEYS[4], user, 1)
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'initiatives_total', 1)
local event = {'type', 'assist_start', 'initiative_id', ARGV[2], 'initiator', user,
  'needed', ARGV[5], 'started_at_ms', ARGV[3], 'deadline_ms', ARGV[4], 'price_cents', ARGV[6],
  'floor_cents', ARGV[7], 'cuts', ARGV[8], 'seed', ARGV[9]}
for i, name in ipairs({'channel', 'source'}) do
  local value = ARGV[9 + i]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
redis.call('XADD', KEYS[7], '*', unpack(event))
return {'ok', ARGV[2]}
