"""Draw the notebook's figures into ``images/`` with matplotlib.

Usage::

    python -m resnets_kit.figures [--out DIR] [--check]

The figures are:

``skip_connection.png``
    A plain two-layer path next to the same path with a shortcut (He et al. 2015, Figure 2).
``identity_block.png``
    The identity block: a three-component main path and an identity shortcut.
``convolutional_block.png``
    The convolutional block: the same main path with stride ``s`` and a CONV2D shortcut.
``resnet50_stages.png``
    ResNet50 on 64x64x3 inputs, stage by stage, with the output shape after each stage.
``signs_samples.png``
    Two SIGNS training images of each class, read from ``datasets/train_signs.h5``.

Every figure is drawn with a fixed size, resolution and font (matplotlib's bundled DejaVu Sans),
from matplotlib's default style, and saved without metadata that changes between runs, so that
the PNG files are byte-identical from one run to the next. ``--check`` renders the figures again
and compares them byte for byte with the files in the output folder (default ``images/``); it
exits with status 1 and lists the stale or missing files when they differ.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path as MplPath

from resnets_kit import REPO_ROOT

__all__ = [
    "DATA_FIGURES",
    "DEFAULT_OUT",
    "DIAGRAMS",
    "FIGURES",
    "TRAIN_FILE_CANDIDATES",
    "draw_convolutional_block",
    "draw_identity_block",
    "draw_resnet50_stages",
    "draw_signs_samples",
    "draw_skip_connection",
    "find_train_file",
    "main",
    "render",
    "stale_figures",
    "write_figures",
]

#: Default output folder.
DEFAULT_OUT = REPO_ROOT / "images"

#: Where the SIGNS training set is looked for, in this order.
TRAIN_FILE_CANDIDATES = (
    REPO_ROOT / "datasets" / "train_signs.h5",
    REPO_ROOT.parent / "shared" / "datasets" / "signs-cs230-jpeg64" / "train_signs.h5",
)

REGENERATE_COMMAND = "python -m resnets_kit.figures"

DPI = 100

# Colour scheme shared by all diagrams: (face colour, edge colour).
COLOURS = {
    "conv": ("#dae8fc", "#3d6ea8"),
    "bn": ("#fff2cc", "#b8961e"),
    "relu": ("#d5e8d4", "#4f8f3f"),
    "other": ("#eeeeee", "#6b6b6b"),
    "convblock": ("#e1d5e7", "#7f5a96"),
    "idblock": ("#ffe6cc", "#c07f00"),
    "tensor": ("#ffffff", "#404040"),
}
MAIN_COLOUR = "#2b2b2b"
SHORTCUT_COLOUR = "#c62828"
SHAPE_COLOUR = "#3a3a3a"
PANEL_COLOUR = "#8c8c8c"
MAIN_LW = 1.5
SHORTCUT_LW = 2.6

# Matplotlib settings applied on top of the default style for every figure.
_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "font.size": 10,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "image.interpolation": "nearest",
    "path.simplify": False,
}


# --------------------------------------------------------------------------------------------
# Drawing helpers. Diagrams use an axes that fills the figure, with 1 data unit = 1 inch.


@dataclass(frozen=True)
class _Box:
    """A drawn box: centre, width and height in inches."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def left(self) -> tuple[float, float]:
        return (self.cx - self.w / 2, self.cy)

    @property
    def right(self) -> tuple[float, float]:
        return (self.cx + self.w / 2, self.cy)

    @property
    def top(self) -> tuple[float, float]:
        return (self.cx, self.cy + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.cx, self.cy - self.h / 2)

    @property
    def x0(self) -> float:
        return self.cx - self.w / 2

    @property
    def x1(self) -> float:
        return self.cx + self.w / 2

    @property
    def y0(self) -> float:
        return self.cy - self.h / 2

    @property
    def y1(self) -> float:
        return self.cy + self.h / 2


def _canvas(width: float, height: float):
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _box(ax, cx, cy, w, h, text, kind, *, rotate=False, fontsize=10, weight="normal") -> _Box:
    face, edge = COLOURS[kind]
    ax.add_patch(
        FancyBboxPatch(
            (cx - w / 2, cy - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.07",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.4,
            zorder=3,
        )
    )
    ax.text(
        cx,
        cy,
        text,
        ha="center",
        va="center",
        rotation=90 if rotate else 0,
        rotation_mode="anchor",
        fontsize=fontsize,
        fontweight=weight,
        linespacing=1.3,
        zorder=4,
    )
    return _Box(cx, cy, w, h)


def _plus(ax, cx, cy, r=0.17) -> _Box:
    ax.add_patch(Circle((cx, cy), r, facecolor="white", edgecolor=MAIN_COLOUR, linewidth=1.6, zorder=3))
    arm = r * 0.55
    for xs, ys in (([cx - arm, cx + arm], [cy, cy]), ([cx, cx], [cy - arm, cy + arm])):
        ax.add_line(Line2D(xs, ys, color=MAIN_COLOUR, linewidth=1.8, zorder=4))
    return _Box(cx, cy, 2 * r, 2 * r)


def _arrow(ax, points, *, color=MAIN_COLOUR, lw=MAIN_LW, zorder=2) -> None:
    """An arrow along a polyline; its tip lies exactly on the last point."""
    head = 0.55 if lw < 2 else 0.7
    ax.add_patch(
        FancyArrowPatch(
            path=MplPath(points),
            arrowstyle=f"-|>,head_length={head},head_width={head * 0.55}",
            mutation_scale=14,
            color=color,
            linewidth=lw,
            joinstyle="miter",
            capstyle="butt",
            zorder=zorder,
        )
    )


def _panel(ax, boxes: Sequence[_Box], label, *, pad=0.12, label_pad=0.06, fontsize=10):
    """A dashed rounded frame around ``boxes`` with ``label`` centred above it."""
    x0 = min(b.x0 for b in boxes) - pad
    x1 = max(b.x1 for b in boxes) + pad
    y0 = min(b.y0 for b in boxes) - pad
    y1 = max(b.y1 for b in boxes) + pad
    ax.add_patch(
        FancyBboxPatch(
            (x0, y0),
            x1 - x0,
            y1 - y0,
            boxstyle="round,pad=0,rounding_size=0.1",
            facecolor="#fafafa",
            edgecolor=PANEL_COLOUR,
            linewidth=1.1,
            linestyle=(0, (4, 3)),
            zorder=1,
        )
    )
    ax.text(
        (x0 + x1) / 2,
        y1 + label_pad,
        label,
        ha="center",
        va="bottom",
        fontsize=fontsize,
        color="#333333",
        fontweight="bold",
    )
    return _Box((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


def _title(ax, x, y, text, *, ha="left", fontsize=13):
    ax.text(x, y, text, ha=ha, va="top", fontsize=fontsize, fontweight="bold", color="#1a1a1a")


def _legend(ax, x, y, kinds: Iterable[tuple[str, str]], *, paths=True, ncol=None):
    handles = [
        Patch(facecolor=COLOURS[kind][0], edgecolor=COLOURS[kind][1], label=label) for kind, label in kinds
    ]
    if paths:
        handles.append(Line2D([], [], color=MAIN_COLOUR, linewidth=MAIN_LW, label="main path"))
        handles.append(
            Line2D(
                [],
                [],
                color=SHORTCUT_COLOUR,
                linewidth=SHORTCUT_LW,
                label="shortcut (skip connection)",
            )
        )
    ax.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(x, y),
        bbox_transform=ax.transData,
        ncol=ncol or len(handles),
        frameon=False,
        fontsize=10,
        handlelength=1.8,
        handleheight=1.0,
        columnspacing=1.4,
        borderaxespad=0,
    )


def _sequence(start, widths, gaps):
    """Centres of boxes laid out left to right: ``gaps[i]`` separates box i from box i + 1."""
    centres = []
    x = start
    for i, w in enumerate(widths):
        centres.append(x + w / 2)
        x += w + (gaps[i] if i < len(gaps) else 0)
    return centres


# --------------------------------------------------------------------------------------------
# a. skip connection


def draw_skip_connection() -> Figure:
    """A plain two-layer path and the same path with an identity shortcut (He et al. Fig. 2).

    Top: x -> weight layer -> ReLU -> weight layer -> ReLU, whose two layers fit H(x).
    Bottom: the residual block, whose layers fit F(x); the shortcut carries x to the addition,
    which outputs F(x) + x before the last ReLU.
    """
    W, H = 10.0, 4.75
    fig, ax = _canvas(W, H)
    bh = 0.62
    widths = [0.62, 1.35, 0.8, 1.35, 0.34, 0.8, 1.0]
    gaps = [0.5, 0.38, 0.38, 0.45, 0.8, 0.45]
    xs = _sequence(0.4, widths, gaps)

    # Plain network.
    y = 3.6
    _title(ax, 0.3, H - 0.2, "Plain network: two stacked layers")
    x_in = _box(ax, xs[0], y, widths[0], bh, "$x$", "tensor", fontsize=12)
    w1 = _box(ax, xs[1], y, widths[1], bh, "weight layer", "conv")
    r1 = _box(ax, xs[2], y, widths[2], bh, "ReLU", "relu")
    w2 = _box(ax, xs[3], y, widths[3], bh, "weight layer", "conv")
    r2 = _box(ax, xs[5], y, widths[5], bh, "ReLU", "relu")
    out = _box(ax, xs[6], y, widths[6], bh, "output", "tensor")
    for a, b in ((x_in, w1), (w1, r1), (r1, w2), (w2, r2), (r2, out)):
        _arrow(ax, [a.right, b.left])
    _bracket(ax, w1.x0, w2.x1, y - bh / 2 - 0.14, "$H(x)$: what the layers must learn")

    # Residual block.
    y = 1.15
    _title(ax, 0.3, 2.72, "Residual block: the same layers with a shortcut")
    x_in = _box(ax, xs[0], y, widths[0], bh, "$x$", "tensor", fontsize=12)
    w1 = _box(ax, xs[1], y, widths[1], bh, "weight layer", "conv")
    r1 = _box(ax, xs[2], y, widths[2], bh, "ReLU", "relu")
    w2 = _box(ax, xs[3], y, widths[3], bh, "weight layer", "conv")
    plus = _plus(ax, xs[4], y)
    r2 = _box(ax, xs[5], y, widths[5], bh, "ReLU", "relu")
    out = _box(ax, xs[6], y, widths[6], bh, "output", "tensor")
    for a, b in ((x_in, w1), (w1, r1), (r1, w2), (w2, plus), (plus, r2), (r2, out)):
        _arrow(ax, [a.right, b.left])
    _bracket(ax, w1.x0, w2.x1, y - bh / 2 - 0.14, r"$F(x) = H(x) - x$: what the layers learn")
    ax.text(
        (plus.x1 + r2.x0) / 2,
        y - 0.1,
        "$F(x) + x$",
        ha="center",
        va="top",
        fontsize=11,
    )
    y_sc = y + bh / 2 + 0.42
    _arrow(
        ax,
        [x_in.top, (x_in.cx, y_sc), (plus.cx, y_sc), plus.top],
        color=SHORTCUT_COLOUR,
        lw=SHORTCUT_LW,
    )
    ax.text(
        (x_in.cx + plus.cx) / 2,
        y_sc + 0.07,
        "shortcut: identity, carries $x$ unchanged",
        ha="center",
        va="bottom",
        fontsize=10.5,
        color=SHORTCUT_COLOUR,
    )
    return fig


def _bracket(ax, x0, x1, y, label, *, depth=0.1, fontsize=10.5):
    ax.add_line(
        Line2D(
            [x0, x0, x1, x1],
            [y + depth, y, y, y + depth],
            color="#555555",
            linewidth=1.1,
        )
    )
    ax.text((x0 + x1) / 2, y - 0.06, label, ha="center", va="top", fontsize=fontsize)


# --------------------------------------------------------------------------------------------
# b. and c. identity block and convolutional block

_BLOCK_BOX_H = 1.65
_BLOCK_BOX_W = 0.48


def _block_main_path(ax, y, *, first_conv: str):
    """Draw the three-component main path; return the boxes by name."""
    bw, bh = _BLOCK_BOX_W, _BLOCK_BOX_H
    names = ["input", "c1", "b1", "r1", "c2", "b2", "r2", "c3", "b3", "plus", "r4", "output"]
    widths = [bw] * 9 + [0.34, bw, bw]
    inner, between = 0.22, 0.42
    gaps = [0.38, inner, inner, between, inner, inner, between, inner, 0.34, 0.3, 0.34]
    xs = _sequence(0.5, widths, gaps)
    texts = {
        "input": "input $x$",
        "c1": first_conv,
        "b1": "BatchNorm",
        "r1": "ReLU",
        "c2": "CONV2D $f \\times f$\n'same', $F_2$ filters",
        "b2": "BatchNorm",
        "r2": "ReLU",
        "c3": "CONV2D 1×1\n$F_3$ filters",
        "b3": "BatchNorm",
        "r4": "ReLU",
        "output": "output",
    }
    kinds = {"c": "conv", "b": "bn", "r": "relu", "i": "tensor", "o": "tensor"}
    boxes = {}
    for name, x, w in zip(names, xs, widths, strict=True):
        if name == "plus":
            boxes[name] = _plus(ax, x, y)
        else:
            boxes[name] = _box(ax, x, y, w, bh, texts[name], kinds[name[0]], rotate=True)
    for a, b in zip(names, names[1:], strict=False):
        _arrow(ax, [boxes[a].right, boxes[b].left])
    for i, members in enumerate((("c1", "b1", "r1"), ("c2", "b2", "r2"), ("c3", "b3")), start=1):
        _panel(ax, [boxes[m] for m in members], f"component {i}", pad=0.1, fontsize=9.5)
    return boxes


def _shape_labels(ax, y, items):
    for x, text in items:
        ax.text(x, y, text, ha="center", va="top", fontsize=10, color=SHAPE_COLOUR)


def draw_identity_block() -> Figure:
    """The identity block: CONV2D 1x1 -> BatchNorm -> ReLU -> CONV2D fxf 'same' -> BatchNorm ->
    ReLU -> CONV2D 1x1 -> BatchNorm, added to the unchanged input, then ReLU.

    The shape labels show that input and output shapes are equal (F3 = n_C).
    """
    W, H = 10.0, 4.75
    fig, ax = _canvas(W, H)
    y = 2.12
    _title(ax, 0.3, H - 0.15, "Identity block: the shortcut adds the input unchanged")
    b = _block_main_path(ax, y, first_conv="CONV2D 1×1\n$F_1$ filters")

    y_sc = y + _BLOCK_BOX_H / 2 + 0.72
    _arrow(
        ax,
        [b["input"].top, (b["input"].cx, y_sc), (b["plus"].cx, y_sc), b["plus"].top],
        color=SHORTCUT_COLOUR,
        lw=SHORTCUT_LW,
    )
    ax.text(
        (b["input"].cx + b["plus"].cx) / 2,
        y_sc + 0.07,
        "shortcut (identity): $x$ skips the main path",
        ha="center",
        va="bottom",
        fontsize=10.5,
        color=SHORTCUT_COLOUR,
    )

    y_lab = y - _BLOCK_BOX_H / 2 - 0.2
    _shape_labels(
        ax,
        y_lab,
        [
            (b["input"].cx, "$(n_H, n_W, n_C)$"),
            ((b["r1"].x1 + b["c2"].x0) / 2, "$(n_H, n_W, F_1)$"),
            ((b["r2"].x1 + b["c3"].x0) / 2, "$(n_H, n_W, F_2)$"),
            (b["output"].cx - 0.15, "$(n_H, n_W, F_3)$"),
        ],
    )
    ax.text(
        W / 2,
        y_lab - 0.36,
        "$F_3 = n_C$: the output has the same shape as the input, so $x$ can be added as it is.",
        ha="center",
        va="top",
        fontsize=10.5,
    )
    _legend(ax, W / 2, 0.3, [("conv", "CONV2D"), ("bn", "BatchNorm"), ("relu", "ReLU")])
    return fig


def draw_convolutional_block() -> Figure:
    """The convolutional block: the identity block's main path with stride s in the first
    CONV2D, and a shortcut with CONV2D 1x1 (stride s, F3 filters) -> BatchNorm.

    The shape labels show how the block changes (n_H, n_W, n_C) to (n_H/s, n_W/s, F3).
    """
    W, H = 10.0, 5.15
    fig, ax = _canvas(W, H)
    y = 2.12
    _title(ax, 0.3, H - 0.15, "Convolutional block: a CONV2D on the shortcut resizes the input")
    b = _block_main_path(ax, y, first_conv="CONV2D 1×1\nstride $s$, $F_1$ filters")

    y_sc = y + _BLOCK_BOX_H / 2 + 0.82
    sh = 0.52
    sc_conv = _box(ax, 3.55, y_sc, 2.35, sh, "CONV2D 1×1, stride $s$, $F_3$ filters", "conv")
    sc_bn = _box(ax, 5.55, y_sc, 1.1, sh, "BatchNorm", "bn")
    kw = {"color": SHORTCUT_COLOUR, "lw": SHORTCUT_LW}
    _arrow(ax, [b["input"].top, (b["input"].cx, y_sc), sc_conv.left], **kw)
    _arrow(ax, [sc_conv.right, sc_bn.left], **kw)
    _arrow(ax, [sc_bn.right, (b["plus"].cx, y_sc), b["plus"].top], **kw)
    ax.text(
        (sc_conv.x0 + sc_bn.x1) / 2,
        y_sc + sh / 2 + 0.08,
        "shortcut: resizes $x$ to $(n_H/s,\\ n_W/s,\\ F_3)$ so it can be added",
        ha="center",
        va="bottom",
        fontsize=10.5,
        color=SHORTCUT_COLOUR,
    )

    y_lab = y - _BLOCK_BOX_H / 2 - 0.2
    _shape_labels(
        ax,
        y_lab,
        [
            (b["input"].cx + 0.05, "$(n_H, n_W, n_C)$"),
            ((b["r1"].x1 + b["c2"].x0) / 2, "$(n_H/s,\\ n_W/s,\\ F_1)$"),
            ((b["r2"].x1 + b["c3"].x0) / 2 + 0.1, "$(n_H/s,\\ n_W/s,\\ F_2)$"),
            (b["output"].cx - 0.45, "$(n_H/s,\\ n_W/s,\\ F_3)$"),
        ],
    )
    ax.text(
        W / 2,
        y_lab - 0.36,
        "The first CONV2D of each path has stride $s$: both paths output $(n_H/s,\\ n_W/s,\\ F_3)$.",
        ha="center",
        va="top",
        fontsize=10.5,
    )
    _legend(ax, W / 2, 0.3, [("conv", "CONV2D"), ("bn", "BatchNorm"), ("relu", "ReLU")])
    return fig


# --------------------------------------------------------------------------------------------
# d. ResNet50 stages


def _tag(ax, x, y, text):
    """An output-shape tag written just above an arrow."""
    ax.text(x, y + 0.06, text, ha="center", va="bottom", fontsize=9.5, color=SHAPE_COLOUR)


def draw_resnet50_stages() -> Figure:
    """ResNet50 for 64x64x3 SIGNS images as a wrapped left-to-right chain of stages.

    Input -> ZeroPad(3) -> Stage 1 (CONV2D 7x7/2, BatchNorm, ReLU, MaxPool 3x3/2) -> Stages 2-5
    (a convolutional block and identity blocks each) -> AVGPOOL 2x2 -> Flatten -> Dense(6,
    softmax), with the output shape after each step.
    """
    W, H = 10.0, 5.95
    fig, ax = _canvas(W, H)
    _title(ax, 0.3, H - 0.15, "ResNet50 on 64×64×3 SIGNS images: stages and output shapes")
    bh = 0.72
    x_start = 0.35
    wrap_x = W - 0.22

    # Row 1: input, padding, stage 1.
    y1 = 4.55
    widths = [0.95, 1.05, 1.4, 1.0, 0.62, 1.15]
    gaps = [0.5, 0.95, 0.9, 0.3, 0.3]
    xs = _sequence(x_start, widths, gaps)
    inp = _box(ax, xs[0], y1, widths[0], bh, "Input\n64×64×3", "tensor")
    pad = _box(ax, xs[1], y1, widths[1], bh, "ZeroPad2D\npad 3", "other")
    conv = _box(ax, xs[2], y1, widths[2], bh, "CONV2D\n7×7, 64, stride 2", "conv")
    bn = _box(ax, xs[3], y1, widths[3], bh, "BatchNorm", "bn")
    relu = _box(ax, xs[4], y1, widths[4], bh, "ReLU", "relu")
    pool = _box(ax, xs[5], y1, widths[5], bh, "MaxPool\n3×3, stride 2", "other")
    for a, b in ((inp, pad), (pad, conv), (conv, bn), (bn, relu), (relu, pool)):
        _arrow(ax, [a.right, b.left])
    s1 = _panel(ax, [conv, bn, relu, pool], "Stage 1")
    _tag(ax, (pad.x1 + conv.x0) / 2 - 0.04, y1, "70×70×3")
    _tag(ax, (conv.x1 + bn.x0) / 2, y1, "32×32×64")

    # Rows 2 and 3: stages 2 to 5, then the head.
    cbw, idw, inner = 1.0, 0.86, 0.3
    stage_specs = [
        (2, "64, 64, 256", 1, 2, "15×15×256"),
        (3, "128, 128, 512", 2, 3, "8×8×512"),
        (4, "256, 256, 1024", 2, 5, "4×4×1024"),
        (5, "512, 512, 2048", 2, 2, "2×2×2048"),
    ]
    stage_gap = 1.0
    y2, y3 = 2.95, 1.35

    def draw_stage(x0, y, spec):
        k, filters, s, n_id, _ = spec
        cb = _box(ax, x0 + cbw / 2, y, cbw, bh, f"CONV BLOCK\n$s$ = {s}", "convblock")
        ib = _box(ax, cb.x1 + inner + idw / 2, y, idw, bh, f"ID BLOCK\n×{n_id}", "idblock")
        _arrow(ax, [cb.right, ib.left])
        panel = _panel(ax, [cb, ib], f"Stage {k}: filters [{filters}]", fontsize=9.5)
        return cb, ib, panel

    stages = []
    x = x_start + 0.12
    for spec in stage_specs[:3]:
        stages.append(draw_stage(x, y2, spec))
        x = stages[-1][1].x1 + 0.12 + stage_gap + 0.12
    for (_, ib, _), (cb, _, _), spec in zip(stages, stages[1:], stage_specs, strict=False):
        _arrow(ax, [ib.right, cb.left])
        _tag(ax, (ib.x1 + cb.x0) / 2, y2, spec[4])

    stage5 = draw_stage(x_start + 0.12, y3, stage_specs[3])
    widths = [0.95, 0.85, 1.15, 0.8]
    gaps = [0.95, 0.75, 0.55]
    xs = _sequence(stage5[1].x1 + 0.12 + stage_gap, widths, gaps)
    avg = _box(ax, xs[0], y3, widths[0], bh, "AVGPOOL\n2×2", "other")
    flat = _box(ax, xs[1], y3, widths[1], bh, "Flatten", "other")
    dense = _box(ax, xs[2], y3, widths[2], bh, "Dense\n6, softmax", "other")
    out = _box(ax, xs[3], y3, widths[3], bh, "$\\hat{y}$", "tensor", fontsize=12)
    _arrow(ax, [stage5[1].right, avg.left])
    _tag(ax, (stage5[1].x1 + avg.x0) / 2 + 0.03, y3, "2×2×2048")
    for a, b, t in ((avg, flat, "1×1×2048"), (flat, dense, "2048"), (dense, out, "6")):
        _arrow(ax, [a.right, b.left])
        _tag(ax, (a.x1 + b.x0) / 2, y3, t)

    # Wrap lines from the end of one row to the start of the next.
    def wrap(src: _Box, dst: _Box, lane_y, tag):
        x_in = dst.x0 - 0.12 - 0.2
        _arrow(
            ax,
            [
                src.right,
                (wrap_x, src.cy),
                (wrap_x, lane_y),
                (x_in, lane_y),
                (x_in, dst.cy),
                dst.left,
            ],
        )
        _tag(ax, wrap_x - 2.8, lane_y, tag)  # under the end of the row above

    wrap(pool, stages[0][0], s1.y0 - 0.28, "15×15×64")
    wrap(stages[2][1], stage5[0], stages[2][2].y0 - 0.28, "4×4×1024")
    ax.text(
        out.cx,
        out.y0 - 0.08,
        "6 class\nprobabilities",
        ha="center",
        va="top",
        fontsize=9.5,
        color=SHAPE_COLOUR,
    )
    _legend(
        ax,
        W / 2,
        0.28,
        [
            ("conv", "CONV2D"),
            ("bn", "BatchNorm"),
            ("relu", "ReLU"),
            ("convblock", "convolutional block"),
            ("idblock", "identity block"),
            ("other", "other layer"),
        ],
        paths=False,
    )
    return fig


# --------------------------------------------------------------------------------------------
# e. SIGNS samples


def find_train_file(*, required: bool = True) -> Path | None:
    """Return the first SIGNS training file of :data:`TRAIN_FILE_CANDIDATES` that exists.

    Without one, raise :class:`FileNotFoundError` (or return ``None`` if ``required`` is false).
    """
    for path in TRAIN_FILE_CANDIDATES:
        if path.is_file():
            return path
    if not required:
        return None
    tried = ", ".join(str(p) for p in TRAIN_FILE_CANDIDATES)
    raise FileNotFoundError(
        f"No SIGNS training file found (tried {tried}). "
        "Run `python -m resnets_kit.data` first to place it in datasets/."
    )


def draw_signs_samples(path: Path | None = None) -> Figure:
    """A 2 x 6 grid of SIGNS training images: the first two of each class 0-5, one class per
    column, each titled with its label ``y = k``.
    """
    import h5py

    path = find_train_file() if path is None else Path(path)
    with h5py.File(path, "r") as f:
        labels = np.asarray(f["train_set_y"][:]).reshape(-1).astype(int)
        classes = range(6)
        picks = [np.flatnonzero(labels == k)[:2] for k in classes]
        if any(len(p) < 2 for p in picks):
            raise ValueError(f"{path}: fewer than two training images for some class")
        order = sorted(int(i) for p in picks for i in p)
        images = dict(zip(order, f["train_set_x"][order], strict=True))

    W, H = 10.0, 4.15
    fig = Figure(figsize=(W, H), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.text(
        0.5,
        1 - 0.12 / H,
        "SIGNS training images: the first two of each class (label $y$ = digit shown)",
        ha="center",
        va="top",
        fontsize=12,
        fontweight="bold",
    )
    size = 1.28  # inches: 128 px, exactly twice the image size
    col_pitch = 1.56
    x_left = (W - (5 * col_pitch + size)) / 2
    for k, pair in zip(classes, picks, strict=True):
        for row, index in enumerate(pair):
            x = x_left + k * col_pitch
            y = H - 0.78 - size - row * (size + 0.42)
            ax = fig.add_axes((x / W, y / H, size / W, size / H))
            ax.imshow(images[int(index)], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("#9a9a9a")
            ax.set_title(f"y = {k}", fontsize=11, pad=4)
    return fig


# --------------------------------------------------------------------------------------------
# Rendering, writing and checking.

#: Figures drawn from code alone, by file name.
DIAGRAMS: dict[str, Callable[[], Figure]] = {
    "skip_connection.png": draw_skip_connection,
    "identity_block.png": draw_identity_block,
    "convolutional_block.png": draw_convolutional_block,
    "resnet50_stages.png": draw_resnet50_stages,
}
#: Figures drawn from the SIGNS data, by file name.
DATA_FIGURES: dict[str, Callable[[], Figure]] = {
    "signs_samples.png": draw_signs_samples,
}
#: All figures, by file name.
FIGURES: dict[str, Callable[[], Figure]] = {**DIAGRAMS, **DATA_FIGURES}


def render(name: str) -> bytes:
    """Draw the figure ``name`` (a key of :data:`FIGURES`) and return its PNG bytes."""
    draw = FIGURES[name]
    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
        fig = draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def write_figures(out_dir: Path = DEFAULT_OUT, names: Iterable[str] | None = None) -> list[Path]:
    """Render the figures ``names`` (default: all) into ``out_dir``; return the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FIGURES if names is None else names:
        path = out_dir / name
        path.write_bytes(render(name))
        written.append(path)
    return written


def stale_figures(out_dir: Path = DEFAULT_OUT, names: Iterable[str] | None = None) -> list[str]:
    """Names of the figures ``names`` (default: all) that are missing from ``out_dir`` or differ
    byte for byte from a fresh rendering. An empty list means the folder is up to date.

    Raises :class:`FileNotFoundError` when a data figure is asked for and no data file exists.
    """
    out_dir = Path(out_dir)
    stale = []
    for name in FIGURES if names is None else names:
        path = out_dir / name
        if not path.is_file() or path.read_bytes() != render(name):
            stale.append(name)
    return stale


def _check(out_dir: Path) -> int:
    names = list(FIGURES)
    not_checked = []
    if find_train_file(required=False) is None:
        not_checked = list(DATA_FIGURES)
        names = list(DIAGRAMS)
    stale = stale_figures(out_dir, names)
    command = REGENERATE_COMMAND
    if out_dir.resolve() != DEFAULT_OUT.resolve():
        command += f" --out {out_dir}"
    if not stale and not not_checked:
        print(f"All {len(names)} figures in {out_dir} are up to date.")
        return 0
    lines = []
    if stale:
        lines.append(f"Figures in {out_dir} are out of date:")
        for name in stale:
            state = "stale" if (out_dir / name).is_file() else "missing"
            lines.append(f"  {state + ':':9}{name}")
        lines.append(f"Regenerate them with: {command}")
    if not_checked:
        lines.append(
            f"Not checked: {', '.join(not_checked)} (no SIGNS training file; "
            "run `python -m resnets_kit.data` first)."
        )
    print("\n".join(lines), file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.figures",
        description="Draw the notebook's figures (PNG) into a folder, or check that they are up to date.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="render into memory and compare byte for byte with the folder; write nothing",
    )
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    if args.check:
        return _check(args.out)
    data_missing = find_train_file(required=False) is None
    names = list(DIAGRAMS) if data_missing else list(FIGURES)
    for path in write_figures(args.out, names):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    if data_missing:
        try:
            find_train_file()
        except FileNotFoundError as error:
            print(f"error: {', '.join(DATA_FIGURES)} not drawn. {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
