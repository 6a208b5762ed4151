"""How TensorFlow runs a step: thread pools, the tf.distribute strategy, replica-safe random
draws, mixed precision."""
