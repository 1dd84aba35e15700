"""The naming review: the queue, accept / edit / reject with who and when, history, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.catalogue.review import (
    CSV_COLUMNS,
    NamingError,
    access_next_unreviewed,
    current_name,
    do_review_name,
    review_progress,
    write_names_csv,
)
from surveys.models import NameReview, Prototype, Run
from tests.surveys.factories import (
    ProposedNameFactory,
    PrototypeFactory,
    RunFactory,
    StaffFactory,
)

QUEUE = reverse("surveys:naming_queue")
REVIEW = reverse("surveys:naming_review")
EXPORT = reverse("surveys:naming_export")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def run(db: None) -> Run:
    """A run of four prototypes: three named (one a placeholder), one without a proposal."""
    run = RunFactory(label="Focal", num_prototypes=4)
    names = ["black striped wing", "red crown", "background / unnamed"]
    for index, name in enumerate(names):
        prototype = PrototypeFactory(run=run, index=index, original_index=index + 10)
        ProposedNameFactory(
            prototype=prototype,
            name=name,
            kind="unnamed" if name.startswith("background") else "part+attribute",
            confidence=0.5 + index / 10,
            evidence={
                "part_purity": {"wing": 0.9, "crown": 0.2},
                "group_frequencies": {"wing_color": {"black": 0.8, "grey": 0.2}},
                "images": ["1", "2"],
                "hit_images": ["1"],
            },
        )
    PrototypeFactory(run=run, index=3)
    return run


def proto(run: Run, index: int) -> Prototype:
    return Prototype.objects.select_related("proposed_name", "run").get(run=run, index=index)


def post(client: Client, run: Run, index: int, decision: str, **extra: str) -> object:
    data = {"run": run.code, "index": str(index), "decision": decision, **extra}
    return client.post(REVIEW, data)


# --- the service --------------------------------------------------------------------------------
def test_the_queue_walks_unreviewed_prototypes_in_order_and_skips_wrap_round(run: Run) -> None:
    reviewer = StaffFactory()
    assert access_next_unreviewed(run).index == 0
    do_review_name(proto(run, 0), "accept", "", reviewer)

    assert access_next_unreviewed(run).index == 1
    assert access_next_unreviewed(run, after=proto(run, 1)).index == 2
    assert access_next_unreviewed(run, after=proto(run, 3)).index == 1  # wraps round
    assert review_progress(run).reviewed == 1 and review_progress(run).total == 4
    other = PrototypeFactory(run=RunFactory(label="Zeta"), index=0)
    assert access_next_unreviewed(after=proto(run, 3)) == other  # the next run, by label


def test_accept_edit_and_reject_record_who_when_and_what(run: Run) -> None:
    reviewer = StaffFactory(username="ada")
    before = timezone.now()

    accepted = do_review_name(proto(run, 0), "accept", "ignored", reviewer)
    edited = do_review_name(proto(run, 1), "edit", "  crimson   crown ", reviewer, note="redder")
    rejected = do_review_name(proto(run, 3), "reject", "", reviewer)

    assert (accepted.decision, accepted.name) == ("accepted", "black striped wing")
    assert (edited.decision, edited.name, edited.note) == ("edited", "crimson crown", "redder")
    assert (rejected.decision, rejected.name) == ("rejected", "")
    for review in (accepted, edited, rejected):
        assert review.reviewer == reviewer
        assert before <= review.reviewed_at <= timezone.now()


def test_current_name_follows_the_newest_review_and_keeps_the_history(run: Run) -> None:
    first, second = StaffFactory(username="first"), StaffFactory(username="second")
    prototype = proto(run, 1)
    assert current_name(prototype) == "red crown"  # proposed, not reviewed yet

    do_review_name(prototype, "reject", "", first)
    assert current_name(prototype) is None
    do_review_name(prototype, "edit", "scarlet crown", second)
    assert current_name(prototype) == "scarlet crown"

    history = list(prototype.reviews.order_by("reviewed_at", "id").values_list("decision", "name"))
    assert history == [("rejected", ""), ("edited", "scarlet crown")]
    assert current_name(proto(run, 2)) is None  # a placeholder is no name
    assert current_name(proto(run, 3)) is None  # nothing proposed


def test_accepting_a_placeholder_records_that_there_is_nothing_to_name(run: Run) -> None:
    review = do_review_name(proto(run, 2), "accept", "", StaffFactory())

    assert (review.decision, review.name) == ("accepted", "")
    assert current_name(proto(run, 2)) is None


def test_an_edit_to_the_proposed_name_itself_is_an_accept(run: Run) -> None:
    review = do_review_name(proto(run, 1), "edit", "red crown", StaffFactory())

    assert review.decision == "accepted"


@pytest.mark.parametrize(
    ("index", "decision", "name", "message"),
    [
        (1, "edit", "   ", "edited name is empty"),
        (1, "maybe", "x", "unknown decision"),
        (1, "", "x", "no decision given"),
        (3, "accept", "", "nothing to accept"),
        (1, "edit", "x" * 301, "300 at most"),
    ],
)
def test_bad_reviews_raise_and_store_nothing(
    run: Run, index: int, decision: str, name: str, message: str
) -> None:
    with pytest.raises(NamingError, match=message):
        do_review_name(proto(run, index), decision, name, StaffFactory())

    assert NameReview.objects.count() == 0


# --- the pages ----------------------------------------------------------------------------------
def test_the_queue_shows_the_next_prototype_with_its_evidence(
    run: Run, staff_client: Client
) -> None:
    response = staff_client.get(QUEUE, {"run": run.code})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-prototype="{run.code}-0"' in html
    assert "black striped wing" in html
    assert "0</b> of 4 reviewed" in html
    for evidence in ("Part purity", "wing", "0.90", "Attribute frequency", "black", "0.80"):
        assert evidence in html
    for shortcut in ("<kbd>a</kbd> accept", "<kbd>e</kbd> edit", "<kbd>r</kbd> reject"):
        assert shortcut in html
    assert 'src="/static/surveys/naming.js"' in html


@pytest.mark.parametrize(
    ("index", "decision", "name", "stored"),
    [
        (0, "accept", "", ("accepted", "black striped wing")),
        (1, "edit", "crimson crown", ("edited", "crimson crown")),
        (3, "reject", "", ("rejected", "")),
    ],
)
def test_a_review_posted_without_javascript_is_recorded_and_returns_to_the_queue(
    run: Run,
    staff_client: Client,
    staff_user: object,
    index: int,
    decision: str,
    name: str,
    stored: tuple[str, str],
) -> None:
    response = post(staff_client, run, index, decision, name=name, queue_run=run.code)

    assert response.status_code == 303
    assert response["Location"] == f"{QUEUE}?run={run.code}"
    review = NameReview.objects.get()
    assert (review.prototype.index, review.decision, review.name) == (index, *stored)
    assert review.reviewer == staff_user
    assert timezone.now() - review.reviewed_at < timedelta(minutes=1)
    page = staff_client.get(response["Location"]).content.decode()
    assert "Recorded:" in page and "1</b> of 4 reviewed" in page


def test_with_htmx_a_review_answers_with_the_next_card(run: Run, staff_client: Client) -> None:
    response = staff_client.post(
        REVIEW, {"run": run.code, "index": "0", "decision": "accept", "queue_run": run.code}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<section") and "<html" not in html
    assert f'data-prototype="{run.code}-1"' in html
    assert "Recorded: #0 of Focal: accepted as “black striped wing”" in html


def test_skip_moves_on_without_recording(run: Run, staff_client: Client) -> None:
    response = staff_client.get(QUEUE, {"run": run.code, "after": f"{run.code}-0"})

    assert f'data-prototype="{run.code}-1"' in response.content.decode()
    assert NameReview.objects.count() == 0


def test_a_finished_queue_says_so_and_offers_the_export(run: Run, staff_client: Client) -> None:
    reviewer = StaffFactory()
    for prototype in run.prototypes.all():
        do_review_name(prototype, "reject", "", reviewer)

    html = staff_client.get(QUEUE, {"run": run.code}).content.decode()

    assert "has been reviewed" in html and f"{EXPORT}?run={run.code}" in html


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"run": "nosuchrun", "index": "0", "decision": "accept"}, 404, "no run with code"),
        ({"index": "99", "decision": "accept"}, 404, "has no prototype 99"),
        ({"index": "1", "decision": "edit", "name": "  "}, 400, "edited name is empty"),
        ({"index": "1", "decision": "perhaps"}, 400, "unknown decision"),
        ({"index": "3", "decision": "accept"}, 400, "nothing to accept"),
        ({"index": "-1", "decision": "accept"}, 400, "index"),
        ({"index": "one", "decision": "accept"}, 400, "index"),
        ({"index": "9" * 30, "decision": "accept"}, 400, "index"),
        ({"decision": "accept"}, 400, "index"),
        ({"index": "1", "decision": "edit", "name": "x" * 400}, 400, "name"),
        ({"index": "1", "decision": "accept", "queue_run": "gone"}, 404, "no run with code"),
    ],
)
def test_bad_review_input_is_a_4xx_with_a_message_and_stores_nothing(
    run: Run, staff_client: Client, data: dict[str, str], status: int, message: str
) -> None:
    for headers in ({}, HTMX):
        response = staff_client.post(REVIEW, {"run": run.code, **data}, **headers)

        assert response.status_code == status
        assert message in response.content.decode()
    assert NameReview.objects.count() == 0


def test_the_review_url_takes_posts_only_with_a_csrf_token(run: Run, staff_user: object) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    assert client.get(REVIEW).status_code == 405
    assert post(client, run, 0, "accept").status_code == 403
    assert NameReview.objects.count() == 0


def test_an_unknown_queue_filter_is_a_404(run: Run, staff_client: Client) -> None:
    for url in (QUEUE, EXPORT):
        response = staff_client.get(url, {"run": "nosuchrun"})
        assert response.status_code == 404 and "no run with code" in response.content.decode()
    huge = staff_client.get(QUEUE, {"after": f"{run.code}-{'9' * 30}"})
    assert huge.status_code == 404 and "has no prototype" in huge.content.decode()
    bad_skip = staff_client.get(QUEUE, {"after": "garbage"})
    assert bad_skip.status_code == 404 and "cannot skip" in bad_skip.content.decode()


# --- the export ---------------------------------------------------------------------------------
def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_holds_every_reviewed_name_in_force(run: Run, staff_client: Client) -> None:
    ada, bob = StaffFactory(username="ada"), StaffFactory(username="bob")
    do_review_name(proto(run, 0), "accept", "", ada)
    do_review_name(proto(run, 1), "reject", "", ada)
    do_review_name(proto(run, 1), "edit", "crimson crown", bob)  # in force: the newest
    other = PrototypeFactory(run=RunFactory(label="Other"), index=0)
    do_review_name(other, "edit", "=SUM(A1)", bob)

    response = staff_client.get(EXPORT, {"run": run.code})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="names-{run.code}.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = read_csv(text)
    assert [
        (r["prototype_index"], r["decision"], r["final_name"], r["reviewer"]) for r in rows
    ] == [
        ("0", "accepted", "black striped wing", "ada"),
        ("1", "edited", "crimson crown", "bob"),
    ]
    first = rows[0]
    assert (first["run_label"], first["run_code"], first["original_index"]) == (
        "Focal",
        run.code,
        "10",
    )
    assert (first["proposed_name"], first["confidence"]) == ("black striped wing", "0.5")
    assert first["reviewed_at"] == proto(run, 0).current_review.reviewed_at.isoformat()
    everything = read_csv(b"".join(staff_client.get(EXPORT).streaming_content).decode())
    assert len(everything) == 3
    assert everything[-1]["final_name"] == "'=SUM(A1)"  # never a live formula in a spreadsheet


def test_the_csv_writer_writes_to_any_stream(run: Run) -> None:
    do_review_name(proto(run, 2), "accept", "", StaffFactory(username="ada"))
    out = io.StringIO()

    write_names_csv(out, run)

    rows = read_csv(out.getvalue())
    assert len(rows) == 1 and rows[0]["final_name"] == "" and rows[0]["decision"] == "accepted"
