"""``protopool render``: one stimulus from a trained run, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from protopool.cli import main


def test_render_writes_a_side_by_side_png(
    square_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, image = square_run
    out = tmp_path / "stimulus.png"
    assert (
        main(["render", str(run), "--prototype", "1", "--image", str(image), "--out", str(out)])
        == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["stimulus.png"]
    with Image.open(out) as picture:
        assert (picture.format, picture.size) == ("PNG", (2 * 32 + 8, 32))


def test_render_separate_takes_the_format_from_the_suffix(
    square_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, image = square_run
    style = tmp_path / "separate.yaml"
    style.write_text("pair: separate\nsize: [64, 48]\n")
    out = tmp_path / "pics" / "p2.webp"
    args = ["render", str(run), "--prototype", "2", "--image", str(image), "--out", str(out)]
    assert main([*args, "--style", str(style), "--crop-box", "4,4,20,24"]) == 0
    for path in (out, tmp_path / "pics" / "p2-original.webp"):
        with Image.open(path) as picture:
            assert (picture.format, picture.size) == ("WEBP", (64, 48))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run": "{tmp}"}, "is not a trained run"),
        ({"image": "{tmp}/missing.png"}, "image file not found"),
        ({"prototype": "99"}, "prototype 99 does not exist: the run has"),
        ({"out": "{tmp}/x.gif"}, "unknown picture suffix '.gif'"),
        ({"style": "format: jpeg\n"}, "sets format jpeg but x.png asks for png"),
        ({"style": "heat: 0.3\n"}, "unknown style field"),
    ],
    ids=["untrained-run", "missing-image", "prototype-out-of-range", "suffix", "format", "style"],
)
def test_render_errors_exit_2_with_a_message_and_write_nothing(
    square_run: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    run, image = square_run
    values = {"run": str(run), "prototype": "0", "image": str(image), "out": "{tmp}/x.png"}
    values.update(change)
    values = {key: value.replace("{tmp}", str(tmp_path)) for key, value in values.items()}
    args = ["render", values["run"], "--prototype", values["prototype"]]
    args += ["--image", values["image"], "--out", values["out"]]
    if "style" in values:
        (tmp_path / "style.yaml").write_text(values["style"])
        args += ["--style", str(tmp_path / "style.yaml")]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not any(p.suffix in (".png", ".gif") for p in tmp_path.iterdir())


def test_a_malformed_crop_box_is_a_usage_error(
    square_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, image = square_run
    args = ["render", str(run), "--prototype", "0", "--image", str(image)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "x.png"), "--crop-box", "1,2,3"])
    assert exit_info.value.code == 2
    assert "x,y,width,height" in capsys.readouterr().err
