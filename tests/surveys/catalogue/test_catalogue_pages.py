"""The catalogue's staff pages on real imported runs, and who may see them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

import surveys.catalogue.admin  # noqa: F401 - registers the catalogue's admin pages
from protopool.explanations import compare_classes as protopool_compare
from protopool.inference import load_run
from surveys.catalogue.importing import do_import_run
from surveys.catalogue.review import do_review_name
from surveys.models import NameReview, Run
from tests.surveys.factories import ProposedNameFactory, PrototypeFactory, RunClassFactory


def short(class_name: str) -> str:
    """``001.Blue_Warbler`` as the pages label it: "Blue Warbler"."""
    return class_name.split(".", 1)[1].replace("_", " ")


def page(client: Client, name: str, *args: object, **query: str) -> str:
    response = client.get(reverse(f"surveys:{name}", args=args), query)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


def test_the_runs_page_lists_each_run_with_its_facts_and_review_count(
    import_pool: Callable[..., Run], staff_client: Client, staff_user: object
) -> None:
    run = import_pool(name=True)
    do_review_name(run.prototypes.get(index=0), "reject", "", staff_user)

    html = page(staff_client, "runs")

    link = reverse("surveys:run_detail", args=[run.code])
    for text in (link, "ProtoPool (focal)", "ProtoPool", "focal", "SynthBirds"):
        assert text in html
    assert f">{run.num_classes}<" in html and f">{run.num_prototypes}<" in html
    assert f"{round(100 * run.test_accuracy)} %" in html
    assert f">1/{run.num_prototypes}<" in html


def test_a_run_page_shows_classes_gallery_figures_and_metrics(
    import_pool: Callable[..., Run], staff_client: Client
) -> None:
    run = import_pool(metrics=True)

    html = page(staff_client, "run_detail", run.code)

    for run_class in run.classes.all():
        assert run_class.name in html
        assert reverse("surveys:class_detail", args=[run.code, run_class.index]) in html
    for prototype in run.prototypes.all():
        assert prototype.source_patch.url in html
        assert reverse("surveys:prototype_detail", args=[run.code, prototype.index]) in html
    assert run.sharing_histogram.url in html and run.class_graph.url in html
    assert run.class_graph_graphml.url in html
    assert "consistency" in html and "naming_accuracy" in html


def test_a_prototype_page_shows_its_pictures_name_evidence_classes_and_history(
    import_pool: Callable[..., Run], staff_client: Client, staff_user: object
) -> None:
    run = import_pool(metrics=True)
    prototype = run.prototypes.get(index=1)
    do_review_name(prototype, "edit", "first try", staff_user)
    do_review_name(prototype, "edit", "pale wing", staff_user)

    html = page(staff_client, "prototype_detail", run.code, 1)

    assert prototype.source_patch.url in html
    for image in prototype.top_images.all():
        assert image.file.url in html and image.image_id in html
    assert prototype.proposed_name.name in html and "Part purity" in html
    for run_class in prototype.classes.all():
        assert run_class.name in html
    assert "stability" in html  # metrics
    assert html.index("pale wing") < html.index("first try")  # history, newest first
    assert "in force" in html and "researcher" in html


def test_class_comparison_matches_protopool(
    import_pool: Callable[..., Run], staff_client: Client, pool_run: Path
) -> None:
    run = import_pool(name=False)
    expected = protopool_compare(load_run(pool_run), "0", "1")

    html = page(staff_client, "class_detail", run.code, 0, **{"with": "1"})

    sections = html.split("<h3>")
    assert sections[1].startswith(f"Shared by both ({len(expected.shared)})")
    assert sections[2].startswith(f"Only {short(expected.first)} ({len(expected.only_first)})")
    assert sections[3].startswith(f"Only {short(expected.second)} ({len(expected.only_second)})")
    for section, indices in zip(
        sections[1:], (expected.shared, expected.only_first, expected.only_second), strict=True
    ):
        for index in indices:
            assert reverse("surveys:prototype_detail", args=[run.code, index]) in section


def test_a_tree_class_page_lists_the_prototypes_on_its_paths(
    media: Path, tree_run: Path, db: None, staff_client: Client
) -> None:
    run = do_import_run(tree_run, "ProtoTree", top_k=1, name=False).run
    run_class = run.classes.get(index=1)

    html = page(staff_client, "class_detail", run.code, 1)

    assert "on the paths to its leaves" in html
    for prototype in run_class.prototypes.all():
        assert reverse("surveys:prototype_detail", args=[run.code, prototype.index]) in html
    assert "no class slots" in page(staff_client, "run_detail", run.code)


@pytest.fixture
def small_run(db: None) -> Run:
    run_class = RunClassFactory(index=0, name="001.Warbler")
    RunClassFactory(run=run_class.run, index=1, name="002.Sparrow")
    ProposedNameFactory(prototype=PrototypeFactory(run=run_class.run, index=0))
    return run_class.run


@pytest.mark.parametrize(
    ("name", "args", "query", "status", "message"),
    [
        ("run_detail", ["nosuchrun"], {}, 404, "no run with code"),
        ("class_detail", ["{code}", 7], {}, 404, "has no class 7"),
        ("prototype_detail", ["{code}", 9], {}, 404, "has no prototype 9"),
        ("prototype_detail", ["{code}", 10**30], {}, 404, "has no prototype"),
        ("class_detail", ["{code}", 10**30], {}, 404, "has no class"),
        ("class_detail", ["{code}", 0], {"with": "0"}, 400, "cannot compare"),
        ("class_detail", ["{code}", 0], {"with": "zebra"}, 400, "cannot compare"),
        ("class_detail", ["{code}", 0], {"with": "5"}, 400, "has no class 5"),
    ],
)
def test_unknown_things_get_a_4xx_that_says_what(
    small_run: Run,
    staff_client: Client,
    name: str,
    args: list[object],
    query: dict[str, str],
    status: int,
    message: str,
) -> None:
    args = [a.format(code=small_run.code) if isinstance(a, str) else a for a in args]

    response = staff_client.get(reverse(f"surveys:{name}", args=args), query)

    assert response.status_code == status
    assert message in response.content.decode()


CATALOGUE_PAGES = [
    ("runs", []),
    ("run_detail", ["{code}"]),
    ("class_detail", ["{code}", 0]),
    ("prototype_detail", ["{code}", 0]),
    ("naming_queue", []),
    ("naming_export", []),
]


@pytest.mark.parametrize(("name", "args"), CATALOGUE_PAGES)
@pytest.mark.parametrize("who", ["anonymous", "non_staff"])
def test_every_catalogue_page_refuses_anonymous_and_non_staff_users(
    small_run: Run, non_staff_client: Client, who: str, name: str, args: list[object]
) -> None:
    client = Client() if who == "anonymous" else non_staff_client
    url = reverse(
        f"surveys:{name}",
        args=[a.format(code=small_run.code) if isinstance(a, str) else a for a in args],
    )

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert small_run.label not in response.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "non_staff"])
def test_a_review_from_outside_the_staff_is_refused_and_not_stored(
    small_run: Run, non_staff_client: Client, who: str
) -> None:
    client = Client() if who == "anonymous" else non_staff_client

    response = client.post(
        reverse("surveys:naming_review"),
        {"run": small_run.code, "index": "0", "decision": "reject"},
    )

    assert response.status_code == 302 and NameReview.objects.count() == 0


def test_the_admin_lists_the_catalogue(small_run: Run, admin_client: Client) -> None:
    for model in ("run", "prototype", "namereview"):
        response = admin_client.get(reverse(f"admin:surveys_{model}_changelist"))
        assert response.status_code == 200
    response = admin_client.get(reverse("admin:surveys_run_change", args=[small_run.pk]))
    assert response.status_code == 200 and small_run.label in response.content.decode()
