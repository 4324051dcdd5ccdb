"""The TFRS model library behind generated Trainer modules.

optimizers (by name), towers (feature encoders + hidden layers), model (two-tower retrieval),
strategy (GPU/CPU selection), data (transformed TFRecords), metrics and baselines (the evaluation
protocol), candidates (row selection), serving (SavedModel with original ids), retrieval
(`run_retrieval`, the Trainer `run_fn` body). `transform_ops` holds the Transform building blocks.
"""
