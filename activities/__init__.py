"""The shared kernel: activities, prizes, grants, quotas, audit.

Domain code here knows nothing of the web; `api/` is the only package that imports Litestar.
"""
