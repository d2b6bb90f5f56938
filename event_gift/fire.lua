-- fire.lua: an event fires a gift for a member, once per event id, within caps and budget.
--
-- KEYS[1] state       hash: status, starts_at_ms, ends_at_ms, per_member_daily, per_member_total
--                     (0: no cap), budget_left (absent: no budget), fired_total
-- KEYS[2] user_total  hash user_id -> firings for the member
-- KEYS[3] user_day    hash user_id -> firings for the member that local day
-- KEYS[4] fired       string: this event already fired the gift ("<gift_id>")
-- KEYS[5] events      stream read by the SQL audit writer
--
-- ARGV[1] user_id   ARGV[2] event_id   ARGV[3] gift_id   ARGV[4] now_ms   ARGV[5] day
-- ARGV[6] day key TTL (ms)   ARGV[7] fired marker TTL (s)
--
-- Returns {"ok", gift_id} | {"replay", gift_id} | {"not_loaded"} |
--   {"refused", code}: activity_not_live | not_started | already_ended | member_daily_cap |
--                      member_total_cap | budget_spent

local seen = redis.call('GET', KEYS[4])
if seen then return {'replay', seen} end
local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'per_member_daily',
  'per_member_total', 'budget_left')
if not s[1] then return {'not_loaded'} end
if s[1] ~= 'live' then return {'refused', 'activity_not_live'} end
local now = tonumber(ARGV[4])
if now < tonumber(s[2]) then return {'refused', 'not_started'} end
if now >= tonumber(s[3]) then return {'refused', 'already_ended'} end
local user = ARGV[1]
local daily, total = tonumber(s[4]), tonumber(s[5])
if daily > 0 and tonumber(redis.call('HGET', KEYS[3], user) or '0') >= daily then
  return {'refused', 'member_daily_cap'}
end
if total > 0 and tonumber(redis.call('HGET', KEYS[2], user) or '0') >= total then
  return {'refused', 'member_total_cap'}
end
if s[6] then
  if tonumber(s[6]) <= 0 then return {'refused', 'budget_spent'} end
  redis.call('HINCRBY', KEYS[1], 'budget_left', -1)
end
redis.call('HINCRBY', KEYS[1], 'fired_total', 1)
redis.call('HINCRBY', KEYS[2], user, 1)
redis.call('HINCRBY', KEYS[3], user, 1)
redis.call('PEXPIRE', KEYS[3], ARGV[6])
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[7])
redis.call('XADD', KEYS[5], '*', 'type', 'gift', 'gift_id', ARGV[3], 'user_id', user, 'event_id', ARGV[2],
  'day', ARGV[5], 'at_ms', ARGV[4])
return {'ok', ARGV[3]}
