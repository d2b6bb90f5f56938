-- unlock.lua: release a list's lock only if this caller still holds it (its token).
-- KEYS[1] lock string   ARGV[1] the caller's token
-- Returns 1 if released, 0 if the lock had expired or belongs to another caller.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
