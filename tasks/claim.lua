-- claim.lua: a member claims the reward of a completed task, once per period, atomically.
--
-- KEYS[1] state      hash: status, starts_at_ms, ends_at_ms
-- KEYS[2] progress   hash user_id -> progress of the task in the period
-- KEYS[3] claims     hash user_id -> claim id of the task in the period
-- KEYS[4] events     stream read by the SQL audit writer
--
-- ARGV[1] user_id   ARGV[2] task_id   ARGV[3] period   ARGV[4] target   ARGV[5] claim_id (fresh)
-- ARGV[6] now_ms   ARGV[7] TTL of the claims hash (ms)
--
-- Returns {"ok", claim_id} | {"replay", claim_id} (claimed before in this period) | {"not_loaded"} |
--   {"refused", code[, progress]}: activity_not_live | not_started | already_ended | task_not_completed

local claimed = redis.call('HGET', KEYS[3], ARGV[1])
if claimed then return {'replay', claimed} end
local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms')
if not s[1] then return {'not_loaded'} end
if s[1] ~= 'live' then return {'refused', 'activity_not_live'} end
local now = tonumber(ARGV[6])
if now < tonumber(s[2]) then return {'refused', 'not_started'} end
if now >= tonumber(s[3]) then return {'refused', 'already_ended'} end
local progress = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if progress < tonumber(ARGV[4]) then return {'refused', 'task_not_completed', tostring(progress)} end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
redis.call('XADD', KEYS[4], '*', 'type', 'task_claim', 'claim_id', ARGV[5], 'task_id', ARGV[2], 'period', ARGV[3],
  'user_id', ARGV[1], 'at_ms', ARGV[6])
return {'ok', ARGV[5]}
