-- assist.lua: a friend's assist through a member's share link counts once toward the member's
-- friend_assist task in its current period, atomically.
--
-- KEYS[1] state      hash: status, starts_at_ms, ends_at_ms
-- KEYS[2] progress   hash user_id -> progress of the task in the period
-- KEYS[3] assists    set of "<sharer>|<friend>" pairs counted in the period
-- KEYS[4] events     stream read by the SQL audit writer
--
-- ARGV[1] sharer   ARGV[2] friend   ARGV[3] task_id   ARGV[4] period   ARGV[5] event_id
-- ARGV[6] now_ms   ARGV[7] TTL of the period's hashes (ms)
--
-- Returns {"ok", progress} | {"refused", already_assisted, progress} | {"not_loaded"} |
--   {"refused", activity_not_live | not_started | already_ended}

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms')
if not s[1] then return {'not_loaded'} end
if s[1] ~= 'live' then return {'refused', 'activity_not_live'} end
local now = tonumber(ARGV[6])
if now < tonumber(s[2]) then return {'refused', 'not_started'} end
if now >= tonumber(s[3]) then return {'refused', 'already_ended'} end
if redis.call('SADD', KEYS[3], ARGV[1] .. '|' .. ARGV[2]) == 0 then
  return {'refused', 'already_assisted', tostring(redis.call('HGET', KEYS[2], ARGV[1]) or '0')}
end
redis.call('PEXPIRE', KEYS[3], ARGV[7])
local progress = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('XADD', KEYS[4], '*', 'type', 'task_assist', 'task_id', ARGV[3], 'period', ARGV[4],
  'user_id', ARGV[1], 'friend', ARGV[2], 'event_id', ARGV[5], 'at_ms', ARGV[6])
return {'ok', progress}
