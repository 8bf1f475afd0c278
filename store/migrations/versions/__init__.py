"""Migration scripts, applied in order by `muara migrate`."""
