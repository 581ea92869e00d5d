"""Side-by-side composites (e.g. ground truth | GAP-TV | DE-GAP) with a label on each panel."""

from __future__ import annotations

import numpy as np

from sci_viewer.errors import ExportError
from sci_viewer.export.frames import as_frames

GAP = 4  # pixels between panels
GAP_VALUE = 1.0  # white separators


def _label_masks(label: str, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (text, outline) masks of ``label`` drawn at the panel's top-left corner."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.35, h / 400.0)
    (tw, th), _ = cv2.getTextSize(label, font, scale, 1)
    if tw > w - 8 and tw > 0:
        scale *= max(0.2, (w - 8) / tw)
        (tw, th), _ = cv2.getTextSize(label, font, scale, 1)
    thick = max(1, int(round(scale * 1.5)))
    origin = (4, min(h - 2, 4 + th))
    outline = np.zeros((h, w), np.uint8)
    text = np.zeros((h, w), np.uint8)
    cv2.putText(outline, label, origin, font, scale, 255, thick + 2, cv2.LINE_AA)
    cv2.putText(text, label, origin, font, scale, 255, thick, cv2.LINE_AA)
    return text > 127, outline > 127


def side_by_side(videos: list[np.ndarray], labels: list[str], gap: int = GAP) -> np.ndarray:
    """Put videos next to each other: (T, H, k*W + (k-1)*gap) float32 on [0, 1], labels drawn.

    Each video is (n, B, H, W) or (T, H, W) on [0, 1] (clipped), all with the same T, H and W.
    """
    if not videos:
        raise ExportError("side_by_side needs at least one video.")
    if len(labels) != len(videos):
        raise ExportError(f"side_by_side got {len(videos)} videos but {len(labels)} labels.")
    stacks = [as_frames(v) for v in videos]
    t, h, w = stacks[0].shape
    for label, s in zip(labels, stacks):
        if s.shape != (t, h, w):
            raise ExportError(
                f"Cannot compose '{label}' ({' x '.join(map(str, s.shape))} frames) with "
                f"'{labels[0]}' ({t} x {h} x {w}): all videos need the same frame count and size."
            )
    k = len(stacks)
    out = np.full((t, h, k * w + (k - 1) * gap), GAP_VALUE, np.float32)
    for i, (label, s) in enumerate(zip(labels, stacks)):
        x0 = i * (w + gap)
        panel = out[:, :, x0 : x0 + w]
        np.clip(np.nan_to_num(s, nan=0.0), 0.0, 1.0, out=panel, casting="unsafe")
        if label:
            text, outline = _label_masks(label, h, w)
            panel[:, outline] = 0.0
            panel[:, text] = 1.0
    return out
