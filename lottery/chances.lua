-- chances.lua: credit draw chances to a member of a lottery, once per reference.
--
-- KEYS[1] state      hash of the lottery (absent = not loaded)
-- KEYS[2] chances    hash user_id -> chances left
-- KEYS[3] reference  marker: the chances of this reference were credited
-- KEYS[4] events     stream read by the SQL audit writer
-- KEYS[5] members    hash user_id -> 1: members loaded since a lazy rebuild (lottery/members.py)
--
-- ARGV[1] user_id   ARGV[2] chances to add (> 0)   ARGV[3] reference   ARGV[4] reason
-- ARGV[5] now_ms    ARGV[6] reference time to live (s)
--
-- Returns {"ok", chances_left} | {"replay", chances_left} | {"not_loaded"} | {"member_not_loaded"}

local lazy = redis.call('HGET', KEYS[1], 'lazy')
if not lazy and redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
if lazy and lazy ~= '0' and redis.call('HEXISTS', KEYS[5], ARGV[1]) == 0 then return {'member_not_loaded'} end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'replay', redis.call('HGET', KEYS[2], ARGV[1]) or '0'}
end
local left = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], 1, 'EX', ARGV[6])
redis.call('XADD', KEYS[4], '*', 'type', 'chances', 'ref', ARGV[3], 'user_id', ARGV[1], 'delta', ARGV[2],
  'reason', ARGV[4], 'at_ms', ARGV[5])
return {'ok', tostring(left)}
