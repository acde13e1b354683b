"""Read finished runs back (offline W&B folders, the W&B API, or the callbacks' CSV files)."""
