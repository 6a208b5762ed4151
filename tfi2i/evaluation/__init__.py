"""Scoring translations: the image sets of a split or two folders, and which metrics are
scored on them (decided once, in scoring)."""
