-- initiative.lua: load one initiative from SQL after a lazy rebuild (assist/members.py), once:
-- only if the load that read it is still the live one and Redis does not hold it.
--
-- KEYS[1] state   hash: lazy (the load's token)
-- KEYS[2] initiative   its hash (assist/initiatives.py `redis_fields`)
--
-- ARGV[1] the load's token   ARGV[2] seconds to keep it (0: open, kept until it closes)
-- ARGV[3..] field, value, field, value...
--
-- Returns "ok" | "loaded" (already) | "stale"

if redis.call('HGET', KEYS[1], 'lazy') ~= ARGV[1] then return 'stale' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'loaded' end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 'ok'
