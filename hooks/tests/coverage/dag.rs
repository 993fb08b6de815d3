//! Random commit DAGs in real repositories, and git's own answer for what a push adds. Shared
//! by the hook's coverage test and the `scan --git` / service oracle in `tests/scan`.
#![allow(dead_code)] // each includer uses its part

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn git(
    git_dir: &Path,
    env: &[(&str, &Path)],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Res<String> {
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    if let Some(input) = stdin {
        child.stdin.take().ok_or("stdin")?.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

pub const PATHS: [&str; 9] =
    ["a", "b.txt", "d/a", "d/b", "d/e/a", "d/e/f/g", "x/y/z/deep/file", "s p a c e", "link"];
pub const CONTENTS: [&str; 7] = ["alpha\n", "beta\n", "gamma\n", "delta\n", "eps\n", "", "a/b\n"];

/// One commit: parents (indices of earlier commits), files (path, content, kind), time.
#[derive(Clone, Debug)]
pub struct CommitSpec {
    pub parents: Vec<usize>,
    pub files: Vec<(usize, usize, u8)>,
    pub time: u64,
}

/// Existing history (some of it on refs, some dangling) and the new commits of a push.
#[derive(Clone, Debug)]
pub struct Dag {
    pub commits: Vec<CommitSpec>,
    /// How many leading commits exist before the push.
    pub existing: usize,
    /// Existing commits that keep a ref.
    pub refs: Vec<usize>,
    /// Commits the push names as tips (new or existing, reachable or not).
    pub tips: Vec<usize>,
    /// An annotated tag on this tip, pushed too.
    pub tag: Option<usize>,
}

/// Proptest settings: `PROPTEST_CASES` or `default` cases, and no regression files written
/// into the source tree.
pub fn config(default: u32) -> ProptestConfig {
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

impl Dag {
    /// Whether some commit is older than one of its parents (clock skew).
    pub fn skewed(&self) -> bool {
        self.commits.iter().any(|c| c.parents.iter().any(|&p| self.commits[p].time > c.time))
    }

    /// Some commit has the same time as one of its parents.
    pub fn tied(&self) -> bool {
        self.commits.iter().any(|c| c.parents.iter().any(|&p| self.commits[p].time == c.time))
    }
}

pub fn dag() -> impl Strategy<Value = Dag> {
    (1usize..5, 1usize..8).prop_flat_map(|(existing, new)| {
        let total = existing + new;
        let commit = (
            prop::collection::vec(any::<u16>(), 0..3),
            prop::collection::vec((0..PATHS.len(), 0..CONTENTS.len(), 0u8..12), 0..7),
            0u64..4,
        );
        (
            prop::collection::vec(commit, total),
            prop::collection::vec(any::<u16>(), 0..3),
            prop::collection::vec(any::<u16>(), 1..4),
            prop::option::of(any::<u16>()),
        )
            .prop_map(move |(specs, refs, tips, tag)| {
                let commits = specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (parents, files, time))| {
                        let mut parents: Vec<usize> = if i == 0 {
                            vec![]
                        } else {
                            parents.iter().map(|p| *p as usize % i).collect()
                        };
                        parents.dedup();
                        // Existing commits only have existing parents.
                        CommitSpec { parents, files, time: 1_700_000_000 + time * 1000 }
                    })
                    .collect();
                let refs = refs.iter().map(|r| *r as usize % existing).collect();
                // Mostly new tips; sometimes an existing (maybe dangling) commit.
                let tips: Vec<usize> = tips
                    .iter()
                    .map(|t| {
                        if t % 5 == 0 {
                            *t as usize % existing
                        } else {
                            existing + *t as usize % new
                        }
                    })
                    .collect();
                let tag = tag.map(|t| tips[t as usize % tips.len()]);
                Dag { commits, existing, refs, tips, tag }
            })
    })
}

/// A `git fast-import` stream for commits `range`, each on its own ref `refs/heads/c<i>`.
pub fn stream(dag: &Dag, range: std::ops::Range<usize>, ids: &BTreeMap<usize, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in range {
        let c = &dag.commits[i];
        let _ = writeln!(out, "commit refs/heads/c{i}\nmark :{}", i + 1);
        let _ = writeln!(out, "committer C <c@example.invalid> {} +0000", c.time);
        let _ = writeln!(out, "data 3\nc{:<1}", i % 10);
        for (n, p) in c.parents.iter().enumerate() {
            let target = ids.get(p).cloned().unwrap_or_else(|| format!(":{}", p + 1));
            let _ = writeln!(out, "{} {target}", if n == 0 { "from" } else { "merge" });
        }
        let _ = writeln!(out, "deleteall");
        let mut files = BTreeMap::new();
        for &(path, content, kind) in &c.files {
            files.insert(path, (content, kind));
        }
        for (path, (content, kind)) in files {
            let path = PATHS[path];
            let data = CONTENTS[content];
            match kind {
                0 | 1 => {
                    let _ =
                        writeln!(out, "M 120000 inline \"{path}\"\ndata {}\n{data}", data.len());
                }
                2 => {
                    let _ = writeln!(out, "M 160000 {} \"{path}\"", "5".repeat(40));
                }
                3 => {
                    let _ =
                        writeln!(out, "M 100755 inline \"{path}\"\ndata {}\n{data}", data.len());
                }
                _ => {
                    let _ =
                        writeln!(out, "M 100644 inline \"{path}\"\ndata {}\n{data}", data.len());
                }
            }
        }
        out.push(b'\n');
    }
    out
}

pub struct Built {
    pub _dir: tempfile::TempDir,
    /// The receiving repository, with the existing refs.
    pub main: PathBuf,
    /// The push's objects (`push.git/objects`, with `main` as alternate).
    pub quarantine: PathBuf,
    /// The pushed tips (commits, and the tag if any).
    pub tips: Vec<String>,
    /// The existing refs' commits.
    pub refs: Vec<String>,
}

pub fn marks(git_dir: &Path) -> Res<BTreeMap<usize, String>> {
    let text = std::fs::read_to_string(git_dir.join("marks"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (mark, id) = l.split_once(' ')?;
            Some((mark.trim_start_matches(':').parse::<usize>().ok()? - 1, id.to_owned()))
        })
        .collect())
}

/// The main repository with the existing commits (refs on `dag.refs` only), and the push's
/// objects in a quarantine: a second object directory with the main one as alternate.
pub fn build(dag: &Dag) -> Res<Built> {
    let dir = tempfile::tempdir()?;
    let main = dir.path().join("main.git");
    let push = dir.path().join("push.git");
    for repo in [&main, &push] {
        git(repo, &[], &["init", "-q", "--bare"], None)?;
    }
    let marks_file = main.join("marks");
    let marks_arg = format!("--export-marks={}", marks_file.display());
    git(
        &main,
        &[],
        &["fast-import", "--quiet", &marks_arg],
        Some(&stream(dag, 0..dag.existing, &BTreeMap::new())),
    )?;
    let existing = marks(&main)?;
    let keep: BTreeSet<usize> = dag.refs.iter().copied().collect();
    for i in 0..dag.existing {
        if !keep.contains(&i) {
            git(&main, &[], &["update-ref", "-d", &format!("refs/heads/c{i}")], None)?;
        }
    }
    let main_objects = main.join("objects").canonicalize()?;
    std::fs::write(push.join("objects/info/alternates"), format!("{}\n", main_objects.display()))?;
    let marks_arg = format!("--export-marks={}", push.join("marks").display());
    git(
        &push,
        &[],
        &["fast-import", "--quiet", &marks_arg],
        Some(&stream(dag, dag.existing..dag.commits.len(), &existing)),
    )?;
    let mut ids = existing;
    ids.extend(marks(&push)?);
    let mut tips: Vec<String> = dag.tips.iter().map(|t| ids[t].clone()).collect();
    if let Some(t) = dag.tag {
        let target = &ids[&t];
        let tag = format!("object {target}\ntype commit\ntag v{t}\ntagger T <t@example.invalid> 1700000000 +0000\n\nrelease\n");
        let id =
            git(&push, &[], &["hash-object", "-t", "tag", "-w", "--stdin"], Some(tag.as_bytes()))?;
        tips.push(id.trim().to_owned());
    }
    let mut refs: Vec<String> = keep.iter().map(|r| ids[r].clone()).collect();
    refs.dedup();
    Ok(Built { quarantine: push.join("objects"), main, tips, refs, _dir: dir })
}

/// What git lists, in the quarantine environment: the blobs of `rev-list --objects`.
pub fn oracle(b: &Built) -> Res<BTreeSet<String>> {
    let mut args: Vec<&str> = b.tips.iter().map(String::as_str).collect();
    args.extend(["--not", "--all"]);
    rev_list_blobs(b, &args)
}

/// The blobs `git rev-list --objects ARGS` lists in the quarantine environment.
pub fn rev_list_blobs(b: &Built, revs: &[&str]) -> Res<BTreeSet<String>> {
    let env: [(&str, &Path); 2] = [
        ("GIT_OBJECT_DIRECTORY", &b.quarantine),
        ("GIT_ALTERNATE_OBJECT_DIRECTORIES", &b.main.join("objects")),
    ];
    let mut args = vec!["rev-list", "--objects"];
    args.extend(revs);
    let listed = git(&b.main, &env, &args, None)?;
    let ids: String =
        listed.lines().filter_map(|l| l.split(' ').next()).map(|id| format!("{id}\n")).collect();
    let types = git(
        &b.main,
        &env,
        &["cat-file", "--batch-check=%(objecttype) %(objectname)"],
        Some(ids.as_bytes()),
    )?;
    Ok(types.lines().filter_map(|l| l.strip_prefix("blob ")).map(str::to_owned).collect())
}
