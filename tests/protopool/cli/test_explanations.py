"""The figure verbs (``explain``, ``class``, ``compare``, ``prototype``, ``sharing``,
``gallery``) on tiny SynthBirds runs, and their errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from protopool.cli import main
from tests.protopool.fixtures import first_source


def test_every_figure_verb_writes_its_figure_and_numbers(
    pool_run: Path, tree_run: Path, tmp_path: Path
) -> None:
    image, box = first_source(pool_run)
    crop = ",".join(str(v) for v in box) if box else "0,0,48,48"
    out = tmp_path / "figures"
    commands = [
        [
            "explain",
            str(pool_run),
            "--image",
            image,
            "--out",
            f"{out}/local.svg",
            "--crop-box",
            crop,
        ],
        ["explain", str(tree_run), "--image", image, "--out", f"{out}/tree.png"],
        ["class", str(pool_run), "0", "--out", f"{out}/class.png"],
        ["class", str(tree_run), "0", "--out", f"{out}/class-tree.pdf"],
        ["compare", str(pool_run), "0", "1", "--out", f"{out}/compare.png"],
        ["prototype", str(pool_run), "0", "--out", f"{out}/prototype.png"],
    ]
    for command in commands:
        assert main(command) == 0, command
        figure = Path(command[command.index("--out") + 1])
        assert figure.stat().st_size > 0
        json.loads(figure.with_suffix(".json").read_text())
    local = json.loads((out / "local.json").read_text())
    for terms in local["classes"]:
        assert terms["weighted_sum"] == pytest.approx(terms["logit"], abs=1e-4)
    examples = json.loads((out / "prototype.json").read_text())["examples"]
    assert examples and all(Path(e["image"]).is_file() for e in examples)


def test_sharing_over_runs_writes_the_histograms_and_a_graph_per_run(
    pool_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sharing"
    assert main(["sharing", str(pool_run), str(pool_run), "--out", str(out)]) == 0
    statistics = json.loads((out / "sharing.json").read_text())
    assert [run["run"] for run in statistics["runs"]] == ["pool-1", "pool-2"]
    assert statistics["sd_of_means"] == 0.0
    for name in ("sharing.png", "sharing-histogram.csv", "sharing-summary.csv"):
        assert (out / name).stat().st_size > 0
    for label in ("pool-1", "pool-2"):
        ET.parse(out / f"graph-{label}.graphml")
        assert (out / f"graph-{label}.png").is_file() and (out / f"graph-{label}.csv").is_file()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["explain", "{empty}", "--image", "{image}", "--out", "{tmp}/x.png"], "protopool train"),
        (["gallery", "{empty}", "--out", "{tmp}/g"], "protopool train"),
        (
            ["explain", "{pool}", "--image", "{tmp}/none.png", "--out", "{tmp}/x.png"],
            "does not exist",
        ),
        (["explain", "{pool}", "--image", "{image}", "--out", "{tmp}/x.gif"], ".png, .svg or .pdf"),
        (["class", "{pool}", "Dodo", "--out", "{tmp}/x.png"], "unknown class 'Dodo'"),
        (["compare", "{pool}", "0", "Dodo", "--out", "{tmp}/x.png"], "unknown class 'Dodo'"),
        (["prototype", "{pool}", "99", "--out", "{tmp}/x.png"], "prototype 99 does not exist"),
        (["prototype", "{pool}", "-1", "--out", "{tmp}/x.png"], "prototype -1 does not exist"),
        (["compare", "{tree}", "0", "1", "--out", "{tmp}/x.png"], "needs a ProtoPool run"),
        (["prototype", "{tree}", "0", "--out", "{tmp}/x.png"], "needs a ProtoPool run"),
        (["sharing", "{pool}", "{tree}", "--out", "{tmp}/s"], "needs a ProtoPool run"),
        (["gallery", "{pool}", "--out", "{tmp}/g", "--data", "{tmp}/nowhere"], "nowhere"),
        (["gallery", "{pool}", "--out", "{tmp}/g", "--top-k", "0"], "at least 1"),
    ],
    ids=[
        "untrained-explain",
        "untrained-gallery",
        "missing-image",
        "bad-suffix",
        "unknown-class",
        "unknown-class-compare",
        "prototype-out-of-range",
        "negative-prototype",
        "compare-tree",
        "prototype-tree",
        "sharing-tree",
        "gallery-no-data",
        "gallery-top-k",
    ],
)
def test_bad_input_exits_2_with_a_message_that_says_what_to_do(
    command: list[str],
    message: str,
    pool_run: Path,
    tree_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    values = {
        "empty": str(empty),
        "pool": str(pool_run),
        "tree": str(tree_run),
        "tmp": str(tmp_path),
        "image": first_source(pool_run)[0],
    }
    assert main([part.format(**values) for part in command]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "g" / "index.html").exists()


def test_a_malformed_crop_box_is_an_argument_error(pool_run: Path, tmp_path: Path) -> None:
    image = first_source(pool_run)[0]
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "explain",
                str(pool_run),
                "--image",
                image,
                "--out",
                f"{tmp_path}/x.png",
                "--crop-box",
                "1,2,3",
            ]
        )
    assert exit_info.value.code == 2
