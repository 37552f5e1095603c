"""Search on PostgreSQL against the Whoosh index: the same synthetic archive and queries as bench/search.py.

    .venv/bin/python -m bench.search_pg --hours 6            # about 4,400 segments: a minute on 2 cores
    .venv/bin/python -m bench.search_pg --hours 6 --url postgresql://xunlu:PASSWORD@db-host/xunlu_bench

Builds bench/search.py's archive (`--hours`, `--seed`) into a Whoosh index (SearchIndex.rebuild, `--procs`
writers) and into PostgreSQL (`XUNLU_SEARCH=postgresql`: a throwaway server from Debian's `postgresql`, started
as the tests start it, or the empty database at `--url`, whose search tables are replaced), each build starting
with the analysis caches emptied. Then runs bench/search.py's queries (one-word, two-word, phrase, filtered,
planted, one-char, pinyin; limit 20) on both in this process, one cold run and `--repeat` warm runs each, and
prints per kind the warm p50/p95/max in ms, and how many queries gave the same hits (as sets, and in order) on
PostgreSQL as on Whoosh (`--procs 1` numbers Whoosh's documents in the order PostgreSQL does, so that hits
of equal score come in the same order too). `--only NAME` builds and queries one backend. The last line is
every figure as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from bench.common import make_log, require_speech
from bench.search import KINDS, Corpus, Xunlu, make_queries, measure, sentences
from index.manager import SEARCH_ENV, SearchIndex

log = make_log("search_pg")


def empty_caches() -> None:
    """The analysis caches that a first build fills (so that the second build does not start warm)."""
    from index import search_index, sounds

    for f in (search_index._found, search_index._words_of, search_index._syllables_of, sounds.char_readings,
              sounds._word_of_characters, sounds._in_dictionary):
        f.cache_clear()


def build(index: SearchIndex, corpus: Corpus, procs: int) -> dict[str, Any]:
    empty_caches()
    started = time.perf_counter()
    count = index.rebuild(corpus.iterate(), corpus.sessions, procs=procs)
    seconds = time.perf_counter() - started
    return {"segments": count, "seconds": round(seconds, 1)}


def postgres_index(home: Path, url: str) -> SearchIndex:
    saved = {k: os.environ.get(k) for k in ("XUNLU_DATABASE_URL", SEARCH_ENV)}
    os.environ.update({"XUNLU_DATABASE_URL": url, SEARCH_ENV: "postgresql"})
    try:
        return SearchIndex(home)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=6.0, help="recorded hours in the synthetic archive")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--repeat", type=int, default=5, help="warm runs of each query after the cold one")
    ap.add_argument("--procs", type=int, default=2, help="Whoosh rebuild processes")
    ap.add_argument("--url", default=None, help="a PostgreSQL database to use (default: a throwaway server)")
    ap.add_argument("--only", choices=("postgresql", "whoosh"), default=None,
                    help="build and query one backend only (no comparison)")
    args = ap.parse_args(argv)
    require_speech(ap)
    server = None
    work = Path(tempfile.mkdtemp(prefix="xunlu-searchpg-"))
    try:
        url = args.url
        if url is None:
            from tests.helpers.postgres import Server

            server = Server().start()
            url = server.new_database()
        corpus = Corpus(args.hours, args.seed, sentences())
        indexes = {"whoosh": SearchIndex(work / "home"), "postgresql": postgres_index(work / "home", url)}
        names = [args.only] if args.only else ["postgresql", "whoosh"]
        builds = {}
        for name in names:
            log(f"{args.hours:g} h: {corpus.sessions} sessions; building {name}")
            builds[name] = build(indexes[name], corpus, args.procs)
        segments = builds[names[0]]["segments"]
        queries = make_queries(corpus, args.seed)
        log(f"{segments} segments; {len(queries)} queries")
        runs = {}
        for name in ("whoosh", "postgresql"):
            if name in names:
                system = Xunlu.__new__(Xunlu)
                system.index, system.label = indexes[name], name
                runs[name] = measure(system, queries, args.repeat)
        print(f"{segments} segments ({corpus.sessions} sessions, {args.hours:g} h); build: "
              + ", ".join(f"{name} {b['seconds']} s" for name, b in builds.items())
              + f" (Whoosh: {args.procs} writers, PostgreSQL: one process)")
        print(f"{'kind':<10}{'n':>4}" + "".join(f" | {name + ' p50':>14}{'p95':>8}{'max':>8}" for name in runs)
              + "  (warm, ms)")
        for kind in KINDS:
            if all(kind in r for r in runs.values()):
                first = next(iter(runs.values()))[kind]
                print(f"{kind:<10}{first['queries']:>4}" + "".join(
                    f" | {r[kind]['p50_ms']:>14.1f}{r[kind]['p95_ms']:>8.1f}{r[kind]['max_ms']:>8.1f}"
                    for r in runs.values()))
        same_set = same_order = None
        if len(runs) == 2:
            pairs = [(runs["whoosh"]["_results"][n], runs["postgresql"]["_results"][n]) for n in range(len(queries))]
            same_set = sum(1 for a, b in pairs if set(a) == set(b))
            same_order = sum(1 for a, b in pairs if a == b)
            print(f"same hits as Whoosh: {same_set}/{len(queries)} queries (in the same order: {same_order}; "
                  "with several Whoosh writers, hits of equal score may differ)")
        for r in runs.values():
            r.pop("_results")
        print(json.dumps({"hours": args.hours, "seed": args.seed, "builds": builds, "runs": runs,
                          "same_hits": same_set, "same_order": same_order, "queries": len(queries)}))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
