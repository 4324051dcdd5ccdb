"""Reading training runs back from MLflow: leaderboard, comparison, config-pair means, trend,
hyperparameter insights, per-epoch curves and a static HTML report (`python -m experiments`).

`store` connects to the local store or the tenant's private server (identity token, cold-start
retries, classified errors); `queries` computes every figure from the run contract's keys
(`trainer.contract`); `report` draws the page; `cli` is the command line.
"""
