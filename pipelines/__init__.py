"""The versioned pipeline templates, their runners and the run contract."""

from pipelines import environment as _environment

_environment.apply()  # before anything below imports TensorFlow
