"""Derived views of a run, as plain data: embedding, lineage, posterior tables, a store follower.

No UI imports here: the explorer and notebooks build on these.
"""
