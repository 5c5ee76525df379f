"""Errors the core raises on purpose.

    UserError        the user asked for something we can't do; its text is the reply
    └── AccessDenied the user lacks the right to run that command
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's request. The message is shown to them as-is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccessDenied(UserError):
    """The user may not run this command here."""
