"""Logs without personal data: uvicorn's access log records the path, never the query string.

Query strings carry what people search for (``/lookup?lon=…&lat=…``, ``/collections/staff/
items?phone=152…``): the position of a resident, a phone number. The access log is kept (who
called which route, with which status) but the query is cut off before the record is
formatted, whichever way uvicorn was started (``gisgov serve`` or ``uvicorn --factory``).
"""

from __future__ import annotations

import logging

__all__ = ["QueryStripFilter", "install_log_filters"]


class QueryStripFilter(logging.Filter):
    """Drop the ``?query`` part of the path argument of uvicorn access records."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) \
                and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install_log_filters() -> None:
    """Add :class:`QueryStripFilter` to ``uvicorn.access`` once (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryStripFilter) for f in logger.filters):
        logger.addFilter(QueryStripFilter())
