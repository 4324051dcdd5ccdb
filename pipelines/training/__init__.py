"""The full training template: quick test + validation, evaluation gate and registration."""
