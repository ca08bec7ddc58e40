"""PNG heatmap of success probability over the half pitch (matplotlib, Agg backend, no
pyplot state, safe in threads)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.kicks import geometry
from bot.kicks.predictor import KickPredictor

GRID_STEP_M = 1.0


def render_heatmap(predictor: KickPredictor, kicker_id: str | None = None) -> bytes:
    """Draw the success probability of a penalty from every spot of the half pitch.

    Spots closer than :data:`bot.kicks.geometry.MIN_KICK_X_M` to the try line are
    blank. The title names the kicker (or "all kickers (average)") and says when the
    data is simulated.

    Args:
        predictor: loaded predictor.
        kicker_id: kicker id, ``None`` for the all-kicker average.

    Returns:
        PNG bytes.

    Raises:
        bot.kicks.predictor.ModelOutputError: the model returned a non-finite value.
    """
    xs = np.arange(geometry.MIN_KICK_X_M, geometry.PITCH_LENGTH_M / 2 + 0.01, GRID_STEP_M)
    ys = np.arange(0.0, geometry.PITCH_WIDTH_M + 0.01, GRID_STEP_M)
    probs = predictor.grid(kicker_id, xs, ys)
    fig = Figure(figsize=(6.4, 5.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.pcolormesh(ys, xs, probs.T, cmap="RdYlGn", vmin=0.0, vmax=1.0, shading="nearest")
    fig.colorbar(image, ax=ax, label="success probability")
    half = geometry.POST_GAP_M / 2
    ax.plot([geometry.CENTRE_Y_M - half, geometry.CENTRE_Y_M + half], [0, 0], "k-", lw=4)
    for name, x in geometry.LINES_M.items():
        ax.axhline(x, color="white", lw=0.8, ls="--" if name in ("5m", "10m") else "-")
    ax.set_xlim(0, geometry.PITCH_WIDTH_M)
    ax.set_ylim(0, geometry.PITCH_LENGTH_M / 2)
    ax.set_xlabel("metres from the left touchline")
    ax.set_ylabel("metres out from the try line")
    who = predictor.kickers.get(kicker_id, "?") if kicker_id else "all kickers (average)"
    note = "simulated data" if predictor.simulated else "model " + predictor.version
    ax.set_title(f"Penalty success: {who}\n({note}, model {predictor.version})", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
