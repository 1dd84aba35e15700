"""The gallery's HTML: one self-contained page, CSS inline, no script, no network resource."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from protopool.explanations.names import NOT_NAMED


@dataclass(frozen=True)
class Shown:
    """A top activating training image on a card.

    Attributes:
        src: The image file, relative to the page.
        score: The prototype's peak similarity on it.
        class_name: The image's class.
        image_id: The image's dataset identifier.
    """

    src: str
    score: float
    class_name: str
    image_id: str


@dataclass
class Card:
    """One prototype's card, filled in as its parts are made."""

    prototype: int
    original_index: int
    patch: str = ""
    source: str = ""
    source_caption: str = ""
    top: list[Shown] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    name: str = NOT_NAMED
    confidence: float | None = None
    named: bool = False


# Small runs show their class list unfolded; long lists stay folded under their summary.
OPEN_CLASSES = 12

STYLE = """
:root {
  --bg: #f5f6f8; --card: #ffffff; --ink: #1d2330; --muted: #5d6677; --line: #e0e3ea;
  --chip: #eef1f7; --accent: #3056d3; --unnamed: #9a6400;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14161b; --card: #1e2129; --ink: #e7e9ee; --muted: #a2a9b8; --line: #2f3440;
          --chip: #2a2f3a; --accent: #8fa8ff; --unnamed: #e2b04a; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.page { max-width: 1400px; margin: 0 auto; padding: 1rem clamp(0.75rem, 3vw, 2rem) 3rem; }
h1 { font-size: clamp(1.35rem, 4vw, 1.9rem); margin: 0.4rem 0 0.2rem; word-break: break-word; }
.meta { color: var(--muted); margin: 0 0 1rem; }
details.classes { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 0.6rem 1rem; margin-bottom: 1.2rem; }
details.classes summary { cursor: pointer; font-weight: 600; }
.class-list { list-style: none; padding: 0; margin: 0.6rem 0 0; display: grid; gap: 0.35rem 1.5rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 17rem), 1fr)); }
.class-list li { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3rem; }
.class-list .cname { font-weight: 500; margin-right: 0.2rem; }
.grid { display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 21rem), 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 14px;
  padding: 0.9rem 1rem 1rem; display: flex; flex-direction: column; gap: 0.55rem;
  scroll-margin-top: 1rem; }
.card:target { outline: 3px solid var(--accent); }
.card header { display: flex; justify-content: space-between; align-items: baseline; gap: 0.5rem; }
.card h2 { font-size: 1.1rem; margin: 0; }
.orig { color: var(--muted); font-size: 0.8rem; }
.name { margin: 0; font-weight: 600; }
.confidence { font-weight: 400; font-size: 0.8rem; color: var(--muted); margin-left: 0.3rem;
  white-space: nowrap; }
.name.unnamed { font-weight: 400; font-style: italic; color: var(--unnamed); font-size: 0.9rem; }
.source { display: grid; grid-template-columns: 1fr 1.6fr; gap: 0.6rem; align-items: start; }
figure { margin: 0; }
figure img { display: block; width: 100%; height: auto; border-radius: 8px;
  background: var(--chip); }
figcaption { color: var(--muted); font-size: 0.75rem; margin-top: 0.2rem;
  overflow-wrap: anywhere; }
.missing { display: grid; place-items: center; aspect-ratio: 1; border-radius: 8px;
  background: var(--chip); color: var(--muted); font-size: 0.8rem; text-align: center;
  padding: 0.4rem; }
h3 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted);
  margin: 0.3rem 0 0; }
.top { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.4rem;
  grid-template-columns: repeat(auto-fit, minmax(3.4rem, 1fr)); }
.top img { aspect-ratio: 1; object-fit: contain; }
.top figcaption { font-size: 0.7rem; line-height: 1.25; }
.top .cls { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.score { font-variant-numeric: tabular-nums; color: var(--ink); font-weight: 600; }
.chips { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.3rem; }
.chip { display: inline-block; background: var(--chip); border-radius: 999px;
  padding: 0.1rem 0.6rem; font-size: 0.8rem; color: var(--ink); text-decoration: none;
  overflow-wrap: anywhere; }
a.chip { color: var(--accent); }
a.chip:hover, a.chip:focus { text-decoration: underline; }
footer { color: var(--muted); font-size: 0.8rem; margin-top: 2rem; }
"""


def _short(class_name: str) -> str:
    """A class name without CUB's numeric prefix (``001.Black_footed_Albatross``), for the
    narrow captions; the full name stays in the caption's title."""
    return re.sub(r"^\d+\.", "", class_name).replace("_", " ") or class_name


def _image(src: str, alt: str, missing: str) -> str:
    if not src:
        return f'<div class="missing">{escape(missing)}</div>'
    return f'<img src="{escape(src)}" alt="{escape(alt)}" loading="lazy">'


def _card(card: Card, tree: bool) -> str:
    if tree:
        where = f"node #{card.original_index}"
    elif card.original_index != card.prototype:
        where = f"#{card.original_index} before pruning"
    else:
        where = ""
    name_class = "name" if card.named else "name unnamed"
    confidence = (
        f' <span class="confidence">confidence {card.confidence:.2f}</span>'
        if card.confidence is not None
        else ""
    )
    top = "".join(
        "<li><figure>"
        + _image(shown.src, f"training image {shown.image_id}", "")
        + f'<figcaption><span class="score">{shown.score:.2f}</span>'
        f'<span class="cls" title="{escape(shown.class_name)}">'
        f"{escape(_short(shown.class_name))}</span></figcaption></figure></li>"
        for shown in card.top
    )
    chips = "".join(f'<li class="chip">{escape(name)}</li>' for name in card.classes)
    count = f"{len(card.classes)} {'class' if len(card.classes) == 1 else 'classes'}"
    users = f"{count} in the leaves below" if tree else f"Used by {count}"
    return f"""
<article class="card" id="p{card.prototype}">
  <header><h2>Prototype {card.prototype}</h2><span class="orig">{where}</span></header>
  <p class="{name_class}">{escape(card.name)}{confidence}</p>
  <div class="source">
    <figure>{
        _image(
            card.patch,
            f"projected patch of prototype {card.prototype}",
            "not projected: run protopool project",
        )
    }<figcaption>projected patch</figcaption></figure>
    <figure>{
        _image(card.source, f"source image of prototype {card.prototype}", "no source image")
    }<figcaption>source: {escape(card.source_caption or "none")}
    </figcaption></figure>
  </div>
  <h3>Top {len(card.top)} training images</h3>
  <ol class="top">{top}</ol>
  <h3>{users}</h3>
  <ul class="chips">{chips or '<li class="chip">none</li>'}</ul>
</article>"""


def page(
    *,
    title: str,
    kind: str,
    class_names: list[str],
    cards: list[Card],
    class_prototypes: list[list[int]],
    top_k: int,
    images: int,
    tree: bool,
) -> str:
    """The whole page.

    Args:
        title: The run's name.
        kind: The model, in words.
        class_names: Class names by label.
        cards: One per prototype, in pool order.
        class_prototypes: Each class's prototypes, by label.
        top_k: Training images searched for per prototype.
        images: Training images searched.
        tree: The run is a ProtoTree (cards name nodes).
    """
    named = sum(card.named for card in cards)
    classes = "".join(
        f'<li><span class="cname">{escape(name)}</span>'
        + "".join(f'<a class="chip" href="#p{p}">#{p}</a>' for p in prototypes)
        + "</li>"
        for name, prototypes in zip(class_names, class_prototypes, strict=True)
    )
    naming = f"{named} named" if named else NOT_NAMED
    unfold = " open" if len(class_names) <= OPEN_CLASSES else ""
    body = "".join(_card(card, tree) for card in cards)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prototypes of {escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<div class="page">
<h1>Prototypes of {escape(title)}</h1>
<p class="meta">{escape(kind)} · {len(cards)} prototypes · {len(class_names)} classes ·
top {top_k} of {images} training images per prototype · {escape(naming)}</p>
<details class="classes"{unfold}>
<summary>Classes and their prototypes ({len(class_names)})</summary>
<ul class="class-list">{classes}</ul></details>
<main class="grid">{body}
</main>
<footer>Heat maps: the prototype's similarity map on the image (red is most similar), boxed
where it matches best. Written by <code>protopool gallery</code>.</footer>
</div>
</body>
</html>
"""


__all__ = ["Card", "Shown", "page"]
