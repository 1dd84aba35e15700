"""The gates of the researcher pages: a logged-in, active staff user for every page, and the
``surveys.can_pay`` permission (the "Can pay" group) for the actions that move money."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.admin.views.decorators import staff_member_required

View = TypeVar("View", bound=Callable[..., Any])

PAY_PERMISSION = "surveys.can_pay"
PAY_GROUP = "Can pay"
PAY_REFUSED = (
    "Approving, bonusing and paying need the permission to pay, which your account does not "
    f"have; nothing was sent. Ask an administrator to add you to the “{PAY_GROUP}” group."
)


def staff_only(view: View) -> View:
    """Send anyone who is not active staff to the login page; the view never runs for them."""
    wrapped: View = staff_member_required(view, login_url="admin:login")
    return wrapped


def can_pay(user: Any) -> bool:
    """Whether ``user`` may move money: active staff holding ``surveys.can_pay``.

    Superusers hold every permission, so they may; other staff need the "Can pay" group (or
    the permission given to them directly).
    """
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(PAY_PERMISSION)
    )
