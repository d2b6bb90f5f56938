-- deadlines.lua: after a lazy rebuild, the sweep adds the open initiatives' deadlines read from
-- SQL (assist/rebuild.py), once: only if the load that left them pending is still the live one.
--
-- KEYS[1] state       hash: deadlines_pending (the load's token while its deadlines are not added)
-- KEYS[2] deadlines   sorted set: open initiatives by deadline
--
-- ARGV[1] the load's token   ARGV[2..] initiative_id, deadline_ms, initiative_id, deadline_ms...
--
-- Returns "ok" | "stale" (another load, or already added)

if redis.call('HGET', KEYS[1], 'deadlines_pending') ~= ARGV[1] then return 'stale' end
local batch = {}
for i = 2, #ARGV, 2 do
  batch[#batch + 1] = ARGV[i + 1]
  batch[#batch + 1] = ARGV[i]
  if #batch >= 2000 then
    redis.call('ZADD', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('ZADD', KEYS[2], unpack(batch)) end
redis.call('HDEL', KEYS[1], 'deadlines_pending')
return 'ok'
