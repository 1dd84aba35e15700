"""A generic panel: any service that passes an ID in the URL and takes a completion redirect.

Configured per study, with no code, in the study's ``recruiter_config``::

    recruiter: panel
    recruiter_config:
      id_parameter: participant_id          # required: the URL parameter with the panel's ID
      record: [session, source]             # optional: further parameters worth keeping
      completion_url: https://panel.example.org/done?code={code}&id={participant}

That is enough for CloudResearch Connect, SONA, a university panel or a lab's mailing list.
The completion URL may use ``{code}`` (the study's completion code), ``{participant}`` (the
panel's ID of the participant) and ``{<recorded parameter>}``; every value is URL-quoted, and
placeholders may not appear in the scheme or host, so a participant's own parameters can never
send anyone elsewhere (``{code}`` and ``{participant}`` win over recorded parameters of the
same name). Without a ``completion_url`` the participant is shown the code instead.

A panel's IDs are often sequential, so an ID alone never opens anyone's session: an ID that
has started resumes only in the browser that started it (its signed cookie) or through the
resume link at the foot of every page, which carries the participant's random code.

Panel participants are verified by construction: the panel passes no record that could be
matched later, so each one counts toward "full", appears on the desk and is exported as verified
from the moment they enter; the panel's own credit step is where it checks its people.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.recruiting.base import (
    Completion,
    EntryError,
    Identity,
    Recruiter,
    RecruiterConfigError,
    check_external_id,
    participant_home_url,
)

SETTINGS = ("id_parameter", "record", "completion_url")
MAX_RECORDED = 20
MAX_RECORDED_LENGTH = 200
MAX_URL_LENGTH = 2000
FIXED_PLACEHOLDERS = ("code", "participant")
# Plain http is only for a panel running on this machine (a lab's test setup).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_PARAMETER = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


def _parameter_name(value: object, setting: str) -> str:
    if not isinstance(value, str) or not _PARAMETER.match(value):
        raise RecruiterConfigError(
            f"{setting} must be a URL parameter name of 1-64 letters, digits or _ . - [ ], "
            f"got {value!r}"
        )
    return value


def _recorded(value: object, id_parameter: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RecruiterConfigError(
            f"record must be a list of URL parameter names, e.g. [session, source]; got {value!r}"
        )
    names = [_parameter_name(item, "each name in record") for item in value]
    if len(names) > MAX_RECORDED:
        raise RecruiterConfigError(f"record names {len(names)} parameters; at most {MAX_RECORDED}")
    if len(set(names)) != len(names):
        raise RecruiterConfigError("record names a parameter twice; list each once")
    if id_parameter in names:
        raise RecruiterConfigError(
            f"record repeats the id_parameter {id_parameter!r}; it is recorded anyway, remove it"
        )
    return names


def _placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``, or a config error for anything but ``{name}``."""
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RecruiterConfigError(
            f"completion_url has unbalanced braces ({exc}); write placeholders as {{code}} and "
            "literal braces as {{ and }}"
        ) from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or spec or conversion or not _PARAMETER.match(name) or "[" in name:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise RecruiterConfigError(
                f"completion_url has the placeholder {{{shown}}}; write plain placeholders "
                "such as {code}"
            )
        names.append(name)
    return names


def _check_url(template: str, allowed: Sequence[str]) -> str:
    if not isinstance(template, str) or not template.strip():
        raise RecruiterConfigError("completion_url must be a URL such as https://panel.org/done")
    template = template.strip()
    if len(template) > MAX_URL_LENGTH or not _PRINTABLE.match(template) or " " in template:
        raise RecruiterConfigError(
            f"completion_url must be one line without spaces, at most {MAX_URL_LENGTH} characters"
        )
    unknown = sorted(set(_placeholders(template)) - set(allowed))
    if unknown:
        raise RecruiterConfigError(
            f"completion_url uses unknown placeholder(s) {', '.join(unknown)}; available: "
            f"{', '.join('{' + name + '}' for name in allowed)}"
        )
    parts = urlsplit(template)
    if "{" in parts.scheme or "{" in parts.netloc:
        raise RecruiterConfigError(
            "completion_url may not put placeholders in its scheme or host; keep them in the "
            "path or the query"
        )
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return template
    if parts.scheme == "http" and host in LOCAL_HOSTS:
        return template
    raise RecruiterConfigError(
        f"completion_url must be an https:// URL with a host (http:// only for localhost), "
        f"got {template!r}"
    )


def check_panel_config(config: Mapping[str, object]) -> dict[str, Any]:
    """The panel settings of a study, checked; see the module for the fields.

    Raises:
        RecruiterConfigError: A missing or unknown setting, or a bad value.
    """
    unknown = sorted(set(map(str, config)) - set(SETTINGS))
    if unknown:
        raise RecruiterConfigError(
            f"unknown panel setting(s) {', '.join(unknown)}; the settings are {', '.join(SETTINGS)}"
        )
    if "id_parameter" not in config:
        raise RecruiterConfigError(
            "id_parameter is required: the URL parameter in which the panel passes its "
            "participant ID, e.g. id_parameter: participant_id"
        )
    id_parameter = _parameter_name(config["id_parameter"], "id_parameter")
    record = _recorded(config.get("record"), id_parameter)
    checked: dict[str, Any] = {"id_parameter": id_parameter, "record": record}
    if config.get("completion_url") not in (None, ""):
        allowed = (*FIXED_PLACEHOLDERS, *record)
        checked["completion_url"] = _check_url(str(config["completion_url"]), allowed)
    return checked


def _study_config(study: Study) -> dict[str, Any]:
    try:
        return check_panel_config(study.recruiter_config or {})
    except RecruiterConfigError:
        # The researcher's mistake, not the participant's: say so without the details.
        raise EntryError(
            "This study's panel link is not set up correctly yet. Please tell the researcher; "
            "you can try again later with the same link."
        ) from None


def _recorded_value(value: str, parameter: str) -> str:
    value = value.strip()
    if len(value) > MAX_RECORDED_LENGTH or not _PRINTABLE.match(value):
        raise EntryError(
            f"The link's {parameter} parameter is garbled (control characters, or longer than "
            f"{MAX_RECORDED_LENGTH} characters); open the study from the panel again."
        )
    return value


class PanelRecruiter(Recruiter):
    """Participants arrive with the panel's ID in a configured URL parameter."""

    kind = RecruiterKind.PANEL.value
    verified_on_entry = True

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, Any]:
        return check_panel_config(config)

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        config = _study_config(study)
        parameter = config["id_parameter"]
        if parameter not in request.GET:
            raise EntryError(
                f"The link has no {parameter} parameter, which carries your participant ID; "
                "open the study from the panel's page again."
            )
        external_id = check_external_id(request.GET[parameter], parameter)
        data = {
            name: _recorded_value(request.GET[name], name)
            for name in config["record"]
            if name in request.GET
        }
        return Identity(external_id=external_id, data=data)

    def completion(self, participant: Participant) -> Completion:
        study = participant.study
        try:
            template = check_panel_config(study.recruiter_config or {}).get("completion_url")
        except RecruiterConfigError:
            # Settings broken since the participant arrived: they still get their code.
            template = None
        if not template:
            return Completion(code=study.completion_code)
        recorded = participant.recruiter_data or {}
        values = {name: str(recorded.get(name, "")) for name in _placeholders(template)}
        values.update(code=study.completion_code, participant=participant.external_id)
        quoted = {name: quote(value, safe="") for name, value in values.items()}
        return Completion(redirect_url=template.format(**quoted))

    def resume_url(self, participant: Participant, request: HttpRequest | None = None) -> str:
        return participant_home_url(participant, request)
