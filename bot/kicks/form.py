"""Kicker form: attempt and success counts per kicker and zone, competition and career,
and the shrunk success rates the model uses.

Counts are keyed ``(kicker_id, scope, key)`` with ``scope`` one of :data:`SCOPES`
(``key`` is the zone, the competition, or ``""`` for the career); kicker id
:data:`ALL_KICKERS` holds the all-kicker totals. Rates are shrunk towards the all-kicker
rate with :data:`PRIOR_KICKS` pseudo-kicks (an empirical-Bayes beta prior):
``(made + k * prior) / (attempts + k)``.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_KICKERS = "*"
SCOPES = ("zone", "competition", "career")
PRIOR_KICKS = 10.0
"""Shrinkage strength in pseudo-kicks."""
BASE_RATE = 0.75
"""Rate before any kick is seen (the simulator's calibrated overall rate)."""

Key = tuple[str, str, str]


@dataclass(frozen=True)
class FormRates:
    """A kicker's shrunk success rates (probabilities in [0, 1]) and earlier kicks.

    ``known`` is False when the kicker has no earlier kicks (rates are the all-kicker
    averages).
    """

    zone: float
    competition: float
    career: float
    career_kicks: int
    known: bool


def _shrink(counts: list[int] | None, prior: float) -> float:
    if not counts:
        return prior
    attempts, made = counts
    return (made + PRIOR_KICKS * prior) / (attempts + PRIOR_KICKS)


class FormCounts:
    """Mutable attempt/made counts; the in-memory twin of the SQL form store.

    Args:
        counts: initial ``{(kicker_id, scope, key): [attempts, made]}``; copied.
    """

    def __init__(self, counts: dict[Key, list[int]] | None = None) -> None:
        self.counts: dict[Key, list[int]] = {k: list(v) for k, v in (counts or {}).items()}

    @staticmethod
    def keys(kicker_id: str, zone: str, competition: str) -> tuple[Key, Key, Key]:
        """The zone, competition and career keys of one kicker (or :data:`ALL_KICKERS`)."""
        return (
            (kicker_id, "zone", zone),
            (kicker_id, "competition", competition),
            (kicker_id, "career", ""),
        )

    def add(self, kicker_id: str, zone: str, competition: str, made: bool) -> list[Key]:
        """Count one kick for the kicker and for all kickers.

        Returns:
            The six keys touched.
        """
        touched = [*self.keys(kicker_id, zone, competition)]
        touched += self.keys(ALL_KICKERS, zone, competition)
        for key in touched:
            entry = self.counts.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += int(made)
        return touched

    def rates(self, kicker_id: str | None, zone: str, competition: str | None) -> FormRates:
        """Shrunk rates of ``kicker_id`` in ``zone`` and ``competition``.

        An unknown or ``None`` kicker gets the all-kicker averages; an unknown or ``None``
        competition gets the all-kicker career rate as its prior.

        Args:
            kicker_id: kicker id or ``None``.
            zone: a :data:`bot.kicks.geometry.ZONES` label.
            competition: competition name or ``None``.

        Returns:
            :class:`FormRates`.
        """
        get = self.counts.get
        comp = competition or ""
        prior_all = _shrink(get((ALL_KICKERS, "career", "")), BASE_RATE)
        prior_zone = _shrink(get((ALL_KICKERS, "zone", zone)), prior_all)
        prior_comp = _shrink(get((ALL_KICKERS, "competition", comp)), prior_all)
        career = get((kicker_id, "career", "")) if kicker_id else None
        if not career:
            return FormRates(prior_zone, prior_comp, prior_all, 0, False)
        return FormRates(
            zone=_shrink(get((kicker_id, "zone", zone)), prior_zone),
            competition=_shrink(get((kicker_id, "competition", comp)), prior_comp),
            career=_shrink(career, prior_all),
            career_kicks=career[0],
            known=True,
        )

    def career(self, kicker_id: str) -> tuple[int, int]:
        """Raw ``(attempts, made)`` of a kicker's career; ``(0, 0)`` if unknown."""
        attempts, made = self.counts.get((kicker_id, "career", ""), (0, 0))
        return attempts, made
