"""Numbers the catalogue tests share."""

# Pictures stored per prototype on import: its top-k training patches.
TOP_K = 3
