"""Reserved for a later gameplay issue; nothing here yet."""
