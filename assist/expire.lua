-- expire.lua: the sweep closes an open initiative whose deadline has passed, and gives its
-- reserved unit of the prize back to the stock. Safe to run any number of times.
--
-- KEYS[1] state   KEYS[2] initiative   KEYS[3] open (user_id -> open initiative)
-- KEYS[4] stock ("prize" -> units left)   KEYS[5] deadlines   KEYS[6] events
--
-- ARGV[1] initiative_id   ARGV[2] now_ms   ARGV[3] seconds a closed initiative stays in Redis
--
-- Returns {"expired"} | {"not_due"} | {"closed"} (completed or expired before) | {"gone"} | {"not_loaded"}
--   | {"initiative_not_loaded"} (rebuilt lazily: load the initiative from SQL, call again)

local lazy = redis.call('HGET', KEYS[1], 'lazy')
if not lazy and redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
local i = redis.call('HMGET', KEYS[2], 'initiator', 'status', 'deadline_ms')
if not i[1] then
  if lazy and lazy ~= '0' then return {'initiative_not_loaded'} end
  redis.call('ZREM', KEYS[5], ARGV[1])
  return {'gone'}
end
if i[2] ~= 'open' then
  redis.call('ZREM', KEYS[5], ARGV[1])
  return {'closed'}
end
if tonumber(ARGV[2]) < tonumber(i[3]) then return {'not_due'} end
redis.call('HSET', KEYS[2], 'status', 'expired')
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'prize', 1)
if redis.call('HGET', KEYS[3], i[1]) == ARGV[1] then redis.call('HDEL', KEYS[3], i[1]) end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'expired_total', 1)
redis.call('XADD', KEYS[6], '*', 'type', 'assist_outcome', 'initiative_id', ARGV[1], 'outcome', 'expired',
  'at_ms', ARGV[2])
return {'expired'}
