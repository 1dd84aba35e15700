"""Argument types the ``protopool`` verbs share."""

from __future__ import annotations

import argparse


def crop_box(text: str) -> tuple[float, float, float, float]:
    """``x,y,w,h`` in pixels of the original image, as four numbers; width and height positive.

    Raises:
        argparse.ArgumentTypeError: Not four numbers, or an empty box (a usage error, exit 2).
    """
    try:
        x, y, width, height = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not x,y,width,height (four numbers, e.g. 10,20,100,80)"
        ) from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return (x, y, width, height)
