"""Index scale: build time, memory, query latency and recall of FAISS (and pgvector).

Usage: ``python -m bench.search_scale [--sizes 10000 100000 1000000] [--pg-sizes 10000]
[--queries 200] [--quick]`` (``--quick``: sizes 10k and 100k, pgvector at 10k).

Synthetic vectors (dimension 384, unit norm), made to resemble catalogue embeddings
rather than uniform noise: each vector is ``normalise(e_a + 0.5 e_b + 0.35 g)`` where
``e_a``, ``e_b`` are embeddings of two random products of the shipped catalogue
(all-MiniLM-L6-v2) and ``g`` is Gaussian noise scaled to unit expected norm; seed 0.
Queries are drawn the same way with seed 1, so they are not in the index.

For each size: exact ``IndexFlatIP`` and the shipped HNSW configuration
(``bot.search.faiss_index``) through :class:`~bot.search.faiss_index.FaissIndex` (the
code path the service runs): build seconds, index memory (serialised size: vectors and
graph), query latency p50/p99 in ms for one query at a time (embedding excluded), and
recall@10 of HNSW against the exact top 10. pgvector (HNSW m=16, ef_construction=64,
``hnsw.ef_search`` 100 as the backend uses for k=10) on the same vectors for
``--pg-sizes``. Also embedding throughput of the catalogue texts and end-to-end latency
(embed + HNSW search) at 100k.
Results go to ``bench/out/search_scale.json`` and are printed as Markdown tables.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from bot.search.documents import ProductDoc  # noqa: E402
from bot.search.embedder import get_embedder  # noqa: E402
from bot.search.faiss_index import HNSW_THRESHOLD, FaissIndex  # noqa: E402
from bot.store.seed import load_catalogue  # noqa: E402

K = 10


def catalogue_docs() -> list[ProductDoc]:
    """The shipped catalogue as documents (same text the service embeds)."""
    return [
        ProductDoc(
            id=p["id"],
            title=p["title"],
            description=p.get("description", ""),
            category=p["category"].replace("-", " "),
            brand=p.get("brand") or "",
            tags=" ".join(p.get("tags", [])),
        )
        for p in load_catalogue()
    ]


def synthetic(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` unit vectors mixed from catalogue embeddings ``base`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a = base[rng.integers(0, len(base), m)]
        b = base[rng.integers(0, len(base), m)]
        g = rng.standard_normal((m, base.shape[1]), dtype=np.float32) / np.sqrt(base.shape[1])
        v = a + 0.5 * b + 0.35 * g
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def percentiles(ms: list[float]) -> tuple[float, float]:
    """(p50, p99) of latencies in ms."""
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def faiss_run(vectors: np.ndarray, queries: np.ndarray, hnsw: bool) -> tuple[dict, list]:
    """Build a FaissIndex (exact or HNSW), time queries; returns (stats, top-10 ids)."""
    start = time.perf_counter()
    index = FaissIndex(vectors.shape[1], HNSW_THRESHOLD if hnsw else 0)
    ids = np.arange(1, len(vectors) + 1)
    index.upsert(ids, vectors, np.zeros(len(vectors), dtype=np.int64))
    build = time.perf_counter() - start
    memory = faiss.serialize_index(index.index).nbytes / 2**20
    tops, ms = [], []
    for q in queries:
        t = time.perf_counter()
        hits = index.search(q, K)
        ms.append((time.perf_counter() - t) * 1000)
        tops.append([pid for pid, _ in hits])
    p50, p99 = percentiles(ms)
    return {"build_s": build, "memory_mb": memory, "p50_ms": p50, "p99_ms": p99}, tops, index


def recall(approx: list[list[int]], exact: list[list[int]]) -> float:
    """Mean recall@10 of ``approx`` against ``exact`` top-10 lists."""
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))


def pgvector_run(vectors: np.ndarray, queries: np.ndarray, exact: list, workdir: Path) -> dict:
    """Same measurement on PostgreSQL 16 + pgvector 0.6 started by ``pgserver``."""
    import pgserver
    import psycopg2

    server = pgserver.get_server(workdir / f"pg{len(vectors)}", cleanup_mode="delete")
    conn = psycopg2.connect(server.get_uri())
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    cur.execute("SET maintenance_work_mem = '2GB'")
    cur.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({vectors.shape[1]}))")
    buf = io.StringIO()
    for i, v in enumerate(vectors, start=1):
        buf.write(f"{i}\t[{','.join(f'{x:.6f}' for x in v)}]\n")
    buf.seek(0)
    start = time.perf_counter()
    cur.copy_from(buf, "items", columns=("id", "embedding"))
    load = time.perf_counter() - start
    start = time.perf_counter()
    cur.execute(
        "CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops) "
        "WITH (m = 16, ef_construction = 64)"
    )
    build = time.perf_counter() - start
    cur.execute("SELECT pg_total_relation_size('items')")
    size_mb = cur.fetchone()[0] / 2**20
    cur.execute("SET hnsw.ef_search = 100")
    tops, ms = [], []
    for q in queries:
        literal = "[" + ",".join(f"{x:.6f}" for x in q) + "]"
        t = time.perf_counter()
        cur.execute("SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT %s", (literal, K))
        tops.append([r[0] for r in cur.fetchall()])
        ms.append((time.perf_counter() - t) * 1000)
    conn.close()
    server.cleanup()
    p50, p99 = percentiles(ms)
    return {
        "load_s": load,
        "build_s": build,
        "table_and_index_mb": size_mb,
        "p50_ms": p50,
        "p99_ms": p99,
        "recall@10": recall(tops, exact),
    }


def main() -> int:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--pg-sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="sizes 10k 100k, pgvector 10k")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else args.sizes

    embedder = get_embedder()
    texts = [d.text for d in catalogue_docs()]
    embedder.embed(texts[:8])  # warm up
    start = time.perf_counter()
    base = embedder.embed(texts)
    throughput = len(texts) / (time.perf_counter() - start)
    single = []
    for text in texts[:50]:
        t = time.perf_counter()
        embedder.embed([text[:60]])
        single.append((time.perf_counter() - t) * 1000)
    report: dict = {
        "embedding": {
            "texts_per_s_batched": throughput,
            "single_query_ms_p50_p99": percentiles(single),
        },
        "faiss": {},
        "pgvector": {},
    }
    queries = synthetic(base, args.queries, seed=1)
    dev = [
        json.loads(line)["query"]
        for line in (ROOT / "bench" / "data" / "search_dev.jsonl").read_text().splitlines()
    ]

    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            vectors = synthetic(base, n, seed=0)
            flat, exact, flat_index = faiss_run(vectors, queries, hnsw=False)
            del flat_index
            hnsw, approx, hnsw_index = faiss_run(vectors, queries, hnsw=True)
            hnsw["recall@10"] = recall(approx, exact)
            row = {"exact": flat, "hnsw": hnsw}
            if n == 100_000:
                ms = []
                for i in range(args.queries):
                    t = time.perf_counter()
                    hnsw_index.search(embedder.embed([f"{dev[i % len(dev)]} {i}"])[0], K)
                    ms.append((time.perf_counter() - t) * 1000)
                row["end_to_end_hnsw_p50_p99_ms"] = percentiles(ms)
            report["faiss"][n] = row
            print(f"{n}: {json.dumps(row)}", flush=True)
            del hnsw_index
            if n in args.pg_sizes:
                report["pgvector"][n] = pgvector_run(vectors, queries, exact, Path(tmp))
                print(f"pgvector {n}: {json.dumps(report['pgvector'][n])}", flush=True)

    emb = report["embedding"]
    print(
        f"\nembedding: {emb['texts_per_s_batched']:.0f} catalogue texts/s batched; one short "
        f"query p50/p99 {emb['single_query_ms_p50_p99'][0]:.1f}/"
        f"{emb['single_query_ms_p50_p99'][1]:.1f} ms\n"
    )
    print("| n | index | build s | memory MiB | p50 ms | p99 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|")
    for n, row in report["faiss"].items():
        for kind in ("exact", "hnsw"):
            r = row[kind]
            rec = f"{r['recall@10']:.3f}" if "recall@10" in r else "1 (reference)"
            print(
                f"| {n:,} | FAISS {kind} | {r['build_s']:.1f} | {r['memory_mb']:.0f} | "
                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {rec} |"
            )
        if n in report["pgvector"]:
            r = report["pgvector"][n]
            print(
                f"| {n:,} | pgvector hnsw | {r['build_s']:.1f} (+{r['load_s']:.1f} load) | "
                f"{r['table_and_index_mb']:.0f} (disk) | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['recall@10']:.3f} |"
            )
    if 100_000 in report["faiss"]:
        p50, p99 = report["faiss"][100_000]["end_to_end_hnsw_p50_p99_ms"]
        print(f"\nend to end (embed + HNSW search) at 100k: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_scale.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
