"""Using a trained run: SavedModel export and its serving graph, translators loaded from an
export or a run, translating files, evaluating a model."""
