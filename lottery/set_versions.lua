-- set_versions.lua: a lottery's config versions as the draw script reads them (issue 18,
-- lottery/versions.py), only if the lottery is loaded (a missing state means "rebuild from SQL").
--
-- KEYS[1] state   hash: status (present = loaded), config_version, next_versions
--
-- ARGV[1] config_version (the version of the state's `prizes`)
-- ARGV[2] next_versions (JSON [{v, at, w}], the later versions)
--
-- Returns 1 (set) or 0 (not loaded).

if redis.call('HEXISTS', KEYS[1], 'status') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'config_version', ARGV[1], 'next_versions', ARGV[2])
return 1
