"""Input pipelines: dataset layouts on disk, preprocessing, and the built-in synthetic data."""
