"""Run the packaged project: ``python -m cross_sell`` or the ``cross-sell`` console script.

Both take ``kedro run``'s options, e.g. ``--conf-source=conf-cross_sell.tar.gz --pipelines=inference``.
"""

import sys
from pathlib import Path
from typing import Any

# conf/logging.yml writes the run log to logs/; Kedro applies it when kedro.framework.project is
# imported, so the folder must exist first (a fresh deployment folder may have conf/ but no logs/).
if Path("conf", "logging.yml").is_file():
    Path("logs").mkdir(exist_ok=True)

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args, **kwargs) -> Any:
    package_name = Path(__file__).parent.name
    configure_project(package_name)

    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive

    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
