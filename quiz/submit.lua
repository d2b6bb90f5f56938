-- submit.lua: a member submits the answers of a session, once, before its deadline, atomically.
--
-- KEYS[1] session   hash of the session (start.lua)
-- KEYS[2] events    stream read by the SQL audit writer
--
-- ARGV[1] user_id   ARGV[2] session_id   ARGV[3] now_ms   ARGV[4] answers, canonical and in the
-- session's question order ("0|1,2|3")   ARGV[5] pass mark
--
-- Returns {"ok", correct, passed ("1"/"0"), key} | {"replay", correct, passed, key} (submitted
-- before: the first result) | {"refused", session_not_found | session_expired}

local s = redis.call('HMGET', KEYS[1], 'user_id', 'deadline_ms', 'key', 'status', 'correct', 'passed')
if not s[1] or s[1] ~= ARGV[1] then return {'refused', 'session_not_found'} end
if s[4] == 'submitted' then return {'replay', s[5], s[6], s[3]} end
if tonumber(ARGV[3]) > tonumber(s[2]) then return {'refused', 'session_expired'} end
local correct, i = 0, 1
local given = {}
for part in string.gmatch(ARGV[4] .. '|', '([^|]*)|') do given[#given + 1] = part end
for part in string.gmatch(s[3] .. '|', '([^|]*)|') do
  if given[i] == part then correct = correct + 1 end
  i = i + 1
end
local passed = '0'
if correct >= tonumber(ARGV[5]) then passed = '1' end
redis.call('HSET', KEYS[1], 'status', 'submitted', 'correct', correct, 'passed', passed)
redis.call('XADD', KEYS[2], '*', 'type', 'quiz_result', 'session_id', ARGV[2], 'user_id', ARGV[1],
  'correct', correct, 'passed', passed, 'at_ms', ARGV[3])
return {'ok', tostring(correct), passed, s[3]}
