"""Charts drawn on the server as SVG: no script, nothing fetched from the internet."""
from __future__ import annotations

from html import escape


def bars(groups: list[tuple[str, list[float]]], series: list[tuple[str, str]], height: int = 160) -> str:
    """Grouped bars: `groups` are (label, one value per series); `series` are (name, colour)."""
    if not groups:
        return "<p class=muted>没有数据。</p>"
    top = max((v for _, values in groups for v in values), default=0) or 1
    n = len(series)
    bar, gap = 14, 18
    width = max(len(groups) * (n * bar + gap) + 30, 200)
    # drawn at its own size (scaled down on a narrow screen by max-width), never blown up
    parts = [f'<svg viewBox="0 -12 {width} {height + 52}" width="{width}" height="{height + 52}" role="img" '
             'xmlns="http://www.w3.org/2000/svg">']
    for gi, (label, values) in enumerate(groups):
        x0 = 30 + gi * (n * bar + gap)
        for si, value in enumerate(values):
            h = round(value / top * height)
            parts.append(f'<rect x="{x0 + si * bar}" y="{height - h + 5}" width="{bar - 2}" height="{h}" '
                         f'fill="{series[si][1]}"><title>{escape(label)} {escape(series[si][0])}: {value:g}</title>'
                         '</rect>')
            parts.append(f'<text x="{x0 + si * bar + (bar - 2) / 2}" y="{height - h}" font-size="9" '
                         f'text-anchor="middle">{value:g}</text>')
        parts.append(f'<text x="{x0 + n * bar / 2}" y="{height + 20}" font-size="10" text-anchor="middle">'
                     f'{escape(label)}</text>')
    legend_x = 30
    for name, colour in series:
        parts.append(f'<rect x="{legend_x}" y="{height + 28}" width="9" height="9" fill="{colour}"/>'
                     f'<text x="{legend_x + 12}" y="{height + 36}" font-size="10">{escape(name)}</text>')
        legend_x += 12 + 12 * len(name) + 10
    parts.append("</svg>")
    return "".join(parts)
