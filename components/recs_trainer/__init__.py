"""RecsTrainer: the TFX Trainer with typed run parameters (epochs, batch size, learning rate, seed)."""

from components.recs_trainer.component import RecsTrainer

__all__ = ["RecsTrainer"]
