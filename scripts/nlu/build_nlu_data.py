"""Build Touchline's NLU training data and the held-out evaluation set.

Reproducible: every sample is drawn with a fixed seed from sorted, de-duplicated lists.

Inputs
  clinc150/data_full.json     CLINC150, CC BY 3.0 (train, oos_train: training;
                              test, oos_test: held-out)
  banking77/{train,test}.csv  BANKING77, CC BY 4.0 (train: training; test: held-out)
  bitext/*.csv                Bitext sample, CDLA-Sharing-1.0 (training only)
  rasa-nlu/...                Rasa demo bots, Apache-2.0 (training only)
  products/products.json      DummyJSON catalogue, MIT (brand lookup table)
  (all under ../shared/data) and scripts/nlu/handwritten/<intent>.txt, written for Touchline

Outputs
  data/nlu/<intent>.yml        one file per intent (generated; edit the inputs, not these files)
  data/nlu/lookups.yml         brand + colour lookup tables (generated)
  tests/data/nlu_heldout.yml   held-out evaluation set, test splits only, never trained on

data/nlu/regexes.yml and data/nlu/synonyms.yml are written by hand and not touched here.

Usage:  .venv/bin/python scripts/nlu/build_nlu_data.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

SEED = 20240613
ROOT = Path(__file__).resolve().parents[2]
HANDWRITTEN = Path(__file__).resolve().parent / "handwritten"

INTENTS: list[str] = [
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "bot_challenge",
    "cart_issue",
    "payment_issue",
    "discount_code",
    "order_status",
    "product_search",
    "kick_stats",
    "human_handoff",
    "out_of_scope",
    "restart",
]

# CLINC150 intent -> Touchline intent (applied identically to train and test splits).
CLINC_MAP: dict[str, str] = {
    "greeting": "greet",
    "goodbye": "goodbye",
    "yes": "affirm",
    "no": "deny",
    "thank_you": "thank",
    "are_you_a_bot": "bot_challenge",
    "order_status": "order_status",
    "card_declined": "payment_issue",
}
# CLINC150 intents with nothing to do with an online shop or rugby kicks -> out_of_scope.
# Banking / shopping / assistant-meta intents are deliberately left out (too close to ours).
CLINC_OOS_INTENTS: list[str] = [
    "weather", "recipe", "travel_suggestion", "book_flight", "book_hotel",
    "restaurant_reservation", "restaurant_suggestion", "play_music", "tell_joke", "fun_fact",
    "calories", "cook_time", "timezone", "time", "date", "alarm", "timer", "traffic",
    "directions", "translate", "definition", "meaning_of_life", "flip_coin", "roll_dice",
    "calculator", "measurement_conversion", "spelling", "uber", "car_rental", "flight_status",
    "vaccines", "plug_type", "nutrition_info", "what_are_your_hobbies", "tire_pressure",
    "oil_change_how", "jump_start", "next_holiday", "smart_home", "lost_luggage",
]  # fmt: skip
# BANKING77 categories -> payment_issue (card payment problems that also happen in a shop).
BANKING_PAYMENT = ["declined_card_payment", "transaction_charged_twice", "pending_card_payment"]
# Banking-only situations (ATMs, top-ups, transfers, cash) are dropped from BANKING77.
BANKING_EXCLUDE = re.compile(
    r"\b(atm|cash|withdraw\w*|top[ -]?up\w*|transfer\w*|cheque|contactless|restaurant|dinner|"
    r"petrol|gas station|abroad|foreign|currenc\w*|exchange|in a store|at stores?|in stores?)\b",
    re.I,
)
# CLINC out-of-scope utterances that touch on shopping/payments are not used as out_of_scope
# (train and held-out alike): for a shop bot they are ambiguous rather than out of scope.
OOS_SHOP_WORDS = re.compile(
    r"\b(orders?|ordered|card|cards|pay\w*|credit|bank\w*|account|shop\w*|buy\w*|purchas\w*|"
    r"price\w*|cost\w*|discount\w*|coupon\w*|voucher\w*|deliver\w*|package\w*|parcel\w*|"
    r"ship\w*|refund\w*|return\w*|cart|basket|store\w*|product\w*|bill\w*|money|"
    r"transaction\w*|rugby|kick\w*|human|person|agent|bot|robot|ai)\b",
    re.I,
)

PAYMENT_METHODS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bapple ?pay\b", re.I), "apple_pay"),
    (re.compile(r"\b(google ?pay|g ?pay)\b", re.I), "google_pay"),
    (re.compile(r"\bpay ?pal\b", re.I), "paypal"),
    (re.compile(r"\bklarna\b", re.I), "klarna"),
    (re.compile(r"\b(bank|wire) transfer\b", re.I), "bank_transfer"),
    (re.compile(r"\b((credit|debit) cards?|cards?|visa|mastercard)\b", re.I), "card"),
]
MARKUP = re.compile(r"\[([^\]]+)\](\([^)]+\)|\{[^}]+\})")
COLOURS = [
    "black", "white", "red", "blue", "navy", "green", "olive", "yellow", "orange", "pink",
    "purple", "violet", "brown", "beige", "cream", "grey", "gray", "silver", "gold",
    "rose gold", "teal", "turquoise", "maroon", "burgundy", "khaki", "tan", "charcoal",
    "off white", "ivory", "lilac", "mint", "coral", "nude", "multicolour", "transparent",
]  # fmt: skip


@dataclass
class Block:
    """A group of examples for one intent from one source."""

    intent: str
    source: str
    examples: list[str]


def plain(text: str) -> str:
    """Strip Rasa entity markup: '[TL-1](order_id)' -> 'TL-1'."""
    return MARKUP.sub(lambda m: m.group(1), text)


def norm(text: str) -> str:
    """Normalised form used for duplicate / overlap checks."""
    return re.sub(r"\s+", " ", plain(text)).strip().lower()


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def sample(items: Iterable[str], k: int, label: str) -> list[str]:
    """Deterministic sample of k items from the sorted unique items."""
    pool = sorted({clean(t) for t in items if clean(t)})
    if len(pool) <= k:
        return pool
    return sorted(random.Random(f"{SEED}:{label}").sample(pool, k))


def annotate_payment_methods(text: str) -> str:
    """Mark payment-method mentions outside existing markup as payment_method entities."""
    out: list[str] = []
    pos = 0
    for m in list(MARKUP.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        out.append(_annotate_segment(text[pos:end]))
        if m:
            out.append(m.group(0))
            pos = m.end()
    return "".join(out)


def _annotate_segment(seg: str) -> str:
    spans: list[tuple[int, int, str]] = []
    for pattern, value in PAYMENT_METHODS:
        for m in pattern.finditer(seg):
            if any(s < m.end() and m.start() < e for s, e, _ in spans):
                continue
            spans.append((m.start(), m.end(), value))
    for s, e, value in sorted(spans, reverse=True):
        surface = seg[s:e]
        if surface.lower().replace(" ", "_") == value:
            ann = f"[{surface}](payment_method)"
        else:
            ann = f'[{surface}]{{"entity": "payment_method", "value": "{value}"}}'
        seg = seg[:s] + ann + seg[e:]
    return seg


def touchline_order_id(raw: str) -> str:
    """Touchline-style order id for a Bitext utterance, in one of the customers' spellings."""
    h = int(hashlib.sha256(raw.encode()).hexdigest(), 16)
    num = 10000 + h % 2000
    style = (h // 2000) % 5
    return [f"TL-{num}", f"tl{num}", f"#{num}", f"{num}", f"tl-{num}"][style]


# ----------------------------------------------------------------------------- sources


def load_clinc(shared: Path) -> dict:
    return json.loads((shared / "clinc150" / "data_full.json").read_text())


def clinc_texts(clinc: dict, split: str, intent: str) -> list[str]:
    return [t for t, lab in clinc[split] if lab == intent]


def banking_texts(shared: Path, split: str, category: str) -> list[str]:
    with (shared / "banking77" / f"{split}.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        r["text"]
        for r in rows
        if r["category"] == category and not BANKING_EXCLUDE.search(r["text"])
    ]


def bitext_texts(shared: Path, intent: str) -> list[str]:
    path = next((shared / "bitext").glob("*.csv"))
    out: list[str] = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["intent"] != intent:
                continue
            text = r["instruction"]
            if "{{" in text:  # unfilled template placeholder: drop
                continue
            if r["entity_type"] == "order_id":
                s, e = int(r["start_offset"]), int(r["end_offset"])
                pre = text[:s] + (" " if s and text[s - 1].isalnum() else "")
                text = f"{pre}[{touchline_order_id(text)}](order_id){text[e:]}"
            elif r["entity_type"]:
                continue
            out.append(text)
    return out


def rasa_texts(shared: Path, rel: str, intent: str) -> list[str]:
    doc = yaml.safe_load((shared / "rasa-nlu" / rel).read_text())
    out: list[str] = []
    for item in doc.get("nlu", []):
        if item.get("intent") == intent:
            for line in item["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out.append(line[2:])
    # Demo-data noise (emails, entity annotations, single names) is not used.
    return [t for t in out if "@" not in t and "[" not in t and t.lower() not in RASA_DROP]


RASA_DROP = {
    "john", "steve", "i dunno", "i'm not sure", "i guess it means - no", "stop", "quit",
    "great", "great!", "oh thats good!", "it's good :-)", "good job bot",
    "awesome, you are a good bot!",
    "yes thanks", "handoff", "hello what can you do for me", "welcome", "thanks f",
    "i don't want to give you my email", "foolish", "title",
}  # fmt: skip


def handwritten(intent: str) -> list[str]:
    path = HANDWRITTEN / f"{intent}.txt"
    if not path.exists():
        return []
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


HELPDESK = "helpdesk-assistant/data/nlu.yml"
FINDEMO = "financial-demo/data/nlu/nlu.yml"
RASA_SRC = "Rasa demo bots (Apache-2.0)"
CLINC_SRC = "CLINC150 data_full.json (CC BY 3.0)"
BANKING_SRC = "BANKING77 train.csv (CC BY 4.0)"
BITEXT_SRC = "Bitext customer-support sample (CDLA-Sharing-1.0)"
# Bitext intent -> (Touchline intent, sample size).
BITEXT_PLAN: dict[str, tuple[str, int]] = {
    "payment_issue": ("payment_issue", 30),
    "track_order": ("order_status", 40),
    "contact_human_agent": ("human_handoff", 45),
}
BITEXT_NOTICE = (
    "#\n"
    "# NOTICE (CDLA-Sharing-1.0, section 3.1): this file contains Data from the Bitext\n"
    "# Customer Support sample, (c) Bitext Innovations 2023,\n"
    "# https://github.com/bitext/customer-support-llm-chatbot-training-dataset, licensed under\n"
    "# the Community Data License Agreement - Sharing - Version 1.0\n"
    "# (text: data/licenses/BITEXT-LICENSE.txt).\n"
    "# MODIFIED by Touchline: sampled, order numbers replaced by Touchline-style order ids and\n"
    "# annotated as order_id / payment_method entities. The Bitext blocks (marked '# source:\n"
    "# Bitext ...'), and this file as a whole, are published under CDLA-Sharing-1.0.\n"
)
HAND_SRC = "hand-written for Touchline (scripts/nlu/handwritten)"


def training_blocks(shared: Path) -> list[Block]:
    clinc = load_clinc(shared)
    b: list[Block] = []

    def add(intent: str, source: str, texts: list[str]) -> None:
        b.append(Block(intent, source, texts))

    for intent in INTENTS:
        add(intent, HAND_SRC, handwritten(intent))

    rasa_plan = {
        "greet": [(HELPDESK, "greet"), (FINDEMO, "greet")],
        "goodbye": [(HELPDESK, "goodbye"), (FINDEMO, "goodbye")],
        "affirm": [(HELPDESK, "affirm"), (FINDEMO, "affirm")],
        "deny": [(HELPDESK, "deny"), (FINDEMO, "deny")],
        "thank": [(HELPDESK, "thank"), (FINDEMO, "thankyou")],
        "bot_challenge": [(HELPDESK, "bot_challenge"), (FINDEMO, "check_human")],
        "human_handoff": [(HELPDESK, "human_handoff"), (FINDEMO, "human_handoff")],
        "out_of_scope": [(HELPDESK, "out_of_scope"), (FINDEMO, "out_of_scope")],
    }
    for intent, srcs in rasa_plan.items():
        texts: list[str] = []
        for rel, name in srcs:
            texts += rasa_texts(shared, rel, name)
        if intent == "thank":
            texts = [t for t in texts if "bye" not in t.lower()]
        labels = ", ".join(f"{rel}#{name}" for rel, name in srcs)
        add(intent, f"{RASA_SRC}: {labels}", sample(texts, 45, f"rasa:{intent}"))

    clinc_k = {"order_status": 50, "payment_issue": 35}
    for clinc_intent, intent in CLINC_MAP.items():
        k = clinc_k.get(intent, 45)
        texts = sample(clinc_texts(clinc, "train", clinc_intent), k, f"clinc:{clinc_intent}")
        add(intent, f"{CLINC_SRC}: train, intent {clinc_intent}", texts)
    oos = [t for t, _ in clinc["oos_train"] if not OOS_SHOP_WORDS.search(t)]
    add("out_of_scope", f"{CLINC_SRC}: oos_train", sample(oos, 45, "clinc:oos_train"))
    unrelated: list[str] = []
    for name in CLINC_OOS_INTENTS:
        pool = [t for t in clinc_texts(clinc, "train", name) if not OOS_SHOP_WORDS.search(t)]
        unrelated += sample(pool, 2, f"clinc:oos:{name}")
    add("out_of_scope", f"{CLINC_SRC}: train, 2 each of {len(CLINC_OOS_INTENTS)} unrelated intents",
        unrelated)  # fmt: skip

    for cat in BANKING_PAYMENT:
        texts = sample(banking_texts(shared, "train", cat), 18, f"banking:{cat}")
        add("payment_issue", f"{BANKING_SRC}: category {cat}", texts)

    for name, (intent, k) in BITEXT_PLAN.items():
        texts = sample(bitext_texts(shared, name), k, f"bitext:{name}")
        add(intent, f"{BITEXT_SRC}: intent {name}", texts)

    for blk in b:
        if blk.intent != "out_of_scope":
            blk.examples = [annotate_payment_methods(t) for t in blk.examples]
    return b


def heldout_blocks(shared: Path) -> list[Block]:
    clinc = load_clinc(shared)
    b: list[Block] = []
    for clinc_intent, intent in CLINC_MAP.items():
        k = 30 if intent != "payment_issue" else 30
        texts = sample(clinc_texts(clinc, "test", clinc_intent), k, f"ho:clinc:{clinc_intent}")
        b.append(Block(intent, f"CLINC150 test, intent {clinc_intent}", texts))
    banking: list[str] = []
    for cat in BANKING_PAYMENT:
        banking += sample(banking_texts(shared, "test", cat), 17, f"ho:banking:{cat}")
    b.append(Block("payment_issue", f"BANKING77 test.csv, {', '.join(BANKING_PAYMENT)}", banking))
    oos = [t for t, _ in clinc["oos_test"] if not OOS_SHOP_WORDS.search(t)]
    b.append(Block("out_of_scope", "CLINC150 oos_test", sample(oos, 40, "ho:clinc:oos_test")))
    unrelated: list[str] = []
    for name in CLINC_OOS_INTENTS:
        pool = [t for t in clinc_texts(clinc, "test", name) if not OOS_SHOP_WORDS.search(t)]
        unrelated += sample(pool, 1, f"ho:clinc:oos:{name}")
    b.append(Block("out_of_scope", "CLINC150 test, 1 each of the unrelated intents", unrelated))
    return b


def public_test_texts(shared: Path) -> set[str]:
    """Normalised texts of every public test split (CLINC150 test/oos_test, BANKING77 test)."""
    clinc = load_clinc(shared)
    texts = {norm(t) for t, _ in clinc["test"] + clinc["oos_test"]}
    with (shared / "banking77" / "test.csv").open(newline="") as fh:
        texts |= {norm(r["text"]) for r in csv.DictReader(fh)}
    return texts


# ----------------------------------------------------------------------------- assembly


def dedupe(blocks: list[Block], forbidden: set[str] | None = None) -> list[str]:
    """Drop duplicates in place; texts claimed by two intents are dropped from both."""
    owners: dict[str, set[str]] = defaultdict(set)
    for blk in blocks:
        for t in blk.examples:
            owners[norm(t)].add(blk.intent)
    ambiguous = {k for k, v in owners.items() if len(v) > 1}
    seen: set[str] = set()
    dropped: list[str] = []
    for blk in blocks:
        kept: list[str] = []
        for t in blk.examples:
            key = norm(t)
            if key in ambiguous or (forbidden and key in forbidden):
                dropped.append(f"{blk.intent}: {plain(t)}")
                continue
            if key in seen:
                continue
            seen.add(key)
            kept.append(t)
        blk.examples = kept
    return dropped


def yaml_block(intent: str, source: str, examples: list[str]) -> str:
    lines = [f"- intent: {intent}", f"  # source: {source}", "  examples: |"]
    lines += [f"    - {t}" for t in examples]
    return "\n".join(lines) + "\n"


def write_training(blocks: list[Block]) -> Counter[str]:
    counts: Counter[str] = Counter()
    out_dir = ROOT / "data" / "nlu"
    out_dir.mkdir(parents=True, exist_ok=True)
    for intent in INTENTS:
        header = (
            "# Generated by scripts/nlu/build_nlu_data.py -- do not edit by hand.\n"
            f"# Hand-written examples: scripts/nlu/handwritten/{intent}.txt; sources: SOURCES.md\n"
        )
        if any(blk.intent == intent and blk.source == f"{BITEXT_SRC}: intent {name}"
               for blk in blocks for name in BITEXT_PLAN):  # fmt: skip
            header += BITEXT_NOTICE
        parts = [header + 'version: "3.1"\nnlu:\n']
        for blk in blocks:
            if blk.intent == intent and blk.examples:
                parts.append(yaml_block(intent, blk.source, blk.examples))
                counts[intent] += len(blk.examples)
        (out_dir / f"{intent}.yml").write_text("".join(parts), encoding="utf-8")
    return counts


def write_lookups(shared: Path) -> None:
    data = json.loads((shared / "products" / "products.json").read_text())
    products = data["products"] if isinstance(data, dict) else data
    brands = sorted({p["brand"].strip() for p in products if p.get("brand")}, key=str.lower)
    text = (
        "# Generated by scripts/nlu/build_nlu_data.py.\n"
        "# brand: every brand in ../shared/data/products/products.json (DummyJSON, MIT).\n"
        "# colour: common colour words, hand-written.\n"
        'version: "3.1"\nnlu:\n'
        "- lookup: brand\n  examples: |\n" + "".join(f"    - {b}\n" for b in brands)
        + "- lookup: colour\n  examples: |\n" + "".join(f"    - {c}\n" for c in COLOURS)
    )  # fmt: skip
    (ROOT / "data" / "nlu" / "lookups.yml").write_text(text, encoding="utf-8")


def write_heldout(blocks: list[Block]) -> Counter[str]:
    counts: Counter[str] = Counter()
    parts = [
        "# Held-out NLU evaluation set: real utterances from public TEST splits only\n"
        "# (CLINC150 test/oos_test, BANKING77 test.csv). Never train on this file.\n"
        "# Generated by scripts/nlu/build_nlu_data.py; see tests/data/README.md.\n"
        'version: "3.1"\nnlu:\n'
    ]
    for intent in INTENTS:
        for blk in blocks:
            if blk.intent == intent and blk.examples:
                parts.append(yaml_block(intent, blk.source, blk.examples))
                counts[f"{intent} <- {blk.source}"] += len(blk.examples)
    path = ROOT / "tests" / "data" / "nlu_heldout.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    shared: Path = args.shared.resolve()

    train = training_blocks(shared)
    # Longer texts that occur verbatim in a public test split never go into training (even
    # when written independently), so they stay usable as held-out examples. Generic one- or
    # two-word replies ("yes please", "bye") stay in training and leave the held-out set instead.
    public_test = {k for k in public_test_texts(shared) if len(k.split()) > 2}
    dropped = dedupe(train, forbidden=public_test)
    train_keys = {norm(t) for blk in train for t in blk.examples}
    held = heldout_blocks(shared)
    held_dropped = dedupe(held, forbidden=train_keys)

    counts = write_training(train)
    write_lookups(shared)
    held_counts = write_heldout(held)

    print("training examples per intent:")
    for intent in INTENTS:
        print(f"  {intent:15} {counts[intent]}")
    print(f"  total           {sum(counts.values())}")
    print(f"dropped from training (in two intents, or a test-split text): {len(dropped)}")
    for d in dropped:
        print(f"    {d}")
    print("held-out examples per intent <- source:")
    for key, n in held_counts.items():
        print(f"  {n:4}  {key}")
    print(f"  total {sum(held_counts.values())}")
    print(f"dropped from held-out (also in training, or in two intents): {len(held_dropped)}")
    for d in held_dropped:
        print(f"    {d}")


if __name__ == "__main__":
    main()
