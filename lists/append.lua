-- append.lua: add members to a list's live set, if it is loaded (else the next check rebuilds it
-- from SQL, which holds them already).
-- KEYS[1] the list's live set
-- ARGV[1] the LOADED marker member   ARGV[2..] member ids
-- Returns the number of ids added, or -1 when the set is not loaded.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('SADD', KEYS[1], unpack(ARGV, 2))
