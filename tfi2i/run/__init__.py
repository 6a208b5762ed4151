"""A run directory: its config, its lock, its checkpoints, and a model restored from them
(what both training and inference build on)."""
