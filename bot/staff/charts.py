"""Server-side charts of the staff pages: plain SVG, every label escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

PALETTE = ("#2a6fdb", "#e07b39", "#3aa76d", "#9b59b6", "#c0392b", "#7f8c8d")
"""Series colours, in order (then repeated)."""


def stacked_bars(per_day: dict[str, dict[str, tuple[int, int]]], width: int = 720,
                 height: int = 240) -> str:
    """Conversations per day, one stacked bar per day, one colour per channel.

    Args:
        per_day: ``day -> channel -> (conversations, messages)``
            (:attr:`bot.staff.analytics.Summary.per_day`).
        width: pixels; height: pixels.

    Returns:
        An ``<svg>`` document with a legend; channel names and days are escaped.
    """
    channels = sorted({c for day in per_day.values() for c in day})
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    top = max((sum(v[0] for v in day.values()) for day in per_day.values()), default=0) or 1
    left, bottom, legend = 36, 28, 18
    plot_h = height - bottom - legend - 8
    step = (width - left - 8) / max(len(per_day), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             'aria-label="Conversations per day and channel" font-family="sans-serif" '
             'font-size="11">',
             f'<text x="4" y="{legend + 12}">{top}</text>',
             f'<line x1="{left}" y1="{legend + 8 + plot_h}" x2="{width - 8}" '
             f'y2="{legend + 8 + plot_h}" stroke="#999"/>']
    for i, (day, counts) in enumerate(per_day.items()):
        x, y = left + i * step + step * 0.1, float(legend + 8 + plot_h)
        for channel in channels:
            n = counts.get(channel, (0, 0))[0]
            if n:
                h = plot_h * n / top
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" '
                             f'height="{h:.1f}" fill="{colour[channel]}">'
                             f"<title>{escape(f'{day} {channel}: {n}')}</title></rect>")
        if len(per_day) <= 14 or i % max(len(per_day) // 7, 1) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 10}">{escape(day[5:])}</text>')
    for i, channel in enumerate(channels):
        parts.append(f'<rect x="{left + i * 110}" y="2" width="10" height="10" '
                     f'fill="{colour[channel]}"/><text x="{left + i * 110 + 14}" y="11" '
                     f'data-channel={quoteattr(channel)}>{escape(channel[:16])}</text>')
    parts.append("</svg>")
    return "".join(parts)
