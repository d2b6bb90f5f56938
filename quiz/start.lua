-- start.lua: a member starts a quiz session, within the attempts per day, atomically.
--
-- KEYS[1] state     hash: status, starts_at_ms, ends_at_ms, attempts_per_day
-- KEYS[2] user_day  hash user_id -> sessions started that local day
-- KEYS[3] session   hash of the new session (its id is in the key)
-- KEYS[4] events    stream read by the SQL audit writer
--
-- ARGV[1] user_id   ARGV[2] session_id   ARGV[3] now_ms   ARGV[4] day   ARGV[5] deadline_ms
-- ARGV[6] question ids ("3,9,1")   ARGV[7] answer key ("0|1,2|3")   ARGV[8] day key TTL (ms)
-- ARGV[9] session TTL (ms)
--
-- Returns {"ok"} | {"not_loaded"} | {"refused", activity_not_live | not_started | already_ended |
--   attempts_used}

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'attempts_per_day')
if not s[1] then return {'not_loaded'} end
if s[1] ~= 'live' then return {'refused', 'activity_not_live'} end
local now = tonumber(ARGV[3])
if now < tonumber(s[2]) then return {'refused', 'not_started'} end
if now >= tonumber(s[3]) then return {'refused', 'already_ended'} end
local user = ARGV[1]
if tonumber(redis.call('HGET', KEYS[2], user) or '0') >= tonumber(s[4]) then return {'refused', 'attempts_used'} end
redis.call('HINCRBY', KEYS[2], user, 1)
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('HSET', KEYS[3], 'user_id', user, 'day', ARGV[4], 'deadline_ms', ARGV[5], 'questions', ARGV[6],
  'key', ARGV[7], 'status', 'open')
redis.call('PEXPIRE', KEYS[3], ARGV[9])
redis.call('XADD', KEYS[4], '*', 'type', 'quiz_start', 'session_id', ARGV[2], 'user_id', user, 'day', ARGV[4],
  'questions', ARGV[6], 'started_at_ms', ARGV[3], 'deadline_ms', ARGV[5])
return {'ok'}
