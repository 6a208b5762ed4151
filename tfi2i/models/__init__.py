"""Translation models: keras.Model subclasses with their own train_step."""
