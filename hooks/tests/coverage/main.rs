//! The walk's coverage checked against git itself: the blobs [`new_objects`] hands out must be
//! exactly those `git rev-list --objects <tips> --not --all` lists, run in the same
//! quarantine environment a pre-receive hook sees, whatever the commit order, timestamps,
//! merges, shared trees, renames, symlinks, submodules and deletions. Random DAGs (proptest)
//! plus the fixed DAG of issue 12, item 1.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::ObjectId;
use leakgate_hooks::{all_ref_tips, new_objects, NewObject, Objects};
use proptest::prelude::*;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn git(git_dir: &Path, env: &[(&str, &Path)], args: &[&str], stdin: Option<&[u8]>) -> Res<String> {
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

const PATHS: [&str; 9] =
    ["a", "b.txt", "d/a", "d/b", "d/e/a", "d/e/f/g", "x/y/z/deep/file", "s p a c e", "link"];
const CONTENTS: [&str; 7] = ["alpha\n", "beta\n", "gamma\n", "delta\n", "eps\n", "", "a/b\n"];

/// One commit: parents (indices of earlier commits), files (path, content, kind), time.
#[derive(Clone, Debug)]
struct CommitSpec {
    parents: Vec<usize>,
    files: Vec<(usize, usize, u8)>,
    time: u64,
}

/// Existing history (some of it on refs, some dangling) and the new commits of a push.
#[derive(Clone, Debug)]
struct Dag {
    commits: Vec<CommitSpec>,
    /// How many leading commits exist before the push.
    existing: usize,
    /// Existing commits that keep a ref.
    refs: Vec<usize>,
    /// Commits the push names as tips (new or existing, reachable or not).
    tips: Vec<usize>,
    /// An annotated tag on this tip, pushed too.
    tag: Option<usize>,
}

fn dag() -> impl Strategy<Value = Dag> {
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
fn stream(dag: &Dag, range: std::ops::Range<usize>, ids: &BTreeMap<usize, String>) -> Vec<u8> {
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

struct Built {
    _dir: tempfile::TempDir,
    main: PathBuf,
    quarantine: PathBuf,
    tips: Vec<String>,
}

fn marks(git_dir: &Path) -> Res<BTreeMap<usize, String>> {
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
fn build(dag: &Dag) -> Res<Built> {
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
    Ok(Built { quarantine: push.join("objects"), main, tips, _dir: dir })
}

/// What git lists, in the quarantine environment: the blobs of `rev-list --objects`.
fn oracle(b: &Built) -> Res<BTreeSet<String>> {
    let env: [(&str, &Path); 2] = [
        ("GIT_OBJECT_DIRECTORY", &b.quarantine),
        ("GIT_ALTERNATE_OBJECT_DIRECTORIES", &b.main.join("objects")),
    ];
    let mut args = vec!["rev-list", "--objects"];
    args.extend(b.tips.iter().map(String::as_str));
    args.extend(["--not", "--all"]);
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

/// What leakgate's walk hands out, with the quarantine (the hook) or without (the service and
/// `scan --git`, where every object is in one store).
fn ours(b: &Built, quarantine: bool) -> Res<BTreeSet<String>> {
    let main = gix::open(&b.main)?;
    let hidden = all_ref_tips(&main)?;
    let objects = if quarantine {
        Objects::new(&main, Some(&b.quarantine))?
    } else {
        let push = gix::open(b.quarantine.parent().ok_or("no parent")?)?;
        Objects::new(&push, None)?
    };
    let tips: Vec<ObjectId> =
        b.tips.iter().map(|t| ObjectId::from_hex(t.as_bytes())).collect::<Result<_, _>>()?;
    let mut blobs = BTreeSet::new();
    new_objects(&objects, &tips, &hidden, &|| false, &mut |o| {
        if let NewObject::Blob(blob) = o {
            assert!(blobs.insert(blob.id.to_string()), "blob {} handed out twice", blob.id);
        }
    })?;
    Ok(blobs)
}

fn check(dag: &Dag) -> Res<()> {
    let built = build(dag)?;
    let expected = oracle(&built)?;
    for quarantine in [true, false] {
        let got = ours(&built, quarantine)?;
        if got != expected {
            return Err(format!(
                "quarantine={quarantine}: missing {:?}, extra {:?}",
                expected.difference(&got).collect::<Vec<_>>(),
                got.difference(&expected).collect::<Vec<_>>()
            )
            .into());
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn scanned_blobs_are_exactly_what_git_lists(dag in dag()) {
        if let Err(e) = check(&dag) {
            prop_assert!(false, "{e}");
        }
    }
}

/// Issue 12, item 1: `E <- I <- J <- K`, `M = merge(K, J)`, `I: {dir: T1}`, `J: {dir: T2}`,
/// `K: {dir: T1, x}`, `T1 = {a: SECRET, b1}`, `T2 = {a: SECRET, b2}`, committer times
/// J > I > K, M newest. The old walk memoised T1 and skipped SECRET as "the parent's".
#[test]
fn issue_12_commit_order_cannot_hide_a_blob() -> Res<()> {
    let file = |path: usize, content: usize| (path, content, 5u8);
    // E (existing), then I, J, K, M; "d/a" = SECRET stand-in, "d/b" = b1/b2.
    let dag = Dag {
        commits: vec![
            CommitSpec { parents: vec![], files: vec![file(1, 0)], time: 1_700_000_000 },
            CommitSpec {
                parents: vec![0],
                files: vec![file(2, 2), file(3, 3)],
                time: 1_700_002_000,
            },
            CommitSpec {
                parents: vec![1],
                files: vec![file(2, 2), file(3, 4)],
                time: 1_700_003_000,
            },
            CommitSpec {
                parents: vec![2],
                files: vec![file(2, 2), file(3, 3), file(0, 1)],
                time: 1_700_001_000,
            },
            CommitSpec {
                parents: vec![3, 2],
                files: vec![file(2, 2), file(3, 4), file(0, 1)],
                time: 1_700_004_000,
            },
        ],
        existing: 1,
        refs: vec![0],
        tips: vec![4],
        tag: None,
    };
    let built = build(&dag)?;
    let expected = oracle(&built)?;
    let secret = git(&built.main, &[], &["hash-object", "--stdin"], Some(CONTENTS[2].as_bytes()))?;
    assert!(expected.contains(secret.trim()), "git lists the secret's blob");
    check(&dag)
}

/// Issue 12, item 6: a tree thousands of levels deep is walked without recursion: here on a
/// thread with a 128 KiB stack, which the old recursive walk overflowed at a few hundred.
#[test]
fn issue_12_a_very_deep_tree_does_not_overflow_the_stack() -> Res<()> {
    use gix::objs::tree::{Entry, EntryKind};
    let dir = tempfile::tempdir()?;
    git(&dir.path().join("deep.git"), &[], &["init", "-q", "--bare"], None)?;
    let repo = gix::open(dir.path().join("deep.git"))?;
    let blob = repo.write_blob(b"deep secret\n")?.detach();
    let mut id = repo
        .write_object(gix::objs::Tree {
            entries: vec![Entry { mode: EntryKind::Blob.into(), filename: "f".into(), oid: blob }],
        })?
        .detach();
    const DEPTH: usize = 5000;
    for _ in 0..DEPTH {
        id = repo
            .write_object(gix::objs::Tree {
                entries: vec![Entry {
                    mode: EntryKind::Tree.into(),
                    filename: "d".into(),
                    oid: id,
                }],
            })?
            .detach();
    }
    let objects = Objects::new(&repo, None)?;
    let found = std::thread::Builder::new()
        .stack_size(128 << 10)
        .spawn(move || {
            let mut found = Vec::new();
            let walked = new_objects(&objects, &[id], &[], &|| false, &mut |o| {
                if let NewObject::Blob(b) = o {
                    found.push((b.id, b.path.len()));
                }
            });
            walked.map(|_| found).map_err(|e| e.to_string())
        })?
        .join()
        .map_err(|_| "the walk panicked")??;
    assert_eq!(found, vec![(blob, DEPTH * 2 + 1)]);
    Ok(())
}
