"""Compact stored features (issue 16 item 4): full vs codebooks 1, 2 and 3, one run.

Every picture's RootSIFT is extracted once (full, uncompressed; cached under
``benchmarks/_data/compact``) and then stored three ways side by side: ``full`` (the
version-1 blob, every keypoint, uint8 descriptors), ``cb1`` (version 2 with codebook
1: 16 PQ codes, only the strongest 743 keypoints fit in 16 KiB) and ``cb2`` (codebook
2: 8 codes, every keypoint), ``cb3`` (codebook 3: 12 residual codes, the strongest
908 keypoints, ratio test with the codebook's slack; pick forms with ``--forms``).
Each form gets its own vocabulary (trained on its own
distractors' descriptors, as ``scene_store`` trains on what it stores) and index, and
the same queries run against each:

* **scene recall@10** and false positives (``bench_scenes``: every image of the scene
  sets queries the index, itself excluded; ``similar(..., accepted_only=False)``
  order), with the query stored the same way (``tessera similar ID``) and with a full
  query (a file: ``tessera similar FILE``, triage's leads);
* **edited-copy recall per edit class** (``bench_robust``'s known set and queries:
  AugLy outputs of ``dfdc_1``, crop 8 %, rotate 4 deg, mirror, caption, letterbox,
  overlay, JPEG q40, half size of every original, third-party copies) and wrong
  copies (negatives with a copy hit; copy hits on an unrelated image; copy hits on
  another photo of the same place), the three ways a query meets stored features:
  ``verdict`` = triage's copy check (the picture shrunk to 320 px, 300 keypoints,
  uncompressed; retrieval's top 3 verified in rank order, first copy wins:
  ``matching.triage.copies``), ``leads`` = triage's later stage (full features of the
  picture and of its mirror image, shortlist 15: ``bench_robust.triage_similar``),
  ``near`` = either of the two (what triage reports ``near`` from local features;
  PDQ, which runs first, is the same for every form and left out), and ``stored`` =
  the query stored too (``tessera similar ID``, both sides quantised);
* **same-place pairs called copy** (``bench_same_picture``'s pairs of the shared
  scene sets, query full and mirrored vs the stored other picture; target 0);
* **bytes per picture** of the stored blob (mean and largest).

Usage: ``nice python benchmarks/bench_compact.py [--n 2000] [--negatives 50]
[--workers 2] [--forms full,cb1,cb2] [--every 1]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_robust import (
    AUGLY,
    DESTRUCTIVE,
    DFDC1,
    EDITS,
    HARD_NEGATIVES,
    NEG_SEED0,
    NEGATIVE_REAL,
    ORIGINALS,
    PLACE,
    REAL_DISTRACTORS,
    THIRD_PARTY,
    _worker_init,
    query_rgb,
    triage_similar,
)
from bench_same_picture import scene_sets
from bench_scenes import (
    DATA,
    REPO,
    SCENES,
    Corpus,
    build_index,
    busy_picture,
    evaluate,
    load,
    real_distractors,
    train_vocabulary,
)
from tessera.features import LocalFeatures, SceneIndex, codebook
from tessera.features.local import extract, extract_mirrored, rescale
from tessera.features.scene import SceneMatch, match_pair

CACHE = REPO / "benchmarks" / "_data" / "compact"
COPY_MAX_SIDE, COPY_NFEATURES, COPY_SHORTLIST = 320, 300, 3  # triage's copy check
FORMS: dict[str, tuple[int, ...]] = {
    "full": (),
    "cb1": (1,),
    "cb2": (2,),
    "cb3": (3,),
    "cb1>cb2": (1, 2),
    "cb1>cb3": (1, 3),
}
"""Form -> the codebooks a picture's features were coded with, in turn (none: the
uncompressed version-1 blob; ``cb1>cb2``: a codebook-1 blob re-coded with codebook 2,
what a migration of an existing codebook-1 database could do)."""


def _code(f: LocalFeatures, book: int) -> bytes:
    saved = codebook.CURRENT
    codebook.CURRENT = book
    try:
        return f.to_bytes()
    finally:
        codebook.CURRENT = saved


def blob(f: LocalFeatures, books: tuple[int, ...]) -> bytes:
    """``f`` stored with ``books`` in turn (none: uncompressed)."""
    if not books:
        return f.to_bytes_full()
    for book in books[:-1]:
        f = LocalFeatures.from_bytes(_code(f, book))
    return _code(f, books[-1])


def as_form(f: LocalFeatures, books: tuple[int, ...]) -> LocalFeatures:
    return f if not books else LocalFeatures.from_bytes(blob(f, books))


# ---- extraction (full features, cached) ----


def _cpath(key: str, kind: str) -> Path:
    return CACHE / f"{key.replace('/', '__').replace(':', '=')}.{kind}.tslf1"


def _rgb_of(key: str) -> np.ndarray:
    if key.startswith("gen/"):
        return busy_picture(int(key[4:]))
    if key.startswith("q|"):
        _, group, qid = key.split("|", 2)
        return query_rgb(qid, group)
    return load(DATA / key)


def _extract_task(item: tuple[str, tuple[str, ...]]) -> None:
    key, kinds = item
    rgb = _rgb_of(key)
    for kind in kinds:
        if kind == "plain":
            f = extract(rgb)
        elif kind == "mirrored":
            f = extract_mirrored(rgb)
        else:  # triage's copy-check keypoints (pipeline.fingerprint._copy_features)
            small = extract(rgb, max_side=COPY_MAX_SIDE, nfeatures=COPY_NFEATURES)
            f = rescale(small, rgb.shape[1], rgb.shape[0])
        _cpath(key, kind).write_bytes(f.to_bytes_full())


def features(
    items: dict[str, tuple[str, ...]], workers: int
) -> dict[tuple[str, str], LocalFeatures]:
    CACHE.mkdir(parents=True, exist_ok=True)
    todo = [
        (k, kinds) for k, kinds in items.items() if not all(_cpath(k, x).exists() for x in kinds)
    ]
    if todo:
        t = time.perf_counter()
        with Pool(workers, _worker_init) as pool:
            for _ in pool.imap_unordered(_extract_task, todo, chunksize=4):
                pass
        print(f"  extracted {len(todo)} pictures in {time.perf_counter() - t:.0f} s")
    return {
        (k, x): LocalFeatures.from_bytes(_cpath(k, x).read_bytes())
        for k, kinds in items.items()
        for x in kinds
    }


# ---- edited copies ----


@dataclass
class Task:
    qid: str
    group: str
    truth: str | None

    @property
    def key(self) -> str:
        return f"q|{self.group}|{self.qid}"


def copy_tasks(negatives: int) -> list[Task]:
    tasks = [
        Task(f"augly:{p.stem}", "augly", DFDC1)
        for p in sorted((AUGLY / "dfdc_expected_output").glob("test_*.png"))
    ]
    for edit in EDITS:
        tasks += [Task(f"{edit}:{o}", "edit", o) for o in ORIGINALS if o != DFDC1]
    tasks += [Task(f"third-party:{q}", "third-party", o) for q, o in THIRD_PARTY.items()]
    tasks += [Task(f"negative:{q}", "negative", None) for q in NEGATIVE_REAL]
    tasks += [Task(f"busy:{NEG_SEED0 + i}", "busy", None) for i in range(negatives)]
    tasks += [Task(f"hard:{q}", "hard", None) for q in HARD_NEGATIVES]
    return tasks


_STATE: dict[str, object] = {}
Hits = list[tuple[str, str | None]]  # (media id, relation), accepted hits


def _copy_check(q: LocalFeatures, index: SceneIndex, store: dict[str, LocalFeatures]) -> Hits:
    for cand in index.search(q, COPY_SHORTLIST)[:COPY_SHORTLIST]:
        m = match_pair(q, store[cand.media_id], cand.media_id, cand)
        if m.relation == "copy":
            return [(m.media_id, "copy")]
    return []


def _hits(ms: list[SceneMatch]) -> Hits:
    return [(m.media_id, m.relation) for m in ms if m.relation is not None]


def run_copy_query(task: Task) -> dict[str, dict[str, Hits]]:
    """Hits of one query for every form and every mode."""
    feats: dict[tuple[str, str], LocalFeatures] = _STATE["queries"]  # type: ignore[assignment]
    forms: dict[str, tuple[SceneIndex, dict[str, LocalFeatures]]] = _STATE["copy_forms"]  # type: ignore[assignment]
    q, qm, qc = (feats[(task.key, k)] for k in ("plain", "mirrored", "copy"))
    out: dict[str, dict[str, Hits]] = {}
    for form, (index, store) in forms.items():
        book = FORMS[form]
        out[form] = {
            "verdict": _copy_check(qc, index, store),
            "leads": _hits(triage_similar([q, qm], index, store)),
            "stored": _hits(triage_similar([as_form(q, book), as_form(qm, book)], index, store)),
        }
        out[form]["near"] = out[form]["verdict"] + out[form]["leads"]
    return out


@dataclass
class CopyStats:
    n: int = 0
    found: int = 0
    wrong: int = 0  # copy hits on an unrelated image (a negative: any copy hit)
    place: int = 0  # copy hits on another photo of the same place


def copy_stats(tasks: list[Task], hits: list[Hits]) -> CopyStats:
    st = CopyStats(n=len(tasks))
    for t, hs in zip(tasks, hits, strict=True):
        copies = {m for m, rel in hs if rel == "copy"}
        if t.truth is None:
            if t.group == "hard":
                st.place += bool(copies)
            else:
                st.wrong += bool(copies)
            continue
        st.found += t.truth in copies
        for m in copies - {t.truth}:
            if PLACE.get(m, "x") == PLACE.get(t.truth, "y"):
                st.place += 1
            else:
                st.wrong += 1
    return st


def copy_classes(tasks: list[Task]) -> list[tuple[str, Callable[[Task], bool]]]:
    def augly_ok(t: Task) -> bool:
        return t.group == "augly" and t.qid.split(":")[1] not in DESTRUCTIVE

    classes: list[tuple[str, Callable[[Task], bool]]] = [("augly w/o destructive", augly_ok)]
    for edit in EDITS:
        classes.append((edit, lambda t, e=edit: t.group == "edit" and t.qid.startswith(e + ":")))
    classes += [
        ("third-party copies", lambda t: t.group == "third-party"),
        (
            "ALL w/o destructive",
            lambda t: (
                t.truth is not None
                and not (t.group == "augly" and t.qid.split(":")[1] in DESTRUCTIVE)
            ),
        ),
        ("augly destructive", lambda t: t.group == "augly" and not augly_ok(t)),
        ("negatives", lambda t: t.group in ("busy", "negative")),
        ("hard: same place", lambda t: t.group == "hard"),
    ]
    return classes


def run_direct(task: Task) -> dict[str, dict[str, bool]]:
    """One edited copy against its original only, for every form."""
    feats: dict[tuple[str, str], LocalFeatures] = _STATE["queries"]  # type: ignore[assignment]
    originals: dict[str, LocalFeatures] = _STATE["originals"]  # type: ignore[assignment]
    q, qm, qc = (feats[(task.key, k)] for k in ("plain", "mirrored", "copy"))
    out: dict[str, dict[str, bool]] = {}
    for form, book in _STATE["forms"].items():  # type: ignore[attr-defined]
        known = as_form(originals[str(task.truth)], book)
        verdict = match_pair(qc, known, "k").relation == "copy"
        leads = any(match_pair(x, known, "k").relation == "copy" for x in (q, qm))
        out[form] = {"verdict": verdict, "leads": leads, "near": verdict or leads}
    return out


# ---- same-place pairs ----


def place_pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for s in scene_sets():
        for a, b in itertools.permutations(s, 2):
            if len(s) <= 8 or abs(s.index(a) - s.index(b)) <= 2:
                rel = (str(Path(a).relative_to(DATA)), str(Path(b).relative_to(DATA)))
                pairs.append((Path(a).parent.name, *rel))
    return pairs


def run_pair(pair: tuple[str, str, str]) -> dict[str, str | None]:
    feats: dict[tuple[str, str], LocalFeatures] = _STATE["pair_feats"]  # type: ignore[assignment]
    _, a, b = pair
    queries = [feats[(a, "plain")], feats[(a, "mirrored")]]
    out: dict[str, str | None] = {}
    for form, book in _STATE["forms"].items():  # type: ignore[attr-defined]
        known = as_form(feats[(b, "plain")], book)
        best = max((match_pair(q, known, "k") for q in queries), key=lambda m: m.inliers)
        out[form] = best.relation
    return out


# ---- main ----


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="generated distractors indexed")
    ap.add_argument("--negatives", type=int, default=50, help="fresh busy negatives")
    ap.add_argument("--words", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--forms", default="full,cb1,cb2")
    ap.add_argument(
        "--every",
        type=int,
        default=1,
        help="edited-copy queries with retrieval: every k-th only (the direct check runs all)",
    )
    ap.add_argument(
        "--skip", default="", help="parts to skip (comma list): bytes,direct,scenes,copies,pairs"
    )
    args = ap.parse_args()
    forms = {f: FORMS[f] for f in args.forms.split(",")}
    skip = set(args.skip.split(","))
    _STATE["forms"] = forms
    t_all = time.perf_counter()
    print(f"forms: {forms} (codebook.CURRENT = {codebook.CURRENT}); load {os.getloadavg()}")

    gen = [f"gen/{s}" for s in range(args.n)]
    scene_imgs = {str(p.relative_to(DATA)): s for s, ps in SCENES.items() for p in ps}
    reals = [str(p.relative_to(DATA)) for p in real_distractors()]
    tasks = copy_tasks(args.negatives)
    pairs = place_pairs()
    pair_imgs = sorted({x for _, a, b in pairs for x in (a, b)})

    items: dict[str, tuple[str, ...]] = {k: ("plain",) for k in gen}
    for k in [*scene_imgs, *reals, *ORIGINALS, *REAL_DISTRACTORS]:
        items[k] = ("plain",)
    for k in pair_imgs:
        items[k] = ("plain", "mirrored")
    for t in tasks:
        items[t.key] = ("plain", "mirrored", "copy")
    print(f"extracting (cached in {CACHE}): {len(items)} pictures")
    feats = features(items, args.workers)
    print(f"  done, {time.perf_counter() - t_all:.0f} s; load {os.getloadavg()}")

    # ---- bytes per picture ----
    indexed = sorted({*gen, *scene_imgs, *reals, *ORIGINALS, *REAL_DISTRACTORS})
    if "bytes" not in skip:
        print("\nbytes per stored picture (every indexed picture)")
    sizes: dict[str, tuple[float, int, float]] = {}
    for form, book in forms.items():
        if "bytes" in skip:
            continue
        lens = np.array([len(blob(feats[(k, "plain")], book)) for k in indexed])
        kps = np.array([len(as_form(feats[(k, "plain")], book)) for k in indexed[:300]])
        sizes[form] = (float(lens.mean()), int(lens.max()), float(kps.mean()))
        print(
            f"  {form:5} mean {lens.mean():8.0f} B  max {lens.max():7d} B  "
            f"keypoints kept (mean of 300) {kps.mean():6.0f}"
        )

    summary: dict[str, dict[str, str]] = {f: {} for f in forms}
    for form in sizes:
        summary[form]["bytes/picture mean (max)"] = f"{sizes[form][0]:.0f} ({sizes[form][1]})"

    # ---- edited copies verified against their original directly (no retrieval) ----
    if "direct" not in skip:
        direct = [t for t in tasks if t.truth is not None]
        _STATE["queries"] = {k: f for k, f in feats.items() if k[0].startswith("q|")}
        _STATE["originals"] = {k: feats[(k, "plain")] for k in ORIGINALS}
        t = time.perf_counter()
        with Pool(args.workers, _worker_init) as pool:
            got = pool.map(run_direct, direct, chunksize=4)
        print(
            f"\nedited copies verified against their original directly (no retrieval; "
            f"verdict = the 320-px copy-check keypoints, leads = full features and mirror; "
            f"near = either), {time.perf_counter() - t:.0f} s: copies found / n"
        )
        modes = ("verdict", "leads", "near")
        head = " ".join(f"{f + ' ' + m:>14}" for f in forms for m in modes)
        print(f"{'class':22} {'n':>4} {head}")
        for name, pred in copy_classes(direct):
            idx = [i for i, t in enumerate(direct) if pred(t)]
            if not idx:
                continue
            cells = [
                f"{sum(got[i][f][m] for i in idx) / len(idx):.3f}" for f in forms for m in modes
            ]
            print(f"{name:22} {len(idx):4d} " + " ".join(f"{c:>14}" for c in cells))
            if name == "ALL w/o destructive":
                for f in forms:
                    n_near = sum(got[i][f]["near"] for i in idx)
                    summary[f]["copies verified directly: near"] = f"{n_near}/{len(idx)}"
        for f in forms:
            lost = [
                t.qid[:48]
                for t, g in zip(direct, got, strict=True)
                if not g[f]["near"] and t.group != "augly"
            ]
            print(f"  {f} not near (AugLy apart): {', '.join(lost)}")

    # ---- scene recall ----
    if "scenes" not in skip:
        corpus_keys = [*scene_imgs, *reals, *gen]
        scene_of = {k: scene_imgs.get(k, "-") for k in corpus_keys}
        print(f"\nscene retrieval: {len(corpus_keys)} indexed ({args.n} generated), shortlist 30")
        print(
            f"{'form':5} {'R@10 stored q':>13} {'FP':>3} {'R@10 full q':>11} {'FP':>3}  "
            "per scene (stored q)"
        )
        for form, book in forms.items():
            fs = {k: as_form(feats[(k, "plain")], book) for k in corpus_keys}
            vocab = train_vocabulary([f for k, f in fs.items() if scene_of[k] == "-"], args.words)
            index, _ = build_index(vocab, fs, 1)
            ev = evaluate(index, Corpus(fs, scene_of, {}, {}), fs.get, 30)
            full_q = {k: feats[(k, "plain")] for k in corpus_keys}
            ev_f = evaluate(index, Corpus(full_q, scene_of, {}, {}), fs.get, 30)
            per = " ".join(f"{s}={np.mean([r[3] for r in rs]):.2f}" for s, rs in ev.rows.items())
            print(
                f"{form:5} {ev.mean()[3]:13.3f} {ev.fp:3d} {ev_f.mean()[3]:11.3f} "
                f"{ev_f.fp:3d}  {per}"
            )
            summary[form]["scene R@10 (stored q) / FP"] = f"{ev.mean()[3]:.3f} / {ev.fp}"
            summary[form]["scene R@10 (full q) / FP"] = f"{ev_f.mean()[3]:.3f} / {ev_f.fp}"
            del index, fs
        print(f"  load {os.getloadavg()}")

    # ---- edited copies ----
    if "copies" not in skip:
        known = [*ORIGINALS, *REAL_DISTRACTORS, *gen]
        tasks = tasks[:: args.every]
        print(
            f"\nedited copies: {len(known)} indexed ({len(ORIGINALS)} originals, "
            f"{len(REAL_DISTRACTORS)} real distractors, {args.n} generated), {len(tasks)} queries"
        )
        copy_forms = {}
        for form, book in forms.items():
            store = {k: as_form(feats[(k, "plain")], book) for k in known}
            vocab = train_vocabulary([store[k] for k in [*gen, *REAL_DISTRACTORS]], args.words)
            index = SceneIndex(vocab, query_words=1)
            for k, f in store.items():
                index.add(k, f)
            index.search(next(iter(store.values())), 1)
            copy_forms[form] = (index, store)
        _STATE["copy_forms"] = copy_forms
        _STATE["queries"] = {k: f for k, f in feats.items() if k[0].startswith("q|")}
        t = time.perf_counter()
        with Pool(args.workers, _worker_init) as pool:
            results = pool.map(run_copy_query, tasks, chunksize=2)
        print(f"  queries ran in {time.perf_counter() - t:.0f} s; load {os.getloadavg()}")
        modes = ("verdict", "leads", "near", "stored")
        print(
            "recall (found/n) per class; wrong = copy on an unrelated image; place = copy on "
            "another photo of the same place (hard negatives: queries with a copy)"
        )
        head = f"{'class':22} {'n':>4} " + " ".join(
            f"{f + ' ' + m:>16}" for f in forms for m in modes
        )
        print(head)
        for name, pred in copy_classes(tasks):
            idx = [i for i, t in enumerate(tasks) if pred(t)]
            sub = [tasks[i] for i in idx]
            cells = []
            for form in forms:
                for mode in modes:
                    st = copy_stats(sub, [results[i][form][mode] for i in idx])
                    if sub and sub[0].truth is not None:
                        cells.append(f"{st.found / max(1, st.n):.3f} {st.wrong:2d}/{st.place:2d}")
                    else:
                        cells.append(f"{st.wrong:8d}/{st.place:2d}")
                    if name == "ALL w/o destructive":
                        summary[form][f"copy recall {mode} (wrong/place)"] = (
                            f"{st.found / max(1, st.n):.3f} ({st.wrong}/{st.place})"
                        )
                    if name in ("negatives", "hard: same place") and mode == "near":
                        summary[form][f"{name}: copies (near)"] = f"{st.wrong + st.place}"
            print(f"{name:22} {len(sub):4d} " + " ".join(f"{c:>16}" for c in cells))
        missed = {
            form: [
                t.qid
                for t, r in zip(tasks, results, strict=True)
                if t.truth is not None
                and t.truth not in {m for m, rel in r[form]["near"] if rel == "copy"}
                and not (t.group == "augly" and t.qid.split(":")[1] in DESTRUCTIVE)
            ]
            for form in forms
        }
        for form, qs in missed.items():
            print(f"  {form} near misses ({len(qs)}): {', '.join(q[:48] for q in qs)}")
        del copy_forms
        _STATE.pop("copy_forms")

    # ---- same-place pairs ----
    if "pairs" not in skip:
        _STATE["pair_feats"] = {k: f for k, f in feats.items() if k[0] in set(pair_imgs)}
        t = time.perf_counter()
        with Pool(args.workers, _worker_init) as pool:
            rel = pool.map(run_pair, pairs, chunksize=4)
        real = [i for i, p in enumerate(pairs) if p[0] != "iguazu"]
        print(
            f"\nsame-place pairs (query full + mirrored vs stored): {len(real)} pairs "
            f"(Iguazu noise ladder apart), {time.perf_counter() - t:.0f} s"
        )
        for form in forms:
            ver = sum(rel[i][form] is not None for i in real)
            cp = [pairs[i] for i in real if rel[i][form] == "copy"]
            print(f"  {form:5} verified {ver:4d}  called copy {len(cp):3d}  {cp[:5]}")
            summary[form]["same-place pairs called copy (verified)"] = f"{len(cp)} ({ver})"

    print(f"\nsummary (load {os.getloadavg()}; total {time.perf_counter() - t_all:.0f} s)")
    rows = list(dict.fromkeys(k for f in forms for k in summary[f]))
    print(f"{'':42} " + " ".join(f"{f:>22}" for f in forms))
    for r in rows:
        print(f"{r:42} " + " ".join(f"{summary[f].get(r, '-'):>22}" for f in forms))


if __name__ == "__main__":
    main()
