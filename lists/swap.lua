-- swap.lua: put a filled staging set in place of a list's live set, marked loaded.
-- KEYS[1] staging set (the new members, with an expiry in case its filler died)
-- KEYS[2] the list's live set
-- ARGV[1] the LOADED marker member (the empty string)
-- Returns 1.
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PERSIST', KEYS[1])
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
