-- help.lua: one help (助力) of a friend, or one invitee counted for an initiative, atomically.
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms): activities/window.lua, prepended when loaded.
-- Applies the bargain's next cut (assist/bargain.py drew them at the start).
--
-- KEYS[1] state       hash: status, starts_at_ms, ends_at_ms, rules (JSON), counters
-- KEYS[2] initiative  hash: initiator, status, needed, helps, deadline_ms, price, cuts;
--                     "h:<helper>" -> "<number> <cut> <at_ms>"
-- KEYS[3] user_day    hash helper -> helps today (the activity's local day)
-- KEYS[4] device_day  hash device_id -> helps today
-- KEYS[5] ip_day      hash ip -> helps today
-- KEYS[6] helped      hash helper -> helps in the activity so far
-- KEYS[7] invitees    hash invitee -> the initiative the invitee counted for
-- KEYS[8] stock       hash "helper" -> helper rewards left
-- KEYS[9] open        hash user_id -> open initiative
-- KEYS[10] deadlines  sorted set of open initiatives by deadline
-- KEYS[11] events     stream read by the SQL audit writer
-- KEYS[12] members    hash user_id -> 1: members loaded since a lazy rebuild (assist/members.py)
-- KEYS[13] day_loaded hash "d:<device>" / "i:<ip>" -> 1: loaded since a lazy rebuild (its day's)
--
-- ARGV[1] helper (the friend; the invitee of an invite)   ARGV[2] help_id (fresh)   ARGV[3] now_ms
-- ARGV[4] local day (YYYY-MM-DD)   ARGV[5] day keys time to live (ms; set when a count starts)
-- ARGV[6] device_id ("" if unknown)   ARGV[7] ip ("" if unknown)   ARGV[8] "1" if a new user
-- ARGV[9] help | invite   ARGV[10] initiative_id
-- ARGV[11] seconds a closed initiative stays in Redis   ARGV[12] "1" if the activity has a helper reward
-- ARGV[13] channel   ARGV[14] source   ARGV[15] share parent: who shared the link (streamed only
-- if the initiator or a helper of this initiative)   (optional; streamed when not "")
--
-- state: helper_daily, device_daily, ip_daily: caps per day (0: none), new_only: 0 | 1, read as
-- plain fields (a state written before them has only `rules`, their JSON: decoded then); lazy:
-- "0" or a lazy rebuild's token, lazy_day its local day (whose device and address counts are
-- loaded when first seen)
--
-- Returns one of
--   {"ok", help_id, number, needed, cut, price, completed ("1"/"0"), helper_reward ("1"/"0")}
--                     (cut and price in cents, "" unless a bargain)
--   {"not_loaded"}    no state: rebuild from SQL, then call again
--   {"member_not_loaded"}  rebuilt lazily: load the helper (its device, its address) from SQL, call again
--   {"initiative_not_loaded"}  rebuilt lazily: load the initiative from SQL (if any), call again
--   {"refused", code[, detail]}   initiative_not_found | already_helped (detail: "<number> <cut> <at_ms>")
--                     | activity_not_live | not_started | already_ended | initiative_completed
--                     | initiative_expired | self_help | invitee_already_counted | new_users_only
--                     | helper_daily_limit | device_daily_limit | ip_daily_limit

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'helper_daily', 'device_daily',
  'ip_daily', 'new_only', 'lazy', 'lazy_day')
if not s[1] then return {'not_loaded'} end
local lazily = s[8] and s[8] ~= '0'
local helper, mode, now = ARGV[1], ARGV[9], tonumber(ARGV[3])
local i = redis.call('HMGET', KEYS[2], 'initiator', 'status', 'needed', 'helps', 'deadline_ms', 'price', 'cuts')
if not i[1] then
  if lazily then return {'initiative_not_loaded'} end
  return {'refused', 'initiative_not_found'}
end
local mine = redis.call('HGET', KEYS[2], 'h:' .. helper)
if mine then return {'refused', 'already_helped', mine} end

local outside = outside_window(s[1], s[2], s[3], now)
if outside then return outside end
if i[2] ~= 'open' then return {'refused', 'initiative_' .. i[2]} end
if now >= tonumber(i[5]) then return {'refused', 'initiative_expired'} end
if helper == i[1] then return {'refused', 'self_help'} end

local device, ip = ARGV[6], ARGV[7]
if lazily then
  if redis.call('HEXISTS', KEYS[12], helper) == 0 then return {'member_not_loaded'} end
  if ARGV[4] == s[9] and ((device ~= '' and s[5] ~= '0' and redis.call('HEXISTS', KEYS[13], 'd:' .. device) == 0)
    or (ip ~= '' and s[6] ~= '0' and redis.call('HEXISTS', KEYS[13], 'i:' .. ip) == 0)) then
    return {'member_not_loaded'}
  end
end
local rules
if s[4] then
  rules = {helper_daily = tonumber(s[4]), device_daily = tonumber(s[5]), ip_daily = tonumber(s[6]),
    new_only = tonumber(s[7])}
else
  rules = cjson.decode(redis.call('HGET', KEYS[1], 'rules'))
end
if mode == 'invite' then
  if redis.call('HEXISTS', KEYS[7], helper) == 1 then return {'refused', 'invitee_already_counted'} end
else
  if rules.new_only == 1 and ARGV[8] ~= '1' then return {'refused', 'new_users_only'} end
  if rules.helper_daily > 0 and tonumber(redis.call('HGET', KEYS[3], helper) or '0') >= rules.helper_daily then
    return {'refused', 'helper_daily_limit'}
  end
end
if device ~= '' and rules.device_daily > 0
  and tonumber(redis.call('HGET', KEYS[4], device) or '0') >= rules.device_daily then
  return {'refused', 'device_daily_limit'}
end
if ip ~= '' and rules.ip_daily > 0 and tonumber(redis.call('HGET', KEYS[5], ip) or '0') >= rules.ip_daily then
  return {'refused', 'ip_daily_limit'}
end

-- The help counts.
local number, needed = tonumber(i[4]) + 1, tonumber(i[3])
local cut, price = '', ''
if i[7] ~= '' then
  local k = 0
  for c in string.gmatch(i[7], '[^,]+') do
    k = k + 1
    if k == number then cut = c break end
  end
  price = tostring(tonumber(i[6]) - tonumber(cut))
  redis.call('HSET', KEYS[2], 'price', price)
end
redis.call('HSET', KEYS[2], 'helps', number, 'h:' .. helper, number .. ' ' .. (cut ~= '' and cut or '-') .. ' ' .. ARGV[3])
redis.call('HINCRBY', KEYS[1], 'helps_total', 1)
if redis.call('HINCRBY', KEYS[3], helper, 1) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
if device ~= '' then
  if redis.call('HINCRBY', KEYS[4], device, 1) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[5]) end
end
if ip ~= '' then
  if redis.call('HINCRBY', KEYS[5], ip, 1) == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[5]) end
end
if mode == 'invite' then redis.call('HSET', KEYS[7], helper, ARGV[10]) end

-- A first help in the activity earns the helper reward while its stock lasts.
local reward = '0'
local first = redis.call('HINCRBY', KEYS[6], helper, 1) == 1
if first and mode == 'help' and ARGV[12] == '1' and tonumber(redis.call('HGET', KEYS[8], 'helper') or '0') > 0 then
  redis.call('HINCRBY', KEYS[8], 'helper', -1)
  redis.call('HINCRBY', KEYS[1], 'helper_rewards_total', 1)
  reward = '1'
end

local completed = '0'
if number >= needed then
  completed = '1'
  redis.call('HSET', KEYS[2], 'status', 'completed')
  redis.call('EXPIRE', KEYS[2], ARGV[11])
  redis.call('ZREM', KEYS[10], ARGV[10])
  if redis.call('HGET', KEYS[9], i[1]) == ARGV[10] then redis.call('HDEL', KEYS[9], i[1]) end
  redis.call('HINCRBY', KEYS[1], 'completed_total', 1)
end
local event = {'type', 'assist_help', 'help_id', ARGV[2], 'initiative_id', ARGV[10],
  'helper', helper, 'kind', mode, 'number', number, 'cut_cents', cut, 'price_after_cents', price,
  'device_id', device, 'ip', ip, 'day', ARGV[4], 'helper_reward', reward, 'completed', completed,
  'at_ms', ARGV[3]}
local parent = ARGV[15]
if parent and parent ~= '' and parent ~= i[1] and redis.call('HEXISTS', KEYS[2], 'h:' .. parent) == 0 then
  parent = ''
end
for k, name in ipairs({'channel', 'source', 'parent'}) do
  local value = k == 3 and parent or ARGV[12 + k]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
redis.call('XADD', KEYS[11], '*', unpack(event))
return {'ok', ARGV[2], tostring(number), tostring(needed), cut, price, completed, reward}
