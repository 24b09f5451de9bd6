"""The model file: arrays and metadata in a documented format, no pickle, written atomically.

The file is a NumPy `.npz` archive (a zip of `.npy` arrays) holding exactly:
  meta.npy  uint8 array: UTF-8 JSON {"format": "mailguard-bayes", "version": 2, "bits": 22,
            "hasher": ..., "tokenizer": 1, "nspam": N, "nham": N, "saved_at": unix time,
            "calibration": {"slope": a, "intercept": b, "messages": N, "folds": 5} or null}
            (version 2 added the calibration; a version 1 file is refused: retrain)
  spam.npy  uint32[2**bits]: in how many learnt spam messages each slot occurs
  ham.npy   uint32[2**bits]: the same for ham
It is read with `allow_pickle=False` (an object array is refused, never executed), every entry,
dtype, shape and metadata value is checked, and the zip's CRCs catch damaged bytes: a file
that does not pass is refused with a `ModelFileError` naming it. Writing goes to a temporary
file in the same folder, fsync'd, then renamed over the old one, so readers see the old or the
new model, never half of one.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mailguard.bayes.calibration import UNCALIBRATED, Calibration
from mailguard.bayes.model import HASHER_NAME, BayesModel
from mailguard.bayes.tokenizer import TOKENIZER_VERSION

FORMAT = "mailguard-bayes"
FORMAT_VERSION = 2
_ENTRIES = {"meta.npy", "spam.npy", "ham.npy"}
_MAX_META = 64 * 1024


class ModelFileError(Exception):
    """A model file that cannot be used; the message names the file."""


def save(model: BayesModel, path: Path) -> None:
    path = Path(path)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "bits": model.bits, "hasher": HASHER_NAME,
            "tokenizer": TOKENIZER_VERSION, "nspam": model.nspam, "nham": model.nham,
            "saved_at": round(time.time(), 3),
            "calibration": None if model.calibration.messages == 0 else {
                "slope": model.calibration.slope, "intercept": model.calibration.intercept,
                "messages": model.calibration.messages, "folds": model.calibration.folds}}
    meta_bytes = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, meta=meta_bytes, spam=model.spam, ham=model.ham)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: Path) -> BayesModel:
    """The model in `path`; ModelFileError when it is damaged, foreign or from another version.
    A missing file raises FileNotFoundError (the caller decides: no model is not an error)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":  # anything but a zip (a bare .npy, a pickle) is refused unread
                raise ModelFileError(f"{path}: not a mailguard Bayes model (not an .npz archive)")
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if {f"{n}.npy" for n in names} != _ENTRIES:
                raise ModelFileError(f"{path}: not a mailguard Bayes model (entries: {', '.join(sorted(names))})")
            meta = _meta(path, archive["meta"])
            size = 2 ** meta["bits"]
            arrays = {}
            for name in ("spam", "ham"):
                array = archive[name]
                if array.dtype != np.uint32 or array.shape != (size,):
                    raise ModelFileError(f"{path}: {name} counts are {array.dtype}{list(array.shape)}, "
                                         f"expected uint32[{size}]")
                arrays[name] = np.array(array)  # writable, detached from the archive
    except FileNotFoundError:
        raise
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from exc
    return BayesModel(meta["bits"], arrays["spam"], arrays["ham"], meta["nspam"], meta["nham"],
                      _calibration(path, meta.get("calibration")))


def _calibration(path: Path, raw: object) -> Calibration:
    if raw is None:
        return UNCALIBRATED
    if not isinstance(raw, dict) or set(raw) != {"slope", "intercept", "messages", "folds"}:
        raise ModelFileError(f"{path}: metadata calibration is not slope, intercept, messages, folds")
    numbers = [raw["slope"], raw["intercept"]]
    counts = [raw["messages"], raw["folds"]]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers) \
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in counts) or not raw["slope"] > 0:
        raise ModelFileError(f"{path}: metadata calibration holds a value out of range")
    return Calibration(float(raw["slope"]), float(raw["intercept"]), raw["messages"], raw["folds"])


def _meta(path: Path, raw: np.ndarray) -> dict:
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _MAX_META:
        raise ModelFileError(f"{path}: metadata is not a JSON text")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a mailguard Bayes model")
    if meta.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {meta.get('version')!r}, this mailguard reads "
                             f"version {FORMAT_VERSION}; retrain with `mailguard train`")
    if meta.get("hasher") != HASHER_NAME or meta.get("tokenizer") != TOKENIZER_VERSION:
        raise ModelFileError(f"{path}: model made with tokenizer {meta.get('tokenizer')!r} / hasher "
                             f"{meta.get('hasher')!r}; this mailguard uses {TOKENIZER_VERSION} / {HASHER_NAME}; "
                             "retrain with `mailguard train`")
    for key in ("bits", "nspam", "nham"):
        if not isinstance(meta.get(key), int) or isinstance(meta.get(key), bool) or meta[key] < 0:
            raise ModelFileError(f"{path}: metadata {key} is not a count")
    if not 10 <= meta["bits"] <= 26:
        raise ModelFileError(f"{path}: metadata bits {meta['bits']} out of range (10..26)")
    return meta
