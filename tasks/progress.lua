-- progress.lua: a member's event counts toward the activity's tasks it matches, atomically.
--
-- KEYS[1] state      hash: status, starts_at_ms, ends_at_ms
-- KEYS[2] events     stream read by the SQL audit writer
-- KEYS[2 + i]        progress hash (user_id -> progress) of the i-th task's current period
--
-- ARGV[1] user_id   ARGV[2] event_id   ARGV[3] now_ms
-- then 4 per task: task_id, period, delta, TTL of the progress hash (ms)
--
-- Returns {"ok", progress of task 1, progress of task 2...} | {"not_loaded"} |
--   {"refused", activity_not_live | not_started | already_ended}

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms')
if not s[1] then return {'not_loaded'} end
if s[1] ~= 'live' then return {'refused', 'activity_not_live'} end
local now = tonumber(ARGV[3])
if now < tonumber(s[2]) then return {'refused', 'not_started'} end
if now >= tonumber(s[3]) then return {'refused', 'already_ended'} end
local out = {'ok'}
for i = 1, #KEYS - 2 do
  local base = 3 + (i - 1) * 4
  local progress = redis.call('HINCRBY', KEYS[2 + i], ARGV[1], ARGV[base + 3])
  redis.call('PEXPIRE', KEYS[2 + i], ARGV[base + 4])
  redis.call('XADD', KEYS[2], '*', 'type', 'task_progress', 'task_id', ARGV[base + 1], 'period', ARGV[base + 2],
    'user_id', ARGV[1], 'event_id', ARGV[2], 'delta', ARGV[base + 3], 'at_ms', ARGV[3])
  out[#out + 1] = progress
end
return out
