"""Datasets of ``inference``.

- ``StampedCSVDataset``: a ``pandas.CSVDataset`` whose loaded frame names the file it came from
  (``df.attrs["source"]``, the exact versioned path), so an error can say where to look.
"""

from __future__ import annotations

import pandas as pd
from kedro.io.core import get_filepath_str
from kedro_datasets.pandas import CSVDataset


class StampedCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` that stamps ``attrs["source"]`` with the path it loaded.

    With ``versioned: true`` the path is the exact version read, e.g.
    ``data/07_model_output/rejects.csv/2026-01-01T10.00.00.000Z/rejects.csv``.
    """

    def load(self) -> pd.DataFrame:
        frame = super().load()
        frame.attrs["source"] = get_filepath_str(self._get_load_path(), self._protocol)
        return frame
