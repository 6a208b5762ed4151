"""Scores of translated images.

Distribution metrics compare feature sets of real and translated images (fid, kid,
precision_recall); paired metrics compare each translation with its known target (paired).
Features come from a pluggable extractor (features; entry point group tfi2i.feature_extractors).
"""
