"""Member-facing engagement: survey answers and their results, badges, and what shows when
(`nextUp` with per-surface limits and cool-offs, seen and dismissed marks).

Use cases are plain functions taking an explicit `Actor` and the time they act at; every
change goes through the progress write unit (`api.progress.unit.commit`); all SQL is in
`store.py`.
"""
