"""The one gate of every researcher page: a logged-in, active staff user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.admin.views.decorators import staff_member_required

View = TypeVar("View", bound=Callable[..., Any])


def staff_only(view: View) -> View:
    """Send anyone who is not active staff to the login page; the view never runs for them."""
    wrapped: View = staff_member_required(view, login_url="admin:login")
    return wrapped
