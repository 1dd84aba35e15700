"""Shared helpers of the recruiting tests: researchers who may pay (no tests here)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

from surveys.common.access import PAY_GROUP


def grant_pay(user: Any) -> Any:
    """Put ``user`` in the "Can pay" group (made by migration 0005; a flushed database of a
    transactional test has lost it, so it is made again here with its permission)."""
    permission = Permission.objects.get(content_type__app_label="surveys", codename="can_pay")
    group, _ = Group.objects.get_or_create(name=PAY_GROUP)
    group.permissions.add(permission)
    user.groups.add(group)
    return user
