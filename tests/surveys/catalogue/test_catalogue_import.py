"""``import_run`` and its service: real tiny runs in, catalogue rows and stored pictures out."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from surveys.catalogue import importing as catalogue
from surveys.catalogue.importing import ImportRunError, do_import_run
from surveys.models import (
    NameReview,
    ProposedName,
    Prototype,
    PrototypeImage,
    Run,
    RunClass,
    RunKind,
)
from tests.conftest import REPO_ROOT, django_env
from tests.surveys.catalogue.fixtures import TOP_K
from tests.surveys.factories import ConditionFactory, StaffFactory

MODEL_TABLES = (Run, RunClass, Prototype, PrototypeImage, ProposedName)


def stored(media: Path) -> dict[str, float]:
    """Every stored file and its modification time."""
    return {
        str(p.relative_to(media)): p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()
    }


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODEL_TABLES}


def copy_run(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run-copy"
    shutil.copytree(source, target)
    return target


# --- a ProtoPool run ----------------------------------------------------------------------------
def test_import_registers_a_protopool_run_with_classes_prototypes_and_pictures(
    import_pool: Callable[..., Run], pool_run: Path, media: Path
) -> None:
    run = import_pool()

    class_names = json.loads((pool_run / "class_names.json").read_text())
    evaluation = json.loads((pool_run / "evaluation.json").read_text())
    projection = json.loads((pool_run / "projection.json").read_text())["prototypes"]
    assert run.kind == RunKind.PROTOPOOL and run.similarity == "focal"
    assert run.run_dir == str(pool_run.resolve())
    assert run.dataset_name == "SynthBirds"
    assert run.test_accuracy == pytest.approx(evaluation["test"]["accuracy"])
    assert run.config["model"]["similarity"] == "focal"
    assert [c.name for c in run.classes.all()] == class_names
    assert run.num_prototypes == len(projection) == run.prototypes.count()
    for record in projection:
        prototype = run.prototypes.get(index=record["prototype"])
        assert prototype.original_index == record["original_index"]
        assert prototype.provenance["image_id"] == record["image_id"]
        assert sorted(c.index for c in prototype.classes.all()) == sorted(record["classes"])
        assert prototype.source_patch.name.startswith(f"catalogue/{run.code}/")
        assert (media / prototype.source_patch.name).is_file()
        images = list(prototype.top_images.all())
        assert [i.rank for i in images] == list(range(1, TOP_K + 1))
        assert all((media / i.file.name).is_file() for i in images)
        assert all(i.image_id.startswith("images/") and i.score is not None for i in images)
        assert [i.score for i in images] == sorted((i.score for i in images), reverse=True)
    for field in (run.sharing_histogram, run.class_graph, run.class_graph_graphml):
        assert (media / field.name).is_file()
    assert (media / run.class_graph_graphml.name).read_text().lstrip().startswith("<?xml")
    files = 3 + run.num_prototypes * (1 + TOP_K)
    assert len(stored(media)) == files


def test_names_are_proposed_with_their_evidence(import_pool: Callable[..., Run]) -> None:
    run = import_pool()

    names = ProposedName.objects.filter(prototype__run=run)
    assert names.count() == run.num_prototypes
    for proposed in names:
        assert proposed.name and proposed.kind
        assert 0.0 <= proposed.confidence <= 1.0
        purity = proposed.evidence["part_purity"]
        assert {"wing", "beak", "tail"} <= set(purity)
        assert proposed.purity == pytest.approx(proposed.evidence["purity"])
        assert len(proposed.evidence["images"]) == 10  # protopool's naming looks at 10 images


def test_a_names_json_beside_the_run_is_imported_as_written(
    media: Path, pool_run: Path, tmp_path: Path, db: None
) -> None:
    run_dir = copy_run(pool_run, tmp_path)
    entry = {
        "prototype": 1,
        "original_index": 2,
        "classes": [0],
        "name": "black striped wing",
        "kind": "part+attribute",
        "part": "wing",
        "attributes": [{"group": "wing_color", "value": "black", "frequency": 0.9}],
        "confidence": 0.72,
        "evidence": {"purity": 0.8, "part_purity": {"wing": 0.8, "back": 0.1}, "images": ["8"]},
    }
    (run_dir / "names.json").write_text(json.dumps({"schema": 1, "prototypes": [entry]}))

    run = do_import_run(run_dir, "Named", top_k=1).run

    proposed = ProposedName.objects.get(prototype__run=run)
    assert proposed.prototype.index == 1
    assert (proposed.name, proposed.kind, proposed.part) == (
        "black striped wing",
        entry["kind"],
        "wing",
    )
    assert proposed.confidence == pytest.approx(0.72) and proposed.purity == pytest.approx(0.8)
    assert proposed.attributes == entry["attributes"]
    assert proposed.evidence["part_purity"] == {"wing": 0.8, "back": 0.1}


def test_metrics_are_computed_on_request_and_kept_per_prototype(
    import_pool: Callable[..., Run],
) -> None:
    run = import_pool(metrics=True, name=False)

    assert set(run.interpretability["summary"]) >= {"consistency", "purity", "naming_accuracy"}
    assert "prototypes" not in run.interpretability
    prototype = run.prototypes.get(index=0)
    assert prototype.metrics["prototype"] == 0 and "stability" in prototype.metrics
    assert ProposedName.objects.filter(prototype__run=run).count() == 0


def test_a_dataset_without_parts_imports_without_names_and_says_so(
    media: Path, pool_run: Path, synth_data: Path, db: None
) -> None:
    # The SynthBirds images folder read as a plain image folder: same classes, no parts.
    result = do_import_run(pool_run, "No parts", dataset_dir=synth_data / "images", top_k=1)

    assert result.run.prototypes.count() == result.run.num_prototypes
    assert ProposedName.objects.count() == 0
    assert any("part annotations" in note for note in result.notes)
    assert result.run.dataset_name == "images"


# --- a ProtoTree run ----------------------------------------------------------------------------
def test_import_registers_a_prototree_run(media: Path, tree_run: Path, db: None) -> None:
    result = do_import_run(tree_run, "ProtoTree", top_k=2, dataset_name="Birds (synthetic)")

    run = result.run
    projection = json.loads((tree_run / "projection.json").read_text())["prototypes"]
    assert run.kind == RunKind.PROTOTREE and run.similarity == "prototree"
    assert run.dataset_name == "Birds (synthetic)"
    assert run.prototypes.count() == len(projection)
    for record in projection:
        prototype = run.prototypes.get(index=record["prototype"])
        assert sorted(c.index for c in prototype.classes.all()) == sorted(record["classes"])
        assert prototype.top_images.count() == 2 and prototype.source_patch
    assert not run.sharing_histogram and not run.class_graph
    assert any("ProtoTree" in note for note in result.notes)
    assert ProposedName.objects.filter(prototype__run=run).count() == run.num_prototypes


# --- re-imports ---------------------------------------------------------------------------------
def test_reimporting_an_unchanged_run_writes_nothing(
    import_pool: Callable[..., Run], media: Path, pool_run: Path
) -> None:
    first = import_pool()
    before_rows, before_files = counts(), stored(media)

    result = do_import_run(pool_run, "ProtoPool (focal)", top_k=TOP_K)

    assert not result.changed and result.run.pk == first.pk and result.files == 0
    assert counts() == before_rows
    assert stored(media) == before_files


def test_a_changed_run_is_updated_in_place(
    media: Path,
    pool_run: Path,
    tmp_path: Path,
    db: None,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    run_dir = copy_run(pool_run, tmp_path)
    first = do_import_run(run_dir, "Focal", top_k=1, name=False).run
    prototype_pks = sorted(first.prototypes.values_list("pk", flat=True))
    review = NameReview.objects.create(
        prototype=first.prototypes.get(index=0),
        decision="edited",
        name="kept",
        reviewer=StaffFactory(),
    )
    old_files = set(stored(media))
    names = {"prototypes": [{"prototype": 0, "name": "red crown", "confidence": 0.6}]}
    (run_dir / "names.json").write_text(json.dumps(names))

    with django_capture_on_commit_callbacks(execute=True):
        result = do_import_run(run_dir, "Focal, renamed", top_k=1, name=False)

    run = result.run
    assert result.changed and not result.created
    assert (run.pk, run.code, run.label) == (first.pk, first.code, "Focal, renamed")
    assert sorted(run.prototypes.values_list("pk", flat=True)) == prototype_pks
    assert ProposedName.objects.get().name == "red crown"
    assert NameReview.objects.get() == review
    now = set(stored(media))
    assert now and not now & old_files  # the old pictures are gone, new ones in their place
    assert len(now) == len(old_files)


@pytest.mark.parametrize("used_by", ["study", "review"])
def test_a_retrained_run_already_in_use_is_refused_and_left_alone(
    used_by: str, media: Path, pool_run: Path, tmp_path: Path, db: None
) -> None:
    run_dir = copy_run(pool_run, tmp_path)
    run = do_import_run(run_dir, "Focal", top_k=1, name=False).run
    if used_by == "study":
        ConditionFactory(run=run, study__slug="pilot")
    else:
        prototype = run.prototypes.get(index=0)
        NameReview.objects.create(prototype=prototype, decision="rejected", reviewer=StaffFactory())
    done = json.loads((run_dir / "done.json").read_text())
    done["fingerprint"]["config"] = "retrained"
    (run_dir / "done.json").write_text(json.dumps(done))
    before_rows, before_files = counts(), stored(media)

    with pytest.raises(ImportRunError, match="retrained.*(study pilot|1 name reviews)"):
        do_import_run(run_dir, "Focal", top_k=1, name=False)

    assert counts() == before_rows and stored(media) == before_files
    assert Run.objects.get().fingerprint == run.fingerprint


# --- failures store nothing ---------------------------------------------------------------------
def test_a_failure_while_writing_rows_removes_the_files_already_stored(
    media: Path, pool_run: Path, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalogue, "_write_prototypes", broken)

    with pytest.raises(RuntimeError, match="disk full"):
        do_import_run(pool_run, "Focal", top_k=1, name=False)

    assert counts() == dict.fromkeys(counts(), 0)
    assert stored(media) == {}


@pytest.mark.parametrize(
    ("files", "missing"),
    [
        ((), "config.yaml, class_names.json, checkpoints/best.pt"),
        (("config.yaml", "class_names.json", "checkpoints/best.pt", "projection.json"),
         "evaluation.json, done.json"),
    ],
)  # fmt: skip
def test_a_directory_that_is_not_a_finished_run_is_a_clear_error(
    files: tuple[str, ...], missing: str, pool_run: Path, tmp_path: Path, media: Path, db: None
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in files:
        (partial / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pool_run / name, partial / name)

    with pytest.raises(CommandError) as error:
        call_command("import_run", str(partial), "--label", "Half", stdout=io.StringIO())

    assert error.value.returncode != 0  # the exit status of manage.py
    assert f"missing {missing}" in str(error.value)
    assert "protopool train" in str(error.value)
    assert counts() == dict.fromkeys(counts(), 0) and stored(media) == {}


@pytest.mark.parametrize(
    ("damaged", "text", "message"),
    [
        ("projection.json", '{"prototypes": [{"image_id": "3"}]}', "projection.json is damaged"),
        ("projection.json", "[1, 2", "cannot read"),
        ("done.json", "{}", "holds no fingerprint"),
        ("class_names.json", '{"a": 1}', "damaged class_names.json"),
    ],
)
def test_a_damaged_run_is_a_clear_error(
    damaged: str, text: str, message: str, pool_run: Path, tmp_path: Path, media: Path, db: None
) -> None:
    run_dir = copy_run(pool_run, tmp_path)
    (run_dir / damaged).write_text(text)

    with pytest.raises(ImportRunError, match=message):
        do_import_run(run_dir, "Damaged", top_k=1)

    assert counts() == dict.fromkeys(counts(), 0) and stored(media) == {}


def test_the_command_exits_non_zero_on_a_bad_run(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    command = [sys.executable, "manage.py", "import_run", str(tmp_path / "nope"), "--label", "X"]

    finished = subprocess.run(
        [*command, "--skip-checks"],
        cwd=REPO_ROOT,
        env=django_env(var),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode != 0
    assert "no run directory at" in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"label": "  "}, "--label is empty"),
        ({"top_k": 0}, "--top-k must be at least 1"),
        ({"dataset_dir": "/nonexistent/birds"}, "no such directory"),
    ],
)
def test_bad_options_are_refused_before_anything_is_stored(
    options: dict[str, object], message: str, pool_run: Path, media: Path, db: None
) -> None:
    arguments: dict[str, object] = {"label": "Focal", "top_k": 1, **options}
    label = arguments.pop("label")

    with pytest.raises(ImportRunError, match=message):
        do_import_run(pool_run, label, **arguments)

    assert counts() == dict.fromkeys(counts(), 0) and stored(media) == {}


def test_the_command_shows_progress_and_a_summary(media: Path, pool_run: Path, db: None) -> None:
    out = io.StringIO()

    call_command("import_run", str(pool_run), "--label", "Focal", "--top-k", "1", stdout=out)
    call_command("import_run", str(pool_run), "--label", "Focal", "--top-k", "1", stdout=out)

    text = out.getvalue()
    assert "==> Drawing the gallery" in text and "==> Writing the catalogue rows" in text
    run = Run.objects.get()
    assert f"Imported Focal (code {run.code})" in text
    assert f"{run.num_prototypes} prototypes" in text
    assert "Unchanged: Focal" in text
