"""Exceptions raised by gisgov, all under one base class :class:`GisgovError`.

The API maps each class to an HTTP status in one table (``api/errors.py``); the CLI prints the
message as a one-line error. Messages say what went wrong *and* what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CRSError",
    "ConflictError",
    "GisgovError",
    "ImportDataError",
    "InfeasibleError",
    "NotFoundError",
    "PermissionDeniedError",
    "StoreError",
    "ValidationError",
]


class GisgovError(Exception):
    """Base class of every error gisgov raises on purpose."""


class ValidationError(GisgovError, ValueError):
    """Input data or an option does not satisfy the schema or a documented rule."""

    def __init__(self, message: str, problems: Sequence[object] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class CRSError(ValidationError):
    """A coordinate reference system is missing, unknown or inconsistent with the data."""


class ImportDataError(ValidationError):
    """A file could not be imported (unreadable, wrong columns, bad coordinates)."""


class NotFoundError(GisgovError, LookupError):
    """A layer, feature, scenario, workspace or job does not exist."""


class ConflictError(GisgovError):
    """The request conflicts with the current state (e.g. a name already used)."""


class StoreError(GisgovError):
    """The store (GeoPackage file or PostGIS server) failed or is unreachable."""


class InfeasibleError(GisgovError):
    """An optimisation has no feasible solution; ``reasons`` explain why."""

    def __init__(self, message: str, reasons: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])


class PermissionDeniedError(GisgovError, PermissionError):
    """The caller's role may not do this."""
