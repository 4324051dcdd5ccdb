"""The TFRS model library behind generated Trainer modules.

optimizers (by name), towers (feature encoders + hidden layers), model (two-tower retrieval,
ranking, multitask), ranking (rating head, RMSE/MAE), history and reorder (purchase history and
the re-order scorer), strategy (GPU/CPU selection), data (transformed TFRecords), metrics and
baselines (the evaluation protocol), candidates (row selection), serving (SavedModel with original
ids), run (`run_training`, the Trainer `run_fn` body). `transform_ops` holds the Transform building blocks.
"""

from pipelines import environment as _environment

_environment.apply()  # TF_USE_LEGACY_KERAS before TensorFlow is imported
