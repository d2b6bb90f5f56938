-- change.lua: a reservation leaves the reserved state, atomically: cancelled by its member (the
-- unit returns to the pool at once), redeemed (核销) by a store on its date, or expired by the
-- sweep at the end of its day. reserved -> cancelled | redeemed | expired, and nothing else:
-- of two changes racing on one code, exactly one happens.
--
-- KEYS[1] state   KEYS[2] reservation   KEYS[3] pools
-- KEYS[4] member: the hash of the actor's part (reservation/keys.py `member`; a cancel changes what
--         the member holds, "d:<date>" and "t": the actor must be the reservation's member)
-- KEYS[5] deadlines   KEYS[6] stats   KEYS[7] events
--
-- ARGV[1] cancel | redeem | expire   ARGV[2] code   ARGV[3] now_ms
-- ARGV[4] actor: the member (cancel), the operator (redeem), "sweep" (expire)
-- ARGV[5] today, the activity's local day (redeem)   ARGV[6] the redeeming store ("" if not said)
-- ARGV[7] channel   ARGV[8] source   (optional; streamed when not "")
--
-- Returns one of
--   {"ok", status}      the new status
--   {"not_due"}         (expire) the reservation's day is not over
--   {"not_loaded"[, "legacy"]}   (legacy: a state written before member hashes: see reserve.lua)
--   {"code_not_loaded"} rebuilt lazily, and Redis does not hold the code (or, for a cancel, its
--                       member's part): load the member of the code from SQL, call again
--   {"refused", code[, detail]}   reservation_not_found | reservation_cancelled |
--      reservation_redeemed | reservation_expired | cancel_cutoff_passed | wrong_date (detail:
--      the reserved date) | wrong_store (detail: the reserved store)

local lazy = redis.call('HGET', KEYS[1], 'lazy')
if not lazy then  -- not loaded; or a state of the layout before member hashes (reserve.lua): rebuilt
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
  return {'not_loaded', 'legacy'}
end
local lazily = lazy and lazy ~= '0'
local mode, code, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local r = redis.call('HMGET', KEYS[2], 'user_id', 'date', 'store', 'pool', 'status', 'cancel_until_ms')
if not r[1] then
  if lazily then return {'code_not_loaded'} end
  return {'refused', 'reservation_not_found'}
end
if mode == 'cancel' then
  if r[1] ~= ARGV[4] then return {'refused', 'reservation_not_found'} end
  if lazily and redis.call('HGET', KEYS[4], 'L') ~= lazy then return {'code_not_loaded'} end
end
if r[5] ~= 'reserved' then
  if mode == 'expire' then redis.call('ZREM', KEYS[5], code) end
  return {'refused', 'reservation_' .. r[5]}
end

local status
if mode == 'cancel' then
  if now >= tonumber(r[6]) then return {'refused', 'cancel_cutoff_passed', r[6]} end
  status = 'cancelled'
  redis.call('HINCRBY', KEYS[3], r[4], 1)
  redis.call('HINCRBY', KEYS[4], 'd:' .. r[2], -1)
  redis.call('HINCRBY', KEYS[4], 't', -1)
elseif mode == 'redeem' then
  if r[2] ~= ARGV[5] then return {'refused', 'wrong_date', r[2]} end
  if ARGV[6] ~= '' and r[3] ~= 'all' and r[3] ~= ARGV[6] then return {'refused', 'wrong_store', r[3]} end
  status = 'redeemed'
else
  local due = redis.call('ZSCORE', KEYS[5], code)
  if due and now < tonumber(due) then return {'not_due'} end
  status = 'expired'
end

redis.call('HSET', KEYS[2], 'status', status, 'changed_ms', ARGV[3])
redis.call('ZREM', KEYS[5], code)
redis.call('HINCRBY', KEYS[6], r[2] .. '|' .. r[3] .. '|' .. status, 1)
redis.call('HINCRBY', KEYS[1], status .. '_total', 1)
local event = {'type', 'reservation_change', 'code', code, 'status', status, 'actor', ARGV[4], 'at_ms', ARGV[3]}
for i, name in ipairs({'channel', 'source'}) do
  local value = ARGV[6 + i]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
redis.call('XADD', KEYS[7], '*', unpack(event))
return {'ok', status}
