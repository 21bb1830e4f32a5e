"""Evidently is an optional extra: the project imports and builds its pipelines without it, and
the report node then says how to install it."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from cross_sell.params import Columns, Monitoring
from cross_sell.pipelines.monitoring.report import drift_report
from tests.conftest import REPO, project_config

WITHOUT_EVIDENTLY = "import sys; sys.modules['evidently'] = None  # import evidently fails\n"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EVIDENTLY + code],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_project_builds_its_pipelines_without_evidently():
    result = _python(
        "from cross_sell.pipeline_registry import register_pipelines\n"
        "assert 'inference.drift_report_node' in {n.name for n in register_pipelines()['inference'].nodes}\n"
        "assert 'evidently' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_report_without_evidently_names_the_extra():
    result = _python(
        "import pandas as pd\n"
        "from cross_sell.params import Columns, Monitoring\n"
        "from cross_sell.pipelines.monitoring.report import drift_report\n"
        "frame = pd.DataFrame({'age': [30, 40], 'probability': [0.1, 0.2]})\n"
        "columns = Columns(id='id', target='response', categorical=[], capped=[])\n"
        "drift_report(frame, frame, columns, Monitoring())\n"
    )
    assert result.returncode != 0
    assert "pip install -e '.[monitoring]'" in result.stderr


def test_a_version_without_reference_gets_a_page_saying_so():
    columns = Columns(id="id", target="response", categorical=[], capped=[])
    page = drift_report(None, pd.DataFrame({"age": [30]}), columns, Monitoring())
    assert "no monitoring" in page and "kedro run" in page


def test_the_conf_defaults_warn_and_a_20000_row_reference():
    monitoring = Monitoring(**project_config(REPO, "parameters")["monitoring"])
    assert monitoring.on_drift == "warn"
    assert monitoring.reference_rows == 20_000
