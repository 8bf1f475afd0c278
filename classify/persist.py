"""Saving and loading a trained pipeline with skops, trusting only the types we expect.

skops never unpickles: it rebuilds objects from a manifest and refuses any type it does not
trust. We add to its own trusted set only the types our pipeline is known to contain, by exact
name, so a model file cannot smuggle in a function call or a foreign class.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from muara.classify.errors import ModelLoadError

logger = logging.getLogger(__name__)

FORMAT = "muara.agency-model"
# 2: a LinearSVC with a calibration in the metadata, and an optional level model beside it.
FORMAT_VERSION = 2

# Types skops may report as untrusted for our pipeline. skops trusts most of them by default;
# which ones it leaves out has changed between releases, hence this explicit, exact list.
EXPECTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.ndarray",
        "scipy.sparse._csr.csr_matrix",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.pipeline.Pipeline",
        "sklearn.svm._classes.LinearSVC",
    }
)


def dumps_artifact(
    pipeline: Pipeline, metadata: Mapping[str, Any], *, level: LogisticRegression | None = None
) -> bytes:
    """The model as the bytes of a skops file (what the store's registry keeps)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        # JSON text rather than a nested dict: plain to skops, and readable as-is when unzipped.
        "metadata": json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True),
        "pipeline": pipeline,
        "level": level,
    }
    data: bytes = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)
    return data


def dump_artifact(
    path: Path,
    pipeline: Pipeline,
    metadata: Mapping[str, Any],
    *,
    level: LogisticRegression | None = None,
) -> None:
    """Write the model atomically, so a reader never sees half a file (or a mix of two)."""
    write_atomic(path, dumps_artifact(pipeline, metadata, level=level))


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so a reader never sees half of it (or a mix of two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


Loaded = tuple[Pipeline, dict[str, Any], LogisticRegression | None]


def load_artifact(path: Path) -> Loaded:
    """Read back what `dump_artifact` wrote, or raise `ModelLoadError` saying why not."""
    return loads_artifact(read_file(path), path)


def loads_artifact(data: bytes, origin: Path) -> Loaded:
    """Read a model from a skops file's bytes; `origin` names it in errors."""
    return _unpack(origin, load_trusted(data, origin))


def read_file(path: Path) -> bytes:
    """A model file's bytes, or `ModelLoadError` saying why not."""
    if not path.exists():
        raise ModelLoadError(path, "no such file")
    if not path.is_file():
        raise ModelLoadError(path, "not a file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise ModelLoadError(path, f"unreadable ({err.strerror})") from err


def load_trusted(data: bytes, origin: Path) -> object:
    """What a skops file holds, rebuilt only if every type in it is one we expect."""
    try:
        untrusted = sio.get_untrusted_types(data=data)
    # A damaged or foreign file fails in zipfile, json or skops itself, each with its own error;
    # all mean the same to the caller. The original stays chained for the traceback.
    except Exception as err:
        raise ModelLoadError(origin, f"not a skops model file ({type(err).__name__})") from err
    unexpected = sorted(set(untrusted) - EXPECTED_TYPES)
    if unexpected:
        raise ModelLoadError(origin, f"refusing untrusted types: {', '.join(unexpected)}")
    try:
        payload = sio.loads(data, trusted=untrusted)
    except Exception as err:  # as above: any failure to rebuild means an unusable file
        raise ModelLoadError(origin, f"damaged model file ({type(err).__name__})") from err
    return payload


def _unpack(path: Path, payload: object) -> Loaded:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelLoadError(path, "not a Muara agency model")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            path,
            f"format version {payload.get('format_version')!r} is not {FORMAT_VERSION} "
            "(written by another Muara release; retrain or upgrade)",
        )
    pipeline = payload.get("pipeline")
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "classes_"):
        raise ModelLoadError(path, "the file holds no trained pipeline")
    try:
        metadata = json.loads(payload["metadata"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelLoadError(path, "the model's metadata is missing or damaged") from err
    if not isinstance(metadata, dict):
        raise ModelLoadError(path, "the model's metadata is missing or damaged")
    if metadata.get("labels") != [str(label) for label in pipeline.classes_]:
        raise ModelLoadError(path, "the metadata's labels do not match the pipeline's")
    level = payload.get("level")
    if level is not None and not isinstance(level, LogisticRegression):
        raise ModelLoadError(path, "the level model is not a logistic regression")
    logger.info("loaded model %s from %s", metadata.get("version"), path)
    return pipeline, metadata, level
