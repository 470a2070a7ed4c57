"""A progress bar with live curves for training loops that take more than a couple of seconds.

    with progress.LiveLoss(total=epochs, title="MLP on the digits") as live:
        for epoch in range(epochs):
            ...
            live.update(loss=train_loss, val_acc=accuracy)
    live.history["loss"]          # every value, for a proper matplotlib figure afterwards

In a notebook it shows one ipywidgets ``HTML`` widget: a bar, the step count, the elapsed time and one small
inline-SVG curve per metric, redrawn at most every ``refresh`` seconds. Widget updates travel as comm
messages, so the notebook's saved outputs (and nbval) only see the widget's initial text and the one summary
line printed at the end, with rounded values: they do not depend on timing. Outside a notebook nothing is
drawn; the history is recorded all the same.
"""

from __future__ import annotations

import html
import math
import sys
import time

_WIDTH, _HEIGHT = 220, 90
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def svg_curve(values: list[float], name: str, color: str = _COLORS[0]) -> str:
    """A small SVG line chart of ``values`` with its name, last value and y range written on it."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    points = " ".join(f"{30 + 185 * i / n:.1f},{75 - 60 * (v - lo) / span:.1f}"
                      for i, v in enumerate(values) if math.isfinite(v))
    last = f"{values[-1]:.4g}" if values else ""
    return (f'<svg width="{_WIDTH}" height="{_HEIGHT}" style="margin-right:8px;border:1px solid #ddd">'
            f'<text x="30" y="11" font-size="11">{html.escape(name)} {last}</text>'
            f'<text x="2" y="18" font-size="9">{hi:.3g}</text><text x="2" y="78" font-size="9">{lo:.3g}</text>'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/></svg>')


class LiveLoss:
    """Progress of a loop of ``total`` steps (e.g. epochs) with a live curve of each metric passed to update."""

    def __init__(self, total: int, title: str = "training", unit: str = "epoch", refresh: float = 0.3):
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a positive integer (the number of steps), got {total!r}")
        self.total, self.title, self.unit, self.refresh = total, title, unit, refresh
        self.history: dict[str, list[float]] = {}
        self.step = 0
        self._widget = None
        self._start = self._drawn = 0.0

    def __enter__(self) -> LiveLoss:
        self._start = time.perf_counter()
        if _in_notebook():
            import ipywidgets
            from IPython.display import display

            self._widget = ipywidgets.HTML(value=f"<b>{html.escape(self.title)}</b>: starting")
            display(self._widget)
        return self

    def update(self, **metrics: float) -> None:
        """Record one step's metrics (floats) and redraw if ``refresh`` seconds have passed."""
        self.step += 1
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))
        if self._widget is not None and (time.perf_counter() - self._drawn >= self.refresh or self.step == self.total):
            self._draw()

    def _draw(self) -> None:
        elapsed = time.perf_counter() - self._start
        done = min(self.step / self.total, 1.0)
        eta = elapsed / self.step * (self.total - self.step) if self.step else 0.0
        bar = (f'<div style="display:inline-block;width:200px;height:10px;background:#eee;vertical-align:middle">'
               f'<div style="width:{200 * done:.0f}px;height:10px;background:#4c9be8"></div></div>')
        head = (f"<b>{html.escape(self.title)}</b> {bar} {self.unit} {self.step}/{self.total} "
                f"&middot; {elapsed:.1f} s elapsed, ~{eta:.0f} s left")
        curves = "".join(svg_curve(v, k, _COLORS[i % len(_COLORS)]) for i, (k, v) in enumerate(self.history.items()))
        self._widget.value = f"<div>{head}</div><div>{curves}</div>"
        self._drawn = time.perf_counter()

    def summary(self) -> str:
        """One line with the last value of every metric, rounded to 4 significant digits."""
        last = ", ".join(f"{k} {v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"{self.title}: {self.step}/{self.total} {self.unit}s" + (f", {last}" if last else "")

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._widget is not None:
            self._draw()
        if exc_type is None:
            print(self.summary())
