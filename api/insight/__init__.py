"""Customer-success insight: milestones with target dates, activation, time to value,
funnels, adoption, the health score, the portfolio across accounts, and the nudge job.

`rules` holds the pure rules (status, health formula, periods, statistics), `store` the SQL,
`accounts` the per-account computation, `cases` the use cases, `nudges` the periodic job and
`export` the `heed export` tables.
"""
