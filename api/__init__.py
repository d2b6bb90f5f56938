"""The HTTP API (Litestar). The only package that imports Litestar; controllers stay thin."""
