"""The quick-test template: a fast, cheap training run that tells whether a config is promising."""
