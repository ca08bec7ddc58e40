"""Deterministic simulator of a place-kick event feed (no licensed kick data is public).

``simulate(n_kicks, seed)`` returns a realistic feed in the schema of
:mod:`bot.kicks.events`: matches in :data:`N_COMPETITIONS` fictional competitions over
seasons 2007-2019, one goal-kicker per team, conversions preceded by ``try`` events,
penalties, running scores, and for every kick its true success probability
(``p_true``, the oracle). Kicker, team and competition names are invented; the first
kickers are :data:`FIXED_KICKERS` (the NLU data uses them). Everything derived from this
feed is simulated and must say so.

Calibration (``data/rugby/kick_success_calibration.json``) and ground truth.
The true log-odds of a kick (:func:`true_logit`) are deliberately *not* additive in the
model's features, because real kicking is not:

* location: the RWC 2019 logistic fit *with* its distance x angle interaction
  (``logistic_models[0].interaction``, :func:`bot.kicks.geometry.rwc2019_interaction_logit`):
  angle costs most close in and almost nothing from 45 m;
* kicker range: each kicker has a comfortable distance ``range_m`` ~ N(:data:`RANGE_MEAN_M`,
  :data:`RANGE_SD_M`), beyond which his success falls off :data:`RANGE_SLOPE` logits per
  metre faster than the fit (a kicker x distance interaction; Quarrie & Hopkins 2015:
  "success drops markedly beyond ~35-40 m"). The term is centred on its population mean at
  each distance (:func:`range_logit`), so the average kicker still follows the RWC fit;
* kicker skill: a logit offset with s.d. :data:`SKILL_SD`; with the range spread, career
  rates of established kickers span about 68-83 % (Stats Perform: 68.5 % to 82.7 %);
* pressure: only a close score (within :data:`PRESSURE_MARGIN` points either way) *late*
  in the game (from minute :data:`PRESSURE_MINUTE`) costs :data:`PRESSURE_LOGIT`; either
  alone costs nothing. Quarrie & Hopkins (2015) rate a kick's importance from the score
  difference and the time remaining together; the file gives no size, so it is assumed
  and small (about -7 points of success at 75 %);
* home: :data:`HOME_LOGIT`, small and assumed, in line with "venue rates 67% to 77%"
  (Quarrie & Hopkins);
* competition: a logit offset with s.d. :data:`COMPETITION_SD` (assumed);
* overall success :data:`TARGET_SUCCESS_RATE` = 0.75, inside the published 0.72
  (Quarrie & Hopkins 2015), 0.735 (Stats Perform) and 0.779 (data-ruck, RWC 2023) range;
  a global logit offset is solved so the feed's mean true probability hits it;
* typical kick distance about 32 m (Quarrie & Hopkins: 32-33 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from bot.kicks import geometry

FIRST_SEASON, LAST_SEASON = 2007, 2019
N_COMPETITIONS = 46
DEFAULT_N_KICKS = 67_000
DEFAULT_SEED = 2019
TARGET_SUCCESS_RATE = 0.75
SKILL_SD = 0.15
"""Kicker skill: s.d. of the kicker's logit offset; with the range spread, career rates
span about 67-82 % (5th-95th percentile, kickers with 150+ kicks)."""
COMPETITION_SD = 0.08
"""s.d. of a competition's logit offset (assumed)."""
HOME_LOGIT = 0.10
"""Logit added when the kicking team plays at home (assumed, small)."""
RANGE_MEAN_M = 40.0
"""Mean comfortable range of a kicker, metres to the posts (Quarrie & Hopkins 2015:
success "drops markedly beyond ~35-40 m")."""
RANGE_SD_M = 5.0
"""s.d. of kickers' comfortable ranges, metres (assumed: about 32-48 m for 90 %)."""
RANGE_SLOPE = 0.16
"""Extra logits lost per metre beyond a kicker's own range (assumed: about the RWC fit's
own 0.17 per metre again, so success falls off twice as fast)."""
PRESSURE_LOGIT = -0.35
"""Applied only when the score is close *and* the game late (assumed)."""
PRESSURE_MARGIN = 7
"""Close score: the kicking team leads or trails by at most a converted try (points)."""
PRESSURE_MINUTE = 70
"""Late: from this match minute."""
KICKS_PER_MATCH = 8
CONVERSION_SHARE = 0.45
"""Share of conversions (calibration sources: 2967 of 6769, 318 of 515)."""
KICKS_PER_KICKER = 170

FIXED_KICKERS = (
    "Rhys Talbot",
    "Callum Ferreira",
    "Hugo Marchetti",
    "Jonah Castell",
    "Finn Albright",
    "Seb Varga",
    "Owen Pritchard",
    "Kieran Ashdown",
    "Matteo Brisco",
    "Luca Penhallow",
    "Arlo Kestrel",
    "Dane Whitcombe",
    "Ezra Mollison",
    "Theo Quarrington",
    "Ivo Halvorsen",
    "Bram Ellery",
    "Caspar Nunn",
    "Rafe Linacre",
    "Tobin Ardmore",
    "Cole Venning",
)
_FIRST = (
    "Alder",
    "Bryn",
    "Corin",
    "Dace",
    "Emrys",
    "Fenn",
    "Gideon",
    "Hale",
    "Idris",
    "Jory",
    "Kit",
    "Lorne",
    "Milo",
    "Nye",
    "Orrin",
    "Piran",
    "Quill",
    "Ronan",
    "Soren",
    "Tam",
    "Ulric",
    "Vance",
    "Wyn",
    "Yorick",
    "Zane",
    "Ansel",
    "Bastian",
    "Cai",
    "Dorian",
    "Elio",
)
_LAST = (
    "Ashcombe",
    "Brackwell",
    "Corriden",
    "Dunmarrow",
    "Elsworth",
    "Fenwright",
    "Garrowby",
    "Hollinrake",
    "Inchbold",
    "Jessamy",
    "Kettleby",
    "Lowthorne",
    "Marrable",
    "Netherby",
    "Orchardson",
    "Pellingham",
    "Quennell",
    "Rookwell",
    "Stallard",
    "Thornbury",
    "Underhay",
    "Vellacott",
    "Wetherden",
    "Yarrowby",
    "Zeale",
    "Aldercott",
    "Brimble",
    "Caddow",
    "Dimmock",
    "Eastaway",
)
_REGIONS = (
    "Northern",
    "Southern",
    "Atlantic",
    "Pacific",
    "Highland",
    "Coastal",
    "Midland",
    "Eastern",
    "Western",
    "Island",
    "Valley",
    "Metro",
)
_FORMATS = ("Premiership", "Championship", "Cup", "Shield")
_TOWNS = (
    "Ashby",
    "Brennock",
    "Calder",
    "Dunmore",
    "Eskvale",
    "Farrow",
    "Glenholt",
    "Harlow",
    "Ivybridge",
    "Kelso Vale",
    "Larch",
    "Morwen",
    "Northam",
    "Oakridge",
    "Penmark",
    "Ravensby",
    "Stowell",
    "Tarrant",
    "Umber",
    "Wexcombe",
)
_MASCOTS = ("Harriers", "Stags", "Otters", "Falcons", "Rams", "Herons", "Wolves", "Badgers")


@dataclass(frozen=True)
class Kicker:
    """A simulated kicker: id, invented name and team, home competition index, skill
    (logit offset), comfortable range (metres to the posts) and the seasons they play."""

    kicker_id: str
    name: str
    team: str
    competition: int
    skill: float
    range_m: float
    first_season: int
    last_season: int


@dataclass
class Simulation:
    """A simulated feed: ``events`` (schema dicts, chronological, tries included),
    ``kickers``, ``competitions`` (names) and the solved global logit ``offset``."""

    events: list[dict[str, Any]]
    kickers: list[Kicker]
    competitions: list[str]
    offset: float


def competition_names() -> list[str]:
    """The :data:`N_COMPETITIONS` invented competition names, e.g. ``"Northern Cup"``."""
    names = [f"{region} {fmt}" for fmt in _FORMATS for region in _REGIONS]
    return names[:N_COMPETITIONS]


def kicker_names(n: int) -> list[str]:
    """``n`` invented kicker names: :data:`FIXED_KICKERS` first, then first x last names.

    Raises:
        ValueError: more names asked for than the lists can make.
    """
    generated = [f"{f} {last}" for last in _LAST for f in _FIRST]
    names = list(FIXED_KICKERS) + [g for g in generated if g not in FIXED_KICKERS]
    if n > len(names):
        raise ValueError(f"at most {len(names)} kicker names, asked for {n}")
    return names[:n]


def _kickers(rng: np.random.Generator, n: int, n_comp: int) -> list[Kicker]:
    seasons = LAST_SEASON - FIRST_SEASON + 1
    kickers = []
    for i, name in enumerate(kicker_names(n)):
        length = int(rng.integers(5, seasons + 1))
        first = FIRST_SEASON + int(rng.integers(0, seasons - length + 1))
        team = f"{_TOWNS[i % len(_TOWNS)]} {_MASCOTS[(i // len(_TOWNS)) % len(_MASCOTS)]}"
        kickers.append(
            Kicker(
                kicker_id=f"K{i + 1:04d}",
                name=name,
                team=f"{team} {i // (len(_TOWNS) * len(_MASCOTS)) + 1}" if i >= 160 else team,
                competition=i % n_comp,
                skill=float(rng.normal(0.0, SKILL_SD)),
                range_m=float(rng.normal(RANGE_MEAN_M, RANGE_SD_M)),
                first_season=first,
                last_season=first + length - 1,
            )
        )
    return kickers


def _position(rng: np.random.Generator, kick_type: str) -> tuple[float, float]:
    """A realistic kick spot ``(x_m, y_m)`` for a penalty or a conversion."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    if kick_type == "penalty":
        x = float(np.clip(rng.normal(31.0, 10.0), 6.0, 62.0))
        lateral = float(min(abs(rng.normal(0.0, 11.0)), 30.0))
        return round(x, 1), round(geometry.CENTRE_Y_M + side * lateral, 1)
    if rng.random() < 0.35:  # grounded near the posts
        lateral = float(rng.uniform(0.0, 5.0))
        back = float(rng.uniform(15.0, 25.0))
    else:  # wider, with many in the corners
        lateral = float(np.clip(35.0 - abs(rng.normal(0.0, 11.0)), 5.0, 34.5))
        back = float(np.clip(10.0 + 0.45 * lateral + rng.normal(0.0, 3.0), 6.0, 35.0))
    x, y = geometry.conversion_spot(geometry.CENTRE_Y_M + side * lateral, back)
    return round(x, 1), round(y, 1)


@dataclass
class _Plan:
    """Everything random except outcomes: per match and per kick."""

    matches: list[dict[str, Any]]
    kicks: list[list[dict[str, Any]]]


def _plan(rng: np.random.Generator, n_kicks: int, kickers: list[Kicker]) -> _Plan:
    comps = competition_names()
    weights = rng.gamma(2.0, 1.0, size=len(comps))
    comp_effect = rng.normal(0.0, COMPETITION_SD, size=len(comps))
    n_matches = max(1, n_kicks // KICKS_PER_MATCH)
    per_match = 1 + rng.multinomial(n_kicks - n_matches, np.full(n_matches, 1 / n_matches))
    seasons = rng.integers(FIRST_SEASON, LAST_SEASON + 1, size=n_matches)
    comp_of = rng.choice(len(comps), size=n_matches, p=weights / weights.sum())
    matches, kicks = [], []
    for m in range(n_matches):
        season, comp = int(seasons[m]), int(comp_of[m])
        active = [k for k in kickers if k.first_season <= season <= k.last_season]
        local = [k for k in active if k.competition == comp]
        pool = local if len(local) >= 2 else active
        home, away = (pool[int(i)] for i in rng.choice(len(pool), size=2, replace=False))
        day = date(season - 1, 9, 1) + timedelta(days=int(rng.integers(0, 280)))
        matches.append(
            {
                "match_id": f"M{season}-{comp + 1:02d}-{m + 1:05d}",
                "competition": comps[comp],
                "comp_effect": float(comp_effect[comp]),
                "season": season,
                "date": day.isoformat(),
                "home": home,
                "away": away,
            }
        )
        clocks = np.sort(rng.choice(np.arange(120, 4800), size=int(per_match[m]), replace=False))
        match_kicks = []
        for clock in clocks:
            kick_type = "conversion" if rng.random() < CONVERSION_SHARE else "penalty"
            x, y = _position(rng, kick_type)
            match_kicks.append(
                {
                    "clock_s": int(clock),
                    "home_side": bool(rng.random() < 0.53),
                    "kick_type": kick_type,
                    "x_m": x,
                    "y_m": y,
                    "u": float(rng.random()),
                }
            )
        kicks.append(match_kicks)
    return _Plan(matches, kicks)


def range_logit(distance_m: float, range_m: float) -> float:
    """Kicker-range term of the true log-odds (a kicker x distance interaction).

    ``-RANGE_SLOPE * (max(0, d - range_m) - E[max(0, d - R)])`` with ``R`` ~
    N(:data:`RANGE_MEAN_M`, :data:`RANGE_SD_M`): a kicker loses :data:`RANGE_SLOPE`
    logits per metre beyond his own range, measured against the average kicker at that
    distance, so the term averages about zero over kickers and the RWC fit stays the
    average kicker's curve. Near the posts it is about zero for everyone.

    Args:
        distance_m: metres to the posts.
        range_m: the kicker's comfortable range, metres to the posts.

    Returns:
        Log-odds offset (positive for a kicker with a longer range than most).
    """
    z = (distance_m - RANGE_MEAN_M) / RANGE_SD_M
    cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    expected = (distance_m - RANGE_MEAN_M) * cdf + RANGE_SD_M * pdf
    return -RANGE_SLOPE * (max(0.0, distance_m - range_m) - expected)


def true_logit(
    distance_m: float,
    angle_deg: float,
    kicker: Kicker,
    home: bool,
    score_diff: int,
    minute: int,
) -> float:
    """Log-odds of success before the global offset and competition effect (see the
    module docstring for the sources of each term).

    Args:
        distance_m: metres to the posts; angle_deg: degrees off centre.
        kicker: the kicker (skill and range); home: kicking team at home.
        score_diff: kicking team's score minus the opponents' before the kick (points).
        minute: match minute.

    Returns:
        RWC 2019 interaction fit (:func:`geometry.rwc2019_interaction_logit`) + skill +
        :func:`range_logit` + home + late-and-close pressure.
    """
    logit = float(geometry.rwc2019_interaction_logit(distance_m, angle_deg))
    logit += kicker.skill + range_logit(distance_m, kicker.range_m)
    if home:
        logit += HOME_LOGIT
    if abs(score_diff) <= PRESSURE_MARGIN and minute >= PRESSURE_MINUTE:
        logit += PRESSURE_LOGIT
    return logit


def _play(plan: _Plan, offset: float, emit: bool) -> tuple[list[dict[str, Any]], list[float]]:
    """Walk the matches in order, scoring as kicks are made; returns events (if ``emit``)
    and every kick's true probability."""
    events: list[dict[str, Any]] = []
    probs: list[float] = []
    for match, match_kicks in zip(plan.matches, plan.kicks, strict=True):
        score = {True: 0, False: 0}
        for j, kick in enumerate(match_kicks):
            side = kick["home_side"]
            kicker: Kicker = match["home"] if side else match["away"]
            common = {
                "match_id": match["match_id"],
                "competition": match["competition"],
                "season": match["season"],
                "date": match["date"],
                "period": 1 if kick["clock_s"] < 2400 else 2,
                "team": kicker.team,
                "home": side,
                "simulated": True,
            }
            if kick["kick_type"] == "conversion":
                if emit:
                    events.append(
                        {
                            **common,
                            "event_id": f"{match['match_id']}-{j:02d}T",
                            "event_type": "try",
                            "clock_s": kick["clock_s"] - 1,
                            "score_for": score[side],
                            "score_against": score[not side],
                            "x_m": 0.0,
                            "y_m": kick["y_m"],
                        }
                    )
                score[side] += 5
            x, y = kick["x_m"], kick["y_m"]
            logit = (
                offset
                + match["comp_effect"]
                + true_logit(
                    geometry.distance_to_posts(x, y),
                    geometry.angle_to_posts(x, y),
                    kicker,
                    side,
                    score[side] - score[not side],
                    kick["clock_s"] // 60,
                )
            )
            p = 1.0 / (1.0 + math.exp(-logit))
            probs.append(p)
            made = kick["u"] < p
            if emit:
                events.append(
                    {
                        **common,
                        "event_id": f"{match['match_id']}-{j:02d}",
                        "event_type": "place_kick",
                        "clock_s": kick["clock_s"],
                        "score_for": score[side],
                        "score_against": score[not side],
                        "kicker_id": kicker.kicker_id,
                        "kicker_name": kicker.name,
                        "kick_type": kick["kick_type"],
                        "x_m": x,
                        "y_m": y,
                        "outcome": "made" if made else "missed",
                        "p_true": round(p, 6),
                    }
                )
            if made:
                score[side] += 2 if kick["kick_type"] == "conversion" else 3
    return events, probs


def _solve_offset(plan: _Plan) -> float:
    """Global logit offset making the mean true probability :data:`TARGET_SUCCESS_RATE`
    (Newton's method on the mean; scores depend on outcomes, so each step replays)."""
    offset = 0.0
    for _ in range(10):
        _, probs = _play(plan, offset, emit=False)
        p = np.asarray(probs)
        gap = p.mean() - TARGET_SUCCESS_RATE
        if abs(gap) < 1e-6:
            break
        offset -= gap / float(np.mean(p * (1 - p)))
    return offset


def simulate(n_kicks: int = DEFAULT_N_KICKS, seed: int = DEFAULT_SEED) -> Simulation:
    """Simulate a place-kick feed (deterministic for a given ``n_kicks`` and ``seed``).

    Args:
        n_kicks: number of place kicks (at least 16); about 1 kicker per
            :data:`KICKS_PER_KICKER` kicks, at least 40.
        seed: random seed.

    Returns:
        A :class:`Simulation`; its events follow :mod:`bot.kicks.events`' schema with
        ``simulated: true`` and ``p_true`` on kicks.

    Raises:
        ValueError: ``n_kicks`` below 16.
    """
    if n_kicks < 16:
        raise ValueError("n_kicks must be at least 16")
    rng = np.random.default_rng(seed)
    n_comp = len(competition_names())
    kickers = _kickers(rng, max(40, n_kicks // KICKS_PER_KICKER), n_comp)
    plan = _plan(rng, n_kicks, kickers)
    offset = _solve_offset(plan)
    events, _ = _play(plan, offset, emit=True)
    return Simulation(events, kickers, competition_names(), offset)
