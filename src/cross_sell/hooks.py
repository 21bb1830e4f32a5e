"""Project hooks."""

import logging

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class ProjectHooks:
    """Project-wide hooks (registered in settings.py)."""

    @hook_impl
    def after_context_created(self, context) -> None:
        logger.debug("Kedro context created for %s", context.project_path)
