-- mark.lua: one sign-in (签到) or make-up (补签) of one member, atomically.
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms): activities/window.lua, prepended when loaded.
-- Mirrors checkin/streak.py (longest_run, marked_count, current_streak, newly_reached).
--
-- KEYS[1] state   hash: status, starts_at_ms, ends_at_ms, terms (the rules, compact: below),
--                 lazy, signins_total, makeups_total, rewards_total; rules (the same rules as
--                 JSON: read only when terms is missing, a state loaded before terms existed)
-- KEYS[2] cycle   hash of the current cycle: user_id -> marks, one character per day of the cycle
--                 ("0" missed, "1" signed in, "2" made up); "user_id|offset" -> the outcome of the
--                 day's mark: "<mark_id> <kind> <streak> <cumulative> <rewards> <at_ms>"
--                 (rewards: reward indexes "3,5", or "-" for none). Its expiry is set with the
--                 day's first mark (below) or by the load that creates it (checkin/store.py)
-- KEYS[3] day     hash of today's counters: signin, makeup. Expiry set when a count starts
-- KEYS[4] events  stream read by the SQL audit writer
-- KEYS[5] members hash user_id -> 1: members loaded since a lazy rebuild (checkin/members.py)
--
-- ARGV[1] user_id        ARGV[2] mark_id (fresh; used only if a day gets marked)   ARGV[3] now_ms
-- ARGV[4] kind: signin | makeup | quote (a make-up checked but not applied: the caller charges
--         its cost, then calls again with makeup)
-- ARGV[5] offset in the cycle of the day to mark (today for a sign-in)   ARGV[6] offset of today
-- ARGV[7] cycle length (days)   ARGV[8] cycle start (YYYY-MM-DD)   ARGV[9] day to mark (YYYY-MM-DD)
-- ARGV[10] cycle hash time to live (ms)   ARGV[11] day hash time to live (ms)
-- ARGV[12] channel   ARGV[13] source   (optional; streamed when not "")
--
-- terms: "<daily> <make-ups> <streak> <cumulative>" (checkin/model.py script_terms): the daily
--        reward's index or -1, make-ups allowed per cycle (0: none), "days:index,..." by ascending
--        days and "count:index,..." by ascending count ("-": none), e.g. "0 1 3:1,7:2 5:3".
-- rules (JSON): {"d": daily, "s": [[days, index], ...], "c": [[count, index], ...], "m": make-ups}
--
-- The stream entry leaves out kind when it is signin (the audit writer fills it in).
--
-- Returns one of
--   {"ok", mark_id, kind, streak, cumulative, rewards, at_ms, made_up}
--                                 made_up: days of the member's cycle made up so far
--   {"replay", <the same fields, of the first request; made_up as of now>}
--                                 the day was already marked this way
--   {"quoted"}                    (quote) the make-up would be applied now
--   {"not_loaded"}                no state for this activity: rebuild from SQL, then call again
--   {"member_not_loaded"}         rebuilt lazily, this member not yet: load it from SQL, call again
--   {"refused", code[, detail]}   activity_not_live | not_started | already_ended |
--                                 day_already_signed | makeup_limit | makeup_disabled

local ZERO = 48  -- string.byte("0")
local MADE_UP = 50  -- string.byte("2")

local function longest_run(marks)
  local best, run = 0, 0
  for i = 1, #marks do
    if marks:byte(i) ~= ZERO then
      run = run + 1
      if run > best then best = run end
    else
      run = 0
    end
  end
  return best
end

local function count(marks, byte)
  local n = 0
  for i = 1, #marks do
    if marks:byte(i) == byte then n = n + 1 end
  end
  return n
end

local function current_streak(marks, today)
  local i = today + 1  -- Lua strings count from 1
  if marks:byte(i) == ZERO then i = i - 1 end
  local n = 0
  while i >= 1 and marks:byte(i) ~= ZERO do
    n = n + 1
    i = i - 1
  end
  return n
end

local function split(text)
  local fields = {}
  for field in string.gmatch(text, '%S+') do fields[#fields + 1] = field end
  return fields
end

-- terms from the JSON rules of a state loaded before terms existed
local function terms_of(json)
  local rules = cjson.decode(json)
  local function list(pairs)
    local out = {}
    for _, t in ipairs(pairs) do out[#out + 1] = t[1] .. ':' .. t[2] end
    return #out > 0 and table.concat(out, ',') or '-'
  end
  return rules.d .. ' ' .. rules.m .. ' ' .. list(rules.s) .. ' ' .. list(rules.c)
end

local user, kind = ARGV[1], ARGV[4]
local offset, today, length = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local record_field = user .. '|' .. offset

local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'terms', 'lazy')
if not s[1] then return {'not_loaded'} end
local lazy = s[5]
if lazy and lazy ~= '0' and redis.call('HEXISTS', KEYS[5], user) == 0 then return {'member_not_loaded'} end

local m = redis.call('HMGET', KEYS[2], user, record_field)
local seen = m[2]
if seen then
  local f = split(seen)
  local as = kind == 'quote' and 'makeup' or kind
  if f[2] ~= as then return {'refused', 'day_already_signed'} end
  return {'replay', f[1], f[2], f[3], f[4], f[5], f[6], tostring(count(m[1] or '', MADE_UP))}
end

local now = tonumber(ARGV[3])
local outside = outside_window(s[1], s[2], s[3], now)
if outside then return outside end

local terms = s[4] or terms_of(redis.call('HGET', KEYS[1], 'rules'))
local daily, makeups, streaks, counts = string.match(terms, '^(%-?%d+) (%d+) (%S+) (%S+)$')
daily, makeups = tonumber(daily), tonumber(makeups)
local before = m[1] or string.rep('0', length)
if before:byte(offset + 1) ~= ZERO then return {'refused', 'day_already_signed'} end
if kind ~= 'signin' then
  if makeups == 0 then return {'refused', 'makeup_disabled'} end
  if count(before, MADE_UP) >= makeups then return {'refused', 'makeup_limit'} end
  if kind == 'quote' then return {'quoted'} end
end

local after = before:sub(1, offset) .. (kind == 'signin' and '1' or '2') .. before:sub(offset + 2)

-- The rewards this mark reaches for the first time in the cycle (streak.newly_reached).
local rewards = {}
if kind == 'signin' and daily >= 0 then rewards[#rewards + 1] = daily end
if streaks ~= '-' then
  local run_before, run_after = longest_run(before), longest_run(after)
  for at, index in string.gmatch(streaks, '(%d+):(%d+)') do
    at = tonumber(at)
    if at > run_before and at <= run_after then rewards[#rewards + 1] = index end
  end
end
local count_after = length - count(after, ZERO)
if counts ~= '-' then
  for at, index in string.gmatch(counts, '(%d+):(%d+)') do
    if tonumber(at) == count_after then rewards[#rewards + 1] = index end  -- one more mark: reached now
  end
end

local streak = current_streak(after, today)
local reward_list = #rewards > 0 and table.concat(rewards, ',') or '-'
local result = {ARGV[2], kind, tostring(streak), tostring(count_after), reward_list, ARGV[3]}

redis.call('HSET', KEYS[2], user, after, record_field, table.concat(result, ' '))
redis.call('HINCRBY', KEYS[1], kind == 'signin' and 'signins_total' or 'makeups_total', 1)
if #rewards > 0 then redis.call('HINCRBY', KEYS[1], 'rewards_total', #rewards) end
if redis.call('HINCRBY', KEYS[3], kind, 1) == 1 then  -- the day's first: both keys get their expiry
  redis.call('PEXPIRE', KEYS[3], ARGV[11])
  redis.call('PEXPIRE', KEYS[2], ARGV[10])
end
local event = {'type', 'checkin', 'mark_id', ARGV[2], 'user_id', user, 'day', ARGV[9],
  'cycle_start', ARGV[8], 'streak', streak, 'cumulative', count_after, 'rewards', reward_list, 'at_ms', ARGV[3]}
if kind ~= 'signin' then event[#event + 1] = 'kind'; event[#event + 1] = kind end
for i, name in ipairs({'channel', 'source'}) do
  local value = ARGV[11 + i]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
redis.call('XADD', KEYS[4], '*', unpack(event))
result[#result + 1] = tostring(count(after, MADE_UP))
return {'ok', unpack(result)}
