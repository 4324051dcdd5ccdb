"""A SavedModel's signatures behind TF Serving's request formats.

`parse_request` turns a predict body (row format "instances" or columnar "inputs") into one
numpy array per input of the chosen signature, checked against its spec: every problem a
client can cause is a `RequestError` naming it, before the model is called. `LoadedModel.run`
calls a signature on arrays that may hold many requests' rows (serving.batching).

The model runs as TF Serving runs it: the SavedModel's serving MetaGraph loaded into a
Session, each SignatureDef called through a Session callable. That path costs less per call
than calling the restored functions eagerly (on 2 cores with the Online Retail model, 15-28%
more rows per second at the 1-4 rows a batch holds at moderate load), and the Session carries
its own thread settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def register_scann_ops() -> None:
    """Load ScaNN's TensorFlow ops into this process: a SavedModel with a ScaNN index (see
    `trainer.scann_index`) loads only then. Importing the module registers them; idempotent."""
    from scann.scann_ops.py import scann_ops  # noqa: F401 (imported for its side effect)


class RequestError(ValueError):
    """The request is malformed; the message is returned to the caller with status 400."""


def resolve_model_dir(path: Path) -> tuple[Path, str]:
    """A SavedModel folder, or a TF Serving base path with numeric versions (newest wins)."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path, "1"
    versions = sorted((p for p in path.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if versions and (versions[-1] / "saved_model.pb").exists():
        return versions[-1], versions[-1].name
    raise FileNotFoundError(f"no SavedModel in {path} (nor in a numeric version folder under it)")


@dataclass(frozen=True)
class _Input:
    dtype: Any  # tf.DType
    rank: int


class Signature:
    """One SignatureDef of the SavedModel: its inputs' dtypes and ranks, its outputs, and a
    Session callable that runs it."""

    def __init__(self, name: str, definition, session):
        import tensorflow as tf

        def spec(info) -> tf.TensorSpec:
            return tf.TensorSpec(tf.TensorShape(info.tensor_shape), tf.as_dtype(info.dtype))

        for kind, infos in (("input", definition.inputs), ("output", definition.outputs)):
            composite = sorted(key for key, info in infos.items() if not info.name)
            if composite:
                raise ValueError(f"signature {name!r}: {kind}s {composite} are not dense "
                                 "tensors; the server takes and answers dense tensors only")  # fmt: skip
        self.name = name
        self.specs = {key: spec(info) for key, info in definition.inputs.items()}
        self.output_specs = {key: spec(info) for key, info in definition.outputs.items()}
        self.inputs = {k: _Input(s.dtype, s.shape.rank or 1) for k, s in self.specs.items()}
        self._input_names = sorted(definition.inputs)
        self._output_names = sorted(definition.outputs)
        self._call = session.make_callable(
            [definition.outputs[key].name for key in self._output_names],
            feed_list=[definition.inputs[key].name for key in self._input_names],
        )

    def __call__(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._call(*(columns[name] for name in self._input_names))
        return dict(zip(self._output_names, outputs, strict=True))


@dataclass(frozen=True)
class ParsedRequest:
    """A predict request, checked: its signature, one array per input, and how many rows."""

    signature: Signature
    columns: dict[str, np.ndarray]
    rows: int
    row_format: bool


class LoadedModel:
    """A SavedModel's signatures; a request picks one with "signature_name" (default
    `serving_default`), as in TF Serving's REST API. The platform's history-aware models export
    `serving_default`, `discover` and `with_history`.

    `intra_op_threads` and `inter_op_threads` size the Session's thread pools (0: one thread
    per core). The model server runs each batch on one thread (intra 1) and as many batches at
    once as it has batch threads (inter): small ops handed to other threads cost more than
    they save.
    """

    def __init__(
        self,
        model_dir: Path,
        default_signature: str = "serving_default",
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
    ):
        import tensorflow as tf

        self.path, self.version = resolve_model_dir(model_dir)
        register_scann_ops()
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=intra_op_threads,
            inter_op_parallelism_threads=inter_op_threads,
        )
        graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=graph, config=config)
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self._session, [tf.saved_model.SERVING], str(self.path)
            )
        self.signatures = {
            name: Signature(name, definition, self._session)
            for name, definition in meta_graph.signature_def.items()
            if not name.startswith("__")  # the loader's own entries (__saved_model_init_op)
        }
        if default_signature not in self.signatures:
            raise ValueError(f"{self.path} has no signature {default_signature!r}")
        self.default_signature = default_signature

    def metadata(self) -> dict:
        def describe(specs):
            return {
                name: {
                    "dtype": spec.dtype.name,
                    # Custom ops (ScaNN's) may leave an output's rank unknown.
                    "shape": spec.shape.as_list() if spec.shape.rank is not None else None,
                }
                for name, spec in sorted(specs.items())
            }

        return {
            "model_spec": {"name": None, "version": self.version},
            "metadata": {
                "signature_def": {
                    name: {
                        "inputs": describe(signature.specs),
                        "outputs": describe(signature.output_specs),
                    }
                    for name, signature in sorted(self.signatures.items())
                }
            },
        }

    def signature(self, name: Any) -> Signature:
        """The signature a request names (the default when None)."""
        name = self.default_signature if name is None else name
        if not isinstance(name, str) or name not in self.signatures:
            raise RequestError(
                f"unknown signature_name {name!r}; the model has {sorted(self.signatures)}"
            )
        return self.signatures[name]

    def parse_request(self, body: Any, *, max_instances: int) -> ParsedRequest:
        """The checked request; RequestError names what is wrong."""
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        signature = self.signature(body.get("signature_name"))
        if "instances" in body:
            columns, rows = _columns_of_instances(body["instances"], max_instances)
            row_format = True
        elif isinstance(body.get("inputs"), dict):
            columns, row_format = body["inputs"], False
            rows = _common_length(columns, max_instances)
        else:
            raise RequestError(
                "the body needs 'instances' (row format) or 'inputs' (columnar format)"
            )
        takes = sorted(signature.inputs)
        missing = sorted(set(takes) - set(columns))
        if missing:
            raise RequestError(f"missing inputs {missing}; the model takes {takes}")
        unknown = sorted(set(columns) - set(takes))
        if unknown:
            raise RequestError(f"unknown inputs {unknown}; the model takes {takes}")
        arrays = {
            name: _array(name, values, signature.inputs[name]) for name, values in columns.items()
        }
        return ParsedRequest(signature, arrays, rows, row_format)

    def run(self, signature: Signature, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Call the signature on arrays of any number of rows; numpy arrays out."""
        fed = {
            name: array
            if signature.inputs[name].dtype.name == "string"
            else np.asarray(array, signature.inputs[name].dtype.as_numpy_dtype)
            for name, array in columns.items()
        }
        return signature(fed)

    def close(self) -> None:
        """Release the Session (its variables and tables)."""
        self._session.close()


def _columns_of_instances(instances: Any, max_instances: int) -> tuple[dict[str, list], int]:
    if not isinstance(instances, list) or not instances:
        raise RequestError("'instances' must be a non-empty list of objects")
    if len(instances) > max_instances:
        raise RequestError(f"too many instances: {len(instances)}; at most {max_instances}")
    if not all(isinstance(row, dict) for row in instances):
        raise RequestError("each instance must be an object of named inputs")
    names = set().union(*instances)
    columns = {}
    for column in names:
        if not all(column in row for row in instances):
            raise RequestError(f"input {column!r} is missing from some instances")
        columns[column] = [row[column] for row in instances]
    return columns, len(instances)


def _common_length(columns: dict[str, Any], max_instances: int) -> int:
    sizes = {}
    for name, values in columns.items():
        if not isinstance(values, list) or not values:
            raise RequestError(f"input {name!r}: a non-empty list of values, one per row")
        sizes[name] = len(values)
    if len(set(sizes.values())) != 1:
        raise RequestError(f"inputs have different lengths: {sizes}")
    rows = next(iter(sizes.values()), 0)
    if rows > max_instances:
        raise RequestError(f"too many instances: {rows}; at most {max_instances}")
    return rows


def _text(value: Any) -> str:
    # A string input given a number or a boolean takes its JSON text ("7", "true").
    return value if isinstance(value, str) else json.dumps(value)


def _array(name: str, values: list, spec: _Input) -> np.ndarray:
    """One input's values as an array of its dtype and rank. A rank-2 input (such as
    `history`, a list per row) is padded to the longest row: "" for strings, 0 for numbers."""
    is_string = spec.dtype.name == "string"
    if spec.rank == 2:
        if not all(isinstance(row, list) for row in values):
            raise RequestError(f"input {name!r}: a list of values per row")
        width = max((len(row) for row in values), default=0)
        pad = "" if is_string else 0
        values = [row + [pad] * (width - len(row)) for row in values]
    elif spec.rank != 1:
        raise RequestError(f"input {name!r}: inputs of rank {spec.rank} are not served")
    elif any(isinstance(v, list | dict) for v in values):
        raise RequestError(f"input {name!r}: one {spec.dtype.name} value per row, not a list")
    try:
        if is_string:
            flat = (
                [[_text(v) for v in row] for row in values]
                if spec.rank == 2
                else [_text(v) for v in values]
            )
            array = np.array(flat, dtype=object)
        else:
            array = np.asarray(values, dtype=spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise RequestError(f"input {name!r}: cannot convert to {spec.dtype.name}: {exc}") from None
    # Python's JSON reader takes NaN, Infinity and 1e400; a model must not see them.
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise RequestError(f"input {name!r}: values must be finite numbers")
    if spec.rank == 2 and array.ndim == 1:  # every row empty
        array = array.reshape(len(values), 0)
    return array


def jsonable(array: np.ndarray) -> np.ndarray | list:
    """An output array as `orjson` writes it (`OPT_SERIALIZE_NUMPY`): numbers stay a numpy
    array, serialized in C without a Python object per element; strings come out decoded."""
    if array.dtype.kind in ("S", "O"):
        return _decoded(array.tolist(), array.ndim)
    if array.flags.c_contiguous and array.dtype.kind in "biuf":
        return array
    return array.tolist()


def _decoded(values: list, depth: int) -> list:
    if depth <= 1:
        return [v.decode() if isinstance(v, bytes) else v for v in values]
    return [_decoded(row, depth - 1) for row in values]
