"""Parameter counts per tower from the configs alone equal Keras's count of the built towers,
for every model preset and every example feature config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specs import FeatureConfig, ModelConfig
from specs.model import PRESETS
from specs.sizes import tower_parameters
from trainer.towers import build_tower, embedding_layer

EXAMPLES = Path(__file__).resolve().parents[2] / "codegen" / "examples"
FEATURES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "features.json").is_file())


def vocabularies(features: FeatureConfig) -> dict[str, int]:
    """Arbitrary, distinct vocabulary sizes for every vocabulary column."""
    columns = sorted({f.column for t in (features.query_tower, features.candidate_tower)
                      for f in t.features if f.kind in ("string", "string_list", "history")})  # fmt: skip
    return {column: 37 + 11 * i for i, column in enumerate(columns)}


def built(features: FeatureConfig, model: ModelConfig, vocab: dict[str, int]):
    """The towers as the trainer builds them (trainer.run): the query tower's history pools the
    candidate id's own embedding."""
    candidate = build_tower(features.candidate_tower, model.candidate_layers, model.output_dim,
                            vocab, name="candidate_tower")  # fmt: skip
    shared = {features.candidate_id: embedding_layer(candidate, features.candidate_id)}
    query = build_tower(features.query_tower, model.query_layers, model.output_dim, vocab,
                        name="query_tower", shared=shared)  # fmt: skip
    return {"query_tower": query, "candidate_tower": candidate}


@pytest.mark.parametrize("example", FEATURES)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_counts_equal_keras_for_every_preset(example, preset):
    import tensorflow as tf

    features = FeatureConfig.model_validate_json((EXAMPLES / example / "features.json").read_text())
    model = ModelConfig.preset(preset)
    vocab = vocabularies(features)
    counted = tower_parameters(features, model, vocab)
    for name, tower in built(features, model, vocab).items():
        trainable = sum(int(tf.size(w)) for w in tower.trainable_weights)
        assert (counted[name].total, counted[name].trainable) == (tower.count_params(), trainable)


def test_normalization_layers_count_too():
    import tensorflow as tf

    features = FeatureConfig.model_validate_json((EXAMPLES / "demo_b2b/features.json").read_text())
    model = ModelConfig.model_validate({
        "name": "bn", "output_dim": 16,
        "query_layers": [{"type": "dense", "units": 24}, {"type": "batch_norm"},
                         {"type": "dropout", "rate": 0.1}, {"type": "layer_norm"}],
        "candidate_layers": [{"type": "batch_norm"}, {"type": "dense", "units": 8}],
    })  # fmt: skip
    vocab = vocabularies(features)
    counted = tower_parameters(features, model, vocab)
    for name, tower in built(features, model, vocab).items():
        non_trainable = sum(int(tf.size(w)) for w in tower.non_trainable_weights)
        assert counted[name].total == tower.count_params()
        assert counted[name].non_trainable == non_trainable > 0


def test_an_uncapped_vocabulary_without_a_size_is_named():
    features = FeatureConfig.model_validate_json((EXAMPLES / "demo_b2b/features.json").read_text())
    with pytest.raises(ValueError, match=r"vocab_size: unknown; give the vocabulary size of"):
        tower_parameters(features, ModelConfig.preset("minimal"), {})


def test_the_cli_prints_the_counts_and_widths(capsys):
    from codegen.cli import main

    features_path = EXAMPLES / "online_retail/features.json"
    features = FeatureConfig.model_validate_json(features_path.read_text())
    vocab = vocabularies(features)
    args = ["sizes", "--features", str(features_path), "--preset", "standard"]
    args += [f"--vocab={column}={size}" for column, size in vocab.items()]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    counted = tower_parameters(features, ModelConfig.preset("standard"), vocab)
    assert out["query_tower"]["total"] == counted["query_tower"].total
    assert out["candidate_tower"]["output_dim"] == 32
    assert main(["sizes", "--features", str(features_path), "--preset", "standard"]) == 2
    assert "vocab_size: unknown" in capsys.readouterr().err
