"""Route handlers grouped by audience: health, operators (back office), players."""
