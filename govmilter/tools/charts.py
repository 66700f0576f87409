"""Small SVG charts written by hand for the compliance report (no plotting dependency).

Each function returns one self-contained ``<svg>`` element that scales with the page (viewBox),
carries a ``<title>`` for screen readers, and prints the numbers on the chart itself so that a
reader never has to guess a value from a bar's length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

#: Okabe-Ito colours: distinguishable by colour-blind readers and in grey-scale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")
FONT = "font-family=\"'Segoe UI', 'Noto Sans', 'DejaVu Sans', Arial, sans-serif\""


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px" role="img" {FONT} font-size="13">'
            f"<title>{escape(title)}</title>"
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
            + "".join(body) + "</svg>")


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[:max(1, length - 1)] + "…"


def bar_chart(items: Sequence[tuple[str, float]], title: str,
              value_text: Callable[[float], str], *, colors: Sequence[str] = PALETTE[:1],
              width: int = 720, max_value: float | None = None) -> str:
    """Horizontal bars, one per (label, value), largest scale first, value written at the end.

    ``colors`` cycles over the bars (one colour: all bars alike).
    """
    bar_h, gap, top = 22, 8, 34
    # ~7.6 px per character at 13 px; past half the width a label is cut with an ellipsis.
    longest = max((len(label) for label, _ in items), default=10)
    fits = min(longest, int((width / 2 - 20) / 7.6))
    label_w = int(20 + 7.6 * fits)
    value_w = 90
    plot_w = width - label_w - value_w - 20
    height = top + len(items) * (bar_h + gap) + 10
    scale = max_value if max_value else max((v for _, v in items), default=0.0)
    body = [f'<text x="10" y="20" font-weight="bold" font-size="15">{escape(title)}</text>']
    for index, (label, value) in enumerate(items):
        y = top + index * (bar_h + gap)
        length = 0.0 if scale <= 0 else max(0.0, value) / scale * plot_w
        color = colors[index % len(colors)]
        body.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" '
                    f'text-anchor="end">{escape(_cut(label, fits))}</text>')
        body.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_h}" '
                    f'fill="#f0f0f0"/>')
        body.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" '
                    f'fill="{color}"/>')
        body.append(f'<text x="{label_w + length + 6:.1f}" y="{y + bar_h * 0.7:.1f}" '
                    f'font-weight="bold">{escape(value_text(value))}</text>')
    return _svg(width, height, title, body)


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str,
               x_text: Callable[[float], str], y_text: Callable[[float], str], *,
               y_max: float = 1.0, width: int = 720, height: int = 320) -> str:
    """One line per named series of (x, y) points on a shared axis from 0 to ``y_max``.

    Points are drawn as dots too, so a single day still shows; the legend sits under the plot.
    """
    left, right, top = 60, 20, 36
    legend_rows = (len(series) + 2) // 3
    bottom = 40 + 22 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = sorted({x for points in series.values() for x, _ in points})
    x0, x1 = (xs[0], xs[-1]) if xs else (0.0, 1.0)
    span = (x1 - x0) or 1.0

    def px(x: float) -> float:
        return left + (x - x0) / span * plot_w if len(xs) > 1 else left + plot_w / 2

    def py(y: float) -> float:
        return top + plot_h - min(max(y, 0.0), y_max) / y_max * plot_h

    body = [f'<text x="10" y="20" font-weight="bold" font-size="15">{escape(title)}</text>']
    for step in range(5):  # horizontal grid at 0, 25, 50, 75, 100 % of y_max
        y_value = y_max * step / 4
        y = py(y_value)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#dddddd"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555555">'
                    f"{escape(y_text(y_value))}</text>")
    label_every = max(1, len(xs) // 8)  # at most ~8 dates under the axis
    for index, x in enumerate(xs):
        if index % label_every == 0 or index == len(xs) - 1:
            # the last date ends at the plot's right edge instead of running off the picture
            anchor = "end" if index == len(xs) - 1 and len(xs) > 1 else "middle"
            body.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 18}" text-anchor="{anchor}" '
                        f'fill="#555555">{escape(x_text(x))}</text>')
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        if len(points) > 1:
            body.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                        f'stroke-width="2.5"/>')
        body.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}">'
                    f"<title>{escape(name)} {escape(x_text(x))}: {escape(y_text(y))}</title>"
                    f"</circle>" for x, y in points)
        lx = left + (index % 3) * (plot_w // 3)
        ly = top + plot_h + 40 + (index // 3) * 22
        body.append(f'<rect x="{lx}" y="{ly - 10}" width="14" height="14" fill="{color}"/>')
        body.append(f'<text x="{lx + 20}" y="{ly + 2}">{escape(name)}</text>')
    return _svg(width, height, title, body)
