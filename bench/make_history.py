#!/usr/bin/env python3
"""Builds a git repository with a long history of real source code, for hook benchmarks.

The history replays crate sources from the local cargo registry: each commit adds or
rewrites a handful of files (real Rust/C/Markdown text), so the repository grows the way a
project does. `git fast-import` writes it in seconds.

usage: bench/make_history.py OUT_DIR [--commits N] [--files-per-commit K]
"""
import argparse
import os
import random
import subprocess
from pathlib import Path


def sources(limit_bytes: int):
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    files = []
    total = 0
    for src in sorted((cargo_home / "registry" / "src").glob("*")):
        for f in sorted(src.rglob("*")):
            if f.is_file() and f.suffix in {".rs", ".md", ".toml", ".c", ".h", ".txt", ".json", ".yml"}:
                size = f.stat().st_size
                if 0 < size < 200_000:
                    files.append(f)
                    total += size
                    if total > limit_bytes:
                        return files
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--files-per-commit", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(42)
    files = sources(120_000_000)
    out = Path(args.out)
    subprocess.run(["git", "init", "-q", "-b", "main", str(out)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=out, stdin=subprocess.PIPE)
    w = proc.stdin
    paths = []
    t = 1_600_000_000
    for n in range(1, args.commits + 1):
        t += rng.randint(60, 7200)
        msg = f"commit {n}".encode()
        w.write(b"commit refs/heads/main\n")
        w.write(f"mark :{n}\ncommitter Dev <dev@example.invalid> {t} +0000\n".encode())
        w.write(f"data {len(msg)}\n".encode() + msg + b"\n")
        if n > 1:
            w.write(f"from :{n - 1}\n".encode())
        for _ in range(args.files_per_commit):
            src = files[rng.randrange(len(files))]
            if paths and rng.random() < 0.6:
                path = paths[rng.randrange(len(paths))]
            else:
                path = f"{src.parent.parent.name}/{src.parent.name}/{src.name}"
                paths.append(path)
            data = src.read_bytes()
            w.write(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            w.write(data + b"\n")
    w.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(out), "checkout", "-q", "main"], check=True)
    subprocess.run(["git", "-C", str(out), "gc", "-q"], check=False)
    print(f"{out}: {args.commits} commits, {len(paths)} paths")


if __name__ == "__main__":
    main()
