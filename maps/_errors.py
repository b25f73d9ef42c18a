"""The error the renderers raise: a :class:`gisgov.errors.ValidationError`, so the CLI reports it."""

from __future__ import annotations

from gisgov.errors import ValidationError

__all__ = ["MapError"]


class MapError(ValidationError):
    """A map cannot be drawn from the given layers or options; the message says what to fix."""
