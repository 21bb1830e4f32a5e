"""Project datasets: ``RawCSVDataset`` for the Kaggle-format raw CSV files in ``data/01_raw``,
``OptionalModelRegistryDataset`` for a registered model that may not exist yet, and
``ModelVersionReferenceDataset`` for the drift reference a registered version was trained with.

Loading is fast (pyarrow) and fails with a clear message on the usual mistakes (missing, empty,
non-UTF-8 or semicolon-separated file). Saving is byte-exact Kaggle style, atomic, and never
replaces a file this dataset did not write itself: a manifest next to the files records the
SHA-256 of every file it wrote, so a real Kaggle file dropped in by hand (or an edited one) is
refused unless ``overwrite=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, NewType

import mlflow.artifacts
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_mlflow.io.models import MlflowModelRegistryDataset
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

TablePreview = NewType("TablePreview", dict)
"""kedro-viz shows a table preview for a ``preview`` method annotated with this name."""

MANIFEST_NAME = ".synthetic_manifest.json"
"""The manifest (file name -> SHA-256 of the bytes written) kept next to the raw files."""

_GENERATE_HINT = "kedro run --pipelines=synthetic_data"
_FORCE_HINT = "kedro run --pipelines=synthetic_data --params=overwrite_raw=true"
COMPRESSED = (
    (b"\x1f\x8b", "gzip-compressed", "gunzip"),
    (b"PK\x03\x04", "a zip archive", "unzip"),
    (b"BZh", "bzip2-compressed", "bunzip2"),
    (b"\xfd7zXZ\x00", "xz-compressed", "unxz"),
)
"""Leading bytes of compressed files (a downloaded Kaggle file is often still zipped)."""
_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

# Serialises manifest read-modify-write between threads (e.g. ThreadRunner saving train and test).
_MANIFEST_LOCK = threading.Lock()


class RawDataError(DatasetError):
    """Base class of the clear errors raised by ``RawCSVDataset``."""


class RawFileNotFoundError(RawDataError):
    """The raw file does not exist."""


class RawFileFormatError(RawDataError, ValueError):
    """The raw file exists but is not a readable Kaggle-format CSV."""


class RawFileOverwriteError(RawDataError):
    """Saving would replace a file this dataset did not write (or that was changed since)."""


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"RawCSVDataset: `{name}` must be true or false, got {value!r}.")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp creates 0600; give a plain file's mode
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class RawCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A raw Kaggle-format CSV file on the local filesystem.

    Load: reads the file with pandas' pyarrow engine (falling back to the C engine for options
    pyarrow does not support) and stamps ``df.attrs["source"]`` with the file path, so that
    validation errors can name the file. A header-only file loads as an empty frame.

    Save: writes ``df.to_csv(index=False)`` with ``\\n`` line endings (the Kaggle style),
    atomically. An existing file is replaced only if its SHA-256 matches the one recorded in the
    manifest (``.synthetic_manifest.json`` in the same folder) when this dataset wrote it, or if
    ``overwrite=True``. Otherwise ``RawFileOverwriteError`` is raised and nothing is written.

    Example catalog entry::

        raw_train:
          type: cross_sell.datasets.RawCSVDataset
          filepath: data/01_raw/train.csv
          overwrite: ${runtime_params:overwrite_raw, false}
    """

    DEFAULT_LOAD_ARGS: ClassVar[dict[str, Any]] = {"engine": "pyarrow"}
    DEFAULT_SAVE_ARGS: ClassVar[dict[str, Any]] = {"index": False, "lineterminator": "\n"}

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        overwrite: bool | str = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Local path of the CSV file (no ``s3://``-style protocol).
            load_args: Extra ``pandas.read_csv`` options (``engine`` defaults to ``pyarrow``).
            save_args: Extra ``DataFrame.to_csv`` options (defaults: no index, ``\\n`` endings).
            overwrite: Replace an existing file even if this dataset did not write it.
            metadata: Free-form metadata (e.g. ``kedro-viz`` options), ignored by Kedro.
        """
        if "://" in str(filepath):
            raise ValueError(f"RawCSVDataset supports local files only, got {filepath!s}.")
        self._filepath = Path(filepath)
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        for key in ("path_or_buf", "encoding"):
            self._save_args.pop(key, None)
        self._overwrite = _as_bool(overwrite, "overwrite")
        self.metadata = metadata

    @property
    def manifest_path(self) -> Path:
        """The manifest of files written by this dataset class in the same folder."""
        return self._filepath.parent / MANIFEST_NAME

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": PurePosixPath(self._filepath.as_posix()),
            "load_args": self._load_args,
            "save_args": self._save_args,
            "overwrite": self._overwrite,
        }

    def _exists(self) -> bool:
        return self._filepath.is_file()

    # ------------------------------------------------------------------ load
    def load(self) -> pd.DataFrame:
        path = self._filepath
        if not path.is_file():
            raise RawFileNotFoundError(
                f"Raw data file not found: {path}. Generate synthetic Kaggle-format files with "
                f"`{_GENERATE_HINT}`, or put the Kaggle 'Health Insurance Cross Sell Prediction' "
                f"files (train.csv, test.csv) in {path.parent}/."
            )
        raw = path.read_bytes()
        if not raw.strip():
            raise RawFileFormatError(
                f"Raw data file {path} is empty ({len(raw)} bytes, no header line). Replace it "
                f"with the Kaggle file, or delete it and run `{_GENERATE_HINT}`."
            )
        self._check_utf8(raw)
        df = self._read(raw)
        self._check_separator(df)
        df.attrs["source"] = str(path)
        logger.info("Loaded %s rows x %s columns from %s", len(df), df.shape[1], path)
        return df

    def _check_utf8(self, raw: bytes) -> None:
        for magic, kind, unpack in COMPRESSED:
            if raw.startswith(magic):
                raise RawFileFormatError(
                    f"Raw data file {self._filepath} is {kind}, not CSV text: {unpack} it and put "
                    f"the CSV itself at {self._filepath}."
                )
        encoding = str(self._load_args.get("encoding", "utf-8")).lower().replace("_", "-")
        if encoding not in {"utf-8", "utf8", "utf-8-sig"}:
            return  # the user declared another encoding
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            bad = raw[exc.start : exc.end].hex(" ")
            raise RawFileFormatError(
                f"Raw data file {self._filepath} is not UTF-8 text: byte(s) 0x{bad} at line "
                f"{line}, column {column} ({exc.reason}). The Kaggle files are UTF-8: re-save the "
                "file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 old.csv > new.csv`), or declare "
                "its encoding in the catalog entry (`load_args: {encoding: latin-1}`)."
            ) from None

    def _read(self, raw: bytes) -> pd.DataFrame:
        args = dict(self._load_args)
        if args.get("engine") == "pyarrow":
            try:
                return pd.read_csv(io.BytesIO(raw), **args)
            except pd.errors.ParserError as exc:
                raise RawFileFormatError(
                    f"Raw data file {self._filepath} is not a well-formed CSV: {exc}. Every row "
                    "must have as many comma-separated fields as the header line."
                ) from None
            except ValueError as exc:  # an option pyarrow lacks, or a header without newline
                logger.debug(
                    "pyarrow engine failed on %s (%s); using the C engine", self._filepath, exc
                )
                args["engine"] = "c"
        try:
            return pd.read_csv(io.BytesIO(raw), **args)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise RawFileFormatError(
                f"Raw data file {self._filepath} is not a well-formed CSV: {exc}"
            ) from None

    def _check_separator(self, df: pd.DataFrame) -> None:
        if df.shape[1] != 1:
            return
        header = str(df.columns[0])
        for sep, name in _SEPARATORS.items():
            if sep in header:
                raise RawFileFormatError(
                    f"Raw data file {self._filepath} looks {name}-separated: it parsed as one "
                    f"column named {header[:80]!r}. The Kaggle format is comma-separated: "
                    f"re-export it with ',' as the separator, or declare the separator in the "
                    f"catalog entry (`load_args: {{sep: {sep!r}}}`)."
                )

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows, in the split format kedro-viz renders as a table."""
        args = {k: v for k, v in self._load_args.items() if k != "engine"}
        frame = pd.read_csv(self._filepath, **{**args, "nrows": nrows})
        return TablePreview(frame.to_dict(orient="split"))

    # ------------------------------------------------------------------ save
    def save(self, data: pd.DataFrame) -> None:
        payload = data.to_csv(**self._save_args).encode("utf-8")
        with _MANIFEST_LOCK:
            self.ensure_writable()
            _atomic_write(self._filepath, payload)
            self._record(_sha256(payload))
        logger.info("Wrote %s rows to %s", len(data), self._filepath)

    def ensure_writable(self) -> None:
        """Raise ``RawFileOverwriteError`` if saving would replace a file not written here.

        Called by ``save`` before anything is written; also callable up front (see
        ``RawOverwriteGuardHook``) so a run refuses before writing any of its raw files.
        """
        path = self._filepath
        if not path.exists():
            return
        recorded = self._read_manifest().get(path.name)
        if recorded is not None and recorded == _sha256(path.read_bytes()):
            return
        if self._overwrite:
            logger.warning(
                "Overwriting %s (overwrite=True), a file not written by this dataset or changed "
                "since it was written.",
                path,
            )
            return
        if recorded is None:
            why = (
                f"it was not written by this project's generator (it is not listed in "
                f"{self.manifest_path}), so it may be your real Kaggle file"
            )
        else:
            why = (
                "it was changed after the generator wrote it (its SHA-256 differs from the "
                f"one recorded in {self.manifest_path}), so it was replaced or edited by hand"
            )
        raise RawFileOverwriteError(
            f"Refusing to overwrite {path}: {why}. Nothing was written. To replace it anyway, "
            f"run `{_FORCE_HINT}` (or set `overwrite: true` on the dataset), or move the file "
            "away first."
        )

    def _read_manifest(self) -> dict[str, str]:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring unreadable manifest %s: %s", self.manifest_path, exc)
            return {}
        return manifest if isinstance(manifest, dict) else {}

    def _record(self, digest: str) -> None:
        manifest = self._read_manifest()
        manifest[self._filepath.name] = digest
        text = json.dumps(dict(sorted(manifest.items())), indent=2) + "\n"
        _atomic_write(self.manifest_path, text.encode("utf-8"))


class OptionalModelRegistryDataset(MlflowModelRegistryDataset):
    """kedro-mlflow's ``MlflowModelRegistryDataset`` that loads ``None`` when the model or alias
    does not exist yet (the plugin's raises): the promotion gate's first run has no champion."""

    def _aliased_version(self) -> str | None:
        """The version the alias points at; None if the model or the alias does not exist."""
        try:
            model = MlflowClient().get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None
        return model.aliases.get(self.alias)

    def _exists(self) -> bool:
        return self._aliased_version() is not None

    def _load(self) -> Any:
        if self._aliased_version() is None:
            logger.info("No registered model at %s yet", self.model_uri)
            return None
        return super()._load()  # a missing artifact store is an error, not "no champion"


class ModelVersionReferenceDataset(AbstractDataset[None, "pd.DataFrame | None"]):
    """The monitoring reference (a parquet artifact) of the model version at ``alias``: read
    from the MLflow run that logged that version, so each version is compared with its own.

    Loads ``None`` when that run has no such artifact (a version trained before monitoring
    existed). Read only, through MLflow's public API: the version's ``run_id``
    (``MlflowClient.get_model_version_by_alias``), then ``mlflow.artifacts.download_artifacts``.

    Example catalog entry::

        champion_reference:
          type: cross_sell.datasets.ModelVersionReferenceDataset
          model_name: cross_sell
          alias: ${runtime_params:model_alias, champion}
          artifact_path: monitoring/monitoring_reference.parquet
    """

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        artifact_path: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = model_name
        self.alias = alias
        self.artifact_path = artifact_path
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "alias": self.alias,
            "artifact_path": self.artifact_path,
        }

    def _version(self) -> Any:
        return MlflowClient().get_model_version_by_alias(self.model_name, self.alias)

    def _exists(self) -> bool:
        """Whether the alias names a version (whose reference may still be missing: ``None``)."""
        try:
            self._version()
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return False
        return True

    def load(self) -> pd.DataFrame | None:
        version = self._version()
        where = f"{self.model_name}@{self.alias} (version {version.version}, run {version.run_id})"
        with tempfile.TemporaryDirectory() as folder:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=version.run_id, artifact_path=self.artifact_path, dst_path=folder
                )
            except (MlflowException, OSError) as exc:
                logger.info("No %s in the run of %s: %s", self.artifact_path, where, exc)
                return None
            reference = pd.read_parquet(path)
        logger.info("Loaded the monitoring reference of %s: %d rows", where, len(reference))
        return reference

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{type(self).__name__} is read only: the reference is logged by the training run"
        )
