#!/usr/bin/env python3
"""Times the pre-receive hook as git runs it: the whole `leakgate pre-receive` process.

(a) typical pushes (1 commit, 10 changed files, ~100 KB) into a repository with thousands of
    commits; (b) the initial push of that repository's entire history into an empty one.
The hook is wrapped in a bash script that records its wall time with $EPOCHREALTIME (no
extra process). Medians are printed. One more initial push runs the hook under GNU time
(/usr/bin/time) for its peak RSS.

usage: bench/hook.py [--history DIR] [--pushes N] [--leakgate PATH] [--config KEY=VALUE ...]

--config sets git configuration on the receiving repository of the typical pushes (a), e.g.
`--config leakgate.database=sqlite:///tmp/leakgate.db` to time the hook with a database.

--history is any local repository with a work tree (bench/make_history.py makes a synthetic
one; `git clone /path/to/rust-lang/cargo` gives a real one): its HEAD is what is pushed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRAPPER = """#!/bin/bash
start=$EPOCHREALTIME
{leakgate} pre-receive
rc=$?
end=$EPOCHREALTIME
echo "${{start/./}} ${{end/./}}" >> {times}
exit $rc
"""

# A separate push for the hook's peak RSS, so that the timed pushes run without GNU time.
RSS_WRAPPER = """#!/bin/bash
exec /usr/bin/time -f %M -o {rss} {leakgate} pre-receive
"""


def git(*args, cwd=None, env=None):
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def install(bare: Path, leakgate: str, times: Path, timeout_ms: int):
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(WRAPPER.format(leakgate=leakgate, times=times))
    hook.chmod(0o755)
    git("config", "leakgate.timeoutMs", str(timeout_ms), cwd=bare)


def read_times(times: Path):
    out = []
    for line in times.read_text().split("\n"):
        if line.strip():
            a, b = line.split()
            out.append((int(b) - int(a)) / 1000.0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", default=str(ROOT / "bench" / "out" / "history"))
    ap.add_argument("--pushes", type=int, default=15)
    ap.add_argument("--leakgate", default=str(ROOT / "target" / "release" / "leakgate"))
    ap.add_argument("--typical-only", action="store_true", help="skip the initial pushes (b)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                    help="git configuration of the receiving repository of (a)")
    args = ap.parse_args()
    history = Path(args.history)
    if not history.exists():
        subprocess.run([str(ROOT / "bench" / "make_history.py"), str(history)], check=True)
    commits = git("rev-list", "--count", "HEAD", cwd=history).strip()
    env = dict(os.environ, LEAKGATE_DATA_DIR=tempfile.mkdtemp(prefix="leakgate-bench-"),
               GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="dev@example.invalid",
               GIT_COMMITTER_NAME="Dev", GIT_COMMITTER_EMAIL="dev@example.invalid")
    # Ordinary code without secrets: the history's own files of 10-20 KB.
    sources = sorted(p for p in history.rglob("*.rs") if ".git" not in p.parts and 10_000 < p.stat().st_size < 20_000)[:200]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # (a) typical pushes into a repository with the whole history.
        bare = tmp / "server.git"
        git("clone", "-q", "--bare", str(history), str(bare))
        times = tmp / "times-a.txt"
        install(bare, args.leakgate, times, 4000)
        for setting in args.config:
            key, _, value = setting.partition("=")
            git("config", key, value, cwd=bare)
        work = tmp / "work"
        git("clone", "-q", str(bare), str(work))
        for i in range(args.pushes):
            for k in range(10):
                src = sources[(i * 10 + k) % len(sources)].read_text()
                (work / "bench" / f"f{k}.rs").parent.mkdir(parents=True, exist_ok=True)
                (work / "bench" / f"f{k}.rs").write_text(f"// push {i}\n" + src[:10_000])
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", f"push {i}", cwd=work, env=env)
            git("push", "-q", "origin", "HEAD:main", cwd=work, env=env)
        a = read_times(times)
        print(f"(a) typical push (1 commit, 10 files, ~100 KB) into {commits} commits: "
              f"median {statistics.median(a):.1f} ms, min {min(a):.1f} ms over {len(a)} pushes")
        # (b) the whole history into an empty repository, with the budget lifted to see the
        # full duration, then with the default 4 s budget.
        for budget in () if args.typical_only else (600_000, 4000):
            empty = tmp / f"empty-{budget}.git"
            git("init", "-q", "--bare", "-b", "main", str(empty))
            times_b = tmp / f"times-b-{budget}.txt"
            install(empty, args.leakgate, times_b, budget)
            proc = subprocess.run(["git", "push", "-q", str(empty), "HEAD:main"], cwd=history,
                                  env=env, capture_output=True, text=True)
            b = read_times(times_b)
            # A push not scanned in full is rejected (or, with leakgate.acceptIncomplete,
            # accepted and recorded as unscanned).
            audit = empty / "leakgate" / "audit.jsonl"
            complete = not (audit.exists() and "unscanned" in audit.read_text()) \
                and "could not be scanned in full" not in proc.stderr
            print(f"(b) initial push of {commits} commits, budget {budget} ms: hook {b[0]:.0f} ms, "
                  f"{'complete' if complete else 'budget exhausted (rejected)'}, push exit {proc.returncode}")
            if budget > 4000:
                # The same history scanned by `leakgate scan --git` (HEAD), right after.
                start = time.perf_counter()
                subprocess.run([args.leakgate, "scan", "--git", str(history), "-f", "jsonl"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                scan = (time.perf_counter() - start) * 1000
                print(f"    scan --git of the same history: {scan:.0f} ms; hook / scan = {b[0] / scan:.2f}")
        if not args.typical_only and Path("/usr/bin/time").exists():
            empty = tmp / "empty-rss.git"
            git("init", "-q", "--bare", "-b", "main", str(empty))
            rss = tmp / "rss.txt"
            hook = empty / "hooks" / "pre-receive"
            hook.write_text(RSS_WRAPPER.format(leakgate=args.leakgate, rss=rss))
            hook.chmod(0o755)
            git("config", "leakgate.timeoutMs", "600000", cwd=empty)
            subprocess.run(["git", "push", "-q", str(empty), "HEAD:main"], cwd=history, env=env,
                           capture_output=True, text=True)
            kb = int(rss.read_text().split()[-1])
            print(f"(b) initial push of {commits} commits: hook peak RSS {kb / 1024:.0f} MB "
                  "(GNU time, a push of its own)")


if __name__ == "__main__":
    main()
