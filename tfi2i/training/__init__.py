"""Training: the trainer, its callbacks, learning-rate schedules and checkpoints."""
