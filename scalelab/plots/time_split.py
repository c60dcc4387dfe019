"""The where-the-time-goes notebook's own figure (08): a flame graph of a sampling profile,
coloured by layer."""

from __future__ import annotations

import matplotlib.pyplot as plt

from scalelab.plots.standard import _PALETTE


def flame_graph(profile, ax=None, title: str = "", min_share: float = 0.01, max_depth: int = 200):
    """A flame graph of a :class:`scalelab.measurement.profiler.Profile`: each frame a bar as wide as the
    share of samples with it on the stack, its callers below it; frames under ``min_share``
    are not drawn, labels only where they fit. Colour by layer (``profiler.LAYERS``)."""
    from scalelab.measurement.profiler import LAYERS, OTHER, layer_of

    deepest = max((len(f) for f in profile.stacks.frames), default=1)
    ax = ax or plt.subplots(figsize=(13, max(6.0, min(deepest, max_depth) * 0.16)))[1]
    total = profile.samples or 1
    colours = {name: _PALETTE[i % len(_PALETTE)] for i, (name, _) in enumerate(LAYERS)}
    colours[OTHER] = "#bbbbbb"
    # the tree of stacks: (path of frames) -> samples, children laid out left to right by name
    counts: dict[tuple, int] = {}
    for frames, n in zip(profile.stacks.frames, profile.stacks.samples):
        for depth in range(1, min(len(frames), max_depth) + 1):
            counts[frames[:depth]] = counts.get(frames[:depth], 0) + int(n)
    children: dict[tuple, list] = {}
    for path in counts:
        children.setdefault(path[:-1], []).append(path)
    drawn = set()

    def draw(path: tuple, x: float) -> None:
        width = counts[path] / total
        if width < min_share:
            return
        depth = len(path) - 1
        frame = path[-1]
        layer = layer_of([frame])
        ax.barh(depth, width, left=x, height=0.9, color=colours[layer], edgecolor="white",
                linewidth=0.5, label=layer if layer not in drawn else None)
        drawn.add(layer)
        name = frame.split(" (")[0]
        if width > 0.06:
            ax.text(x + 0.003, depth, name[: int(width * 120)], va="center", fontsize=7)
        offset = x
        for child in sorted(children.get(path, []), key=lambda p: p[-1]):
            draw(child, offset)
            offset += counts[child] / total

    x = 0.0
    for root in sorted(children.get((), []), key=lambda p: p[-1]):
        draw(root, x)
        x += counts[root] / total
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of samples ({total:,} samples, {profile.rate} a second; the gaps: "
                  f"frames under {min_share:.0%} of them each, not drawn)")
    ax.set_ylabel("stack depth")
    ax.set_title(title or "Flame graph")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    return ax
