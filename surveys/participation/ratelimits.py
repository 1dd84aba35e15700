"""How fast new participants may enter a study: django-ratelimit counters in the cache.

Two limits, each a django-ratelimit rate such as ``"60/10m"`` (empty: off):

* ``SURVEYS_ENTRY_RATE_PER_ADDRESS``: new participants of one study from one client address,
  which stops a script from minting participants; generous enough for a lab whose computers
  share one address.
* ``SURVEYS_ENTRY_RATE_PER_STUDY``: new participants of one study from everywhere, which caps
  what a script spread over many addresses can add.

Only new participants count: resuming, previews, refusals and the polite pages cost nothing,
and an address over its limit does not use up the study's. The counters live in the cache that
``RATELIMIT_USE_CACHE`` names: Redis at scale (shared by every web process), the process's own
memory in the embedded default (one process). A cache that cannot be reached admits the
participant and logs it, because the database still holds every participation safely and a
study must not stop over its limiter.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]

from surveys.models import Study
from surveys.participation.errors import TooManyEntries

logger = logging.getLogger(__name__)

GROUP = "surveys.participation.entry"
# Addresses of one IPv6 network are one client: anyone holds a /64 of their own.
IPV6_PREFIX = 64
# A client whose address cannot be read shares one counter with every other such client.
UNKNOWN_ADDRESS = "unknown"


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or the header ``RATELIMIT_IP_META_KEY`` names.

    Behind a proxy the header's last address is the one the proxy itself added (earlier ones
    come from the client and can be anything); IPv6 addresses count by their /64 network.
    """
    meta_key = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    raw = str(request.META.get(meta_key, "")).split(",")[-1].strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return UNKNOWN_ADDRESS
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    return str(address)


def _over(request: HttpRequest, name: str, value: str, rate: str) -> int:
    """Count one entry against the limit ``name``; the seconds to wait when over it, else 0."""
    try:
        usage = get_usage(
            request, group=f"{GROUP}.{name}", key=lambda _g, _r: value, rate=rate, increment=True
        )
    except Exception as error:  # any cache failure: see the module on why entry goes on
        logger.warning("entry limit %s not counted: the cache failed (%s)", name, error)
        return 0
    if usage is None or not usage["should_limit"]:
        return 0
    return max(1, int(usage["time_left"]))


def check_entry_rate(request: HttpRequest, study: Study) -> None:
    """Count one new participant of ``study`` coming through ``request``.

    Raises:
        TooManyEntries: one of the study's entry limits is reached; ``retry_after_s`` says
            when to try again.
    """
    limits = (
        (
            "address",
            f"{study.code}:{client_address(request)}",
            settings.SURVEYS_ENTRY_RATE_PER_ADDRESS,
        ),
        ("study", study.code, settings.SURVEYS_ENTRY_RATE_PER_STUDY),
    )
    for name, value, rate in limits:
        if rate:
            wait = _over(request, name, value, rate)
            if wait:
                raise TooManyEntries(wait)
