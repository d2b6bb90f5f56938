"""Audience lists (名单): operators upload allow and deny lists of member ids (`POST /operator/lists`,
CSV up to 1,000,000 members, or JSON for small lists); an activity's audience may require or
exclude them (`{"lists": {"require": [...], "exclude": [...]}}`: `ActivityService.admit`). SQL
holds the lists (the source), Redis a set per list (what a member's request checks, O(1)), rebuilt
from SQL when missing. The kernel sees them only through `activities.service.ListMembership`.
"""
