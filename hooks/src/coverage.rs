//! What a push (or a range of history) adds: decided from the object graph, not the walk order.
//!
//! The blobs to scan are exactly those that `git rev-list --objects <tips> --not <hidden>`
//! lists: reachable from the trees of the new commits (and from tags that name trees or blobs
//! directly), minus everything reachable from the trees of the *edge* commits (the parents of
//! new commits that are not new themselves) and from hidden tips that are trees or blobs.
//! Which commit and path a blob is reported with is a separate question, answered by the
//! order of the walk (parents before children), and it never decides whether a blob is
//! scanned.
//!
//! Two shortcuts keep a typical push cheap without changing that set: an entry whose id equals
//! an edge parent's entry at the same path is excluded without more work, and, with a
//! quarantine, an object that the repository's own store does not have cannot be reachable
//! from an edge. Only an object that neither shortcut decides (a revert, a rename, a commit
//! made reachable again) makes the edges' trees be walked, once, in full.

use std::collections::{HashMap, HashSet};

use gix::objs::{Exists, Find, FindHeader};
use gix::ObjectId;

use crate::objects::Objects;
use crate::tree::{self, EntryKind};
use crate::walk::HistoryError;

/// A blob to scan, with where it is first seen.
#[derive(Clone, Debug)]
pub struct NewBlob {
    /// The blob.
    pub id: ObjectId,
    /// Its path in the first commit (parents before children) whose tree reaches it.
    pub path: Vec<u8>,
    /// That commit, or the tag that names the tree or blob directly.
    pub commit: ObjectId,
    /// The first parent's version of the file: a secret already in it is not new.
    pub parent_blob: ParentBlob,
}

/// The first parent's version of a new blob's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentBlob {
    /// No first parent, or no blob at that path in it.
    None,
    /// The first parent's blob at the same path.
    Blob(ObjectId),
    /// The first parent commit, whose trees the walk did not read: a walk with nothing
    /// hidden (a whole history, an initial push) reads the parents' trees for nothing else,
    /// so the blob at the path is looked up only for blobs with findings.
    In(ObjectId),
}

impl ParentBlob {
    /// The first parent's blob at `path`, read along the path from the parent commit's root
    /// tree if the walk did not look it up.
    pub fn resolve(self, objects: &Objects, path: &[u8]) -> Option<ObjectId> {
        match self {
            ParentBlob::None => None,
            ParentBlob::Blob(id) => Some(id),
            ParentBlob::In(commit) => blob_at(objects, commit, path),
        }
    }
}

/// The entry at `path` (names joined by `/`) in `commit`'s tree, if it is not a tree.
fn blob_at(objects: &Objects, commit: ObjectId, path: &[u8]) -> Option<ObjectId> {
    let hash = objects.hash_kind();
    let mut buf = Vec::new();
    let mut tree = tree::commit_tree(read_commit(objects, commit, &mut buf).ok()?, hash).ok()?;
    let mut names = path.split(|&b| b == b'/').peekable();
    while let Some(name) = names.next() {
        let data = read(objects, tree, &mut buf).ok()?;
        if data.kind != gix::objs::Kind::Tree {
            return None;
        }
        let list = tree::entries(data.data, hash).ok()?;
        let last = names.peek().is_none();
        let entry = tree::find(&list, tree::is_sorted(&list), name, !last)?;
        if last {
            return Some(entry.oid());
        }
        tree = entry.oid();
    }
    None
}

/// One unit of work the walk hands to the scanners.
#[derive(Clone, Debug)]
pub enum NewObject {
    /// A blob (file content or a symlink's target).
    Blob(NewBlob),
    /// A new commit (its message is scanned).
    Commit(ObjectId),
    /// A new annotated tag (its message is scanned).
    Tag(ObjectId),
}

/// The outcome of [`new_objects`].
#[derive(Debug, Default)]
pub struct Walked {
    /// The new commits, parents before children.
    pub commits: Vec<ObjectId>,
    /// Whether `stop` ended the walk early.
    pub stopped: bool,
    /// With `names`: the distinct names of the entries of new trees that could hold a key
    /// (of [`Names::SHORTEST`] bytes or more), one per line, by the commit whose walk met
    /// them first.
    pub names: Vec<(ObjectId, Vec<u8>)>,
    /// Blobs the walk reached only at paths every rule skips (not handed out).
    pub skipped: HashSet<ObjectId>,
    /// The trees the walk met (and blobs it handled by id): what the push carries outside
    /// them, no ref reaches.
    pub met: HashSet<ObjectId>,
}

/// The entry names a walk met, each once (by a keyed hash of it: a name cannot be crafted to
/// collide with another).
#[derive(Default)]
struct Names {
    seen: HashSet<u64>,
    keyed: std::collections::hash_map::RandomState,
    found: Vec<(ObjectId, Vec<u8>)>,
}

impl Names {
    /// No key of a blocking rule is shorter.
    const SHORTEST: usize = 8;

    fn add(&mut self, commit: ObjectId, name: &[u8]) {
        use std::hash::BuildHasher;
        if name.len() < Self::SHORTEST || !self.seen.insert(self.keyed.hash_one(name)) {
            return;
        }
        let buf = match self.found.last_mut() {
            Some((c, buf)) if *c == commit => buf,
            _ => {
                self.found.push((commit, Vec::new()));
                &mut self.found.last_mut().expect("just pushed").1
            }
        };
        buf.extend_from_slice(name);
        buf.push(b'\n');
    }
}

struct Peeled {
    commits: Vec<ObjectId>,
    trees: Vec<(ObjectId, ObjectId)>,
    blobs: Vec<(ObjectId, ObjectId)>,
    tags: Vec<ObjectId>,
}

fn object_err(kind: &'static str, id: ObjectId) -> impl FnOnce(BoxError) -> HistoryError {
    move |source| HistoryError::Object { what: format!("{kind} {id}"), source }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads an object whole; a missing object is an error that names it.
fn read<'b>(
    objects: &Objects,
    id: ObjectId,
    buf: &'b mut Vec<u8>,
) -> Result<gix::objs::Data<'b>, HistoryError> {
    match objects.try_find(&id, buf) {
        Ok(Some(data)) => Ok(data),
        Ok(None) => Err(HistoryError::Object {
            what: format!("object {id}"),
            source: "object is missing".into(),
        }),
        Err(e) => Err(object_err("object", id)(e.into())),
    }
}

/// Reads a commit's raw bytes; an object of another kind is an error that names it.
fn read_commit<'b>(
    objects: &Objects,
    id: ObjectId,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], HistoryError> {
    let data = read(objects, id, buf)?;
    if data.kind != gix::objs::Kind::Commit {
        return Err(HistoryError::Object {
            what: format!("commit {id}"),
            source: format!("is a {}", data.kind).into(),
        });
    }
    Ok(data.data)
}

/// Follows tags down to what they name. Returns commits, trees and blobs (each with the tip
/// that named it), and the tags passed on the way.
fn peel(objects: &Objects, tips: &[ObjectId]) -> Result<Peeled, HistoryError> {
    let mut out = Peeled { commits: vec![], trees: vec![], blobs: vec![], tags: vec![] };
    let mut seen = HashSet::new();
    let mut buf = Vec::new();
    for &tip in tips {
        let mut id = tip;
        while seen.insert(id) {
            let data = read(objects, id, &mut buf)?;
            match data.kind {
                gix::objs::Kind::Commit => out.commits.push(id),
                gix::objs::Kind::Tree => out.trees.push((id, tip)),
                gix::objs::Kind::Blob => out.blobs.push((id, tip)),
                gix::objs::Kind::Tag => {
                    out.tags.push(id);
                    let target = gix::objs::TagRefIter::from_bytes(data.data, objects.hash_kind())
                        .target_id()
                        .map_err(|e| object_err("tag", id)(Box::new(e)))?;
                    id = target;
                    continue;
                }
            }
            break;
        }
    }
    Ok(out)
}

/// Commits reachable from `tips` and not from `hidden`, parents before children, with their
/// parents. (gix's hidden-frontier walk may count a commit as new that clock skew hides from
/// its paint, never the other way round: the error is on the side of scanning more.)
fn commits(
    objects: &Objects,
    tips: &[ObjectId],
    hidden: &[ObjectId],
) -> Result<Vec<(ObjectId, Vec<ObjectId>)>, HistoryError> {
    if tips.is_empty() {
        return Ok(Vec::new());
    }
    // A commit gix cannot decode (git accepts odd headers without fsck) is the push's
    // content, never a reason to fail open: the error rejects the push.
    fn content<E: std::error::Error + Send + Sync + 'static>(e: E) -> HistoryError {
        HistoryError::Object { what: "the pushed commits".to_owned(), source: Box::new(e) }
    }
    let mut parents: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    let mut found = Vec::new();
    let mut frontier = tips.to_vec();
    if objects.has_quarantine() {
        // A commit only the quarantine has is new, and so is every commit it reaches before
        // the repository's own store: no existing ref can reach it. That part is walked
        // here, by parent lines alone; what is left (the commits of the store the push
        // reaches, usually the refs' own tips) goes to gix's hidden-frontier walk, and only
        // if some of it is not a ref's tip. A typical push then costs its own commits, not a
        // paint down to the oldest tag.
        let hidden_set: HashSet<ObjectId> = hidden.iter().copied().collect();
        let mut stack = std::mem::take(&mut frontier);
        let mut buf = Vec::new();
        while let Some(id) = stack.pop() {
            if parents.contains_key(&id) || hidden_set.contains(&id) {
                continue;
            }
            if objects.in_repository(&id) {
                frontier.push(id);
                continue;
            }
            let data = read_commit(objects, id, &mut buf)?;
            let mut list = tree::commit_parents(data, objects.hash_kind())
                .map_err(|e| object_err("commit", id)(Box::new(e)))?;
            if objects.is_shallow(&id) {
                // The boundary of a shallow push: parents it does not bring, and the
                // repository does not have, are no part of it.
                list.retain(|p| objects.exists(p));
            }
            stack.extend(list.iter().copied());
            found.push(id);
            parents.insert(id, list);
        }
        frontier.sort();
        frontier.dedup();
    }
    if !frontier.is_empty() {
        let walk = gix::traverse::commit::Simple::new(frontier.iter().copied(), objects.clone())
            .hide(hidden.iter().copied())
            .map_err(content)?;
        for info in walk {
            let info = info.map_err(content)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = parents.entry(info.id) {
                found.push(info.id);
                slot.insert(info.parent_ids.to_vec());
            }
        }
    }
    // Depth-first post-order, iterative: every parent that is new comes before its child,
    // whatever the timestamps say.
    let mut order = Vec::with_capacity(found.len());
    let mut done: HashSet<ObjectId> = HashSet::with_capacity(found.len());
    let mut stack: Vec<(ObjectId, usize)> = Vec::new();
    for &start in &found {
        if done.contains(&start) {
            continue;
        }
        stack.push((start, 0));
        done.insert(start);
        while let Some((id, next)) = stack.last_mut() {
            let list = &parents[id];
            if let Some(&parent) = list.get(*next) {
                *next += 1;
                if parents.contains_key(&parent) && done.insert(parent) {
                    stack.push((parent, 0));
                }
            } else {
                order.push(*id);
                stack.pop();
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|id| {
            let list = parents.remove(&id).unwrap_or_default();
            (id, list)
        })
        .collect())
}

/// Everything reachable from the boundary, built only when a shortcut cannot decide. When
/// paths matter, trees are known with their path, and a blob with the class of the path it is
/// reached at (at a skipped path it was never scanned, and is not known).
struct Boundary<'a> {
    roots: Vec<ObjectId>,
    blobs: Vec<ObjectId>,
    paths: Option<PathClasses<'a>>,
    /// Trees, and blobs reached at a [`NEUTRAL`] path.
    closure: Option<HashSet<ObjectId>>,
    /// With `paths`: blobs reached at a path of another class, with that class.
    classed: HashSet<(ObjectId, Class)>,
    /// With `paths`: the boundary's trees, with their path.
    trees_at: HashSet<(ObjectId, Vec<u8>)>,
    /// Whether the walk of the boundary's trees passed the cap: then it reaches nothing.
    overflow: bool,
}

impl Boundary<'_> {
    /// Whether the boundary reaches `id`: a tree at `tree_path` (when paths matter), or a
    /// blob at a path of class `class`.
    fn contains(
        &mut self,
        objects: &Objects,
        id: ObjectId,
        tree_path: Option<&[u8]>,
        class: Class,
    ) -> Result<bool, HistoryError> {
        if self.closure.is_none() {
            // Blobs refs name are at the empty path (see `new_objects`).
            let mut closure = HashSet::new();
            match self.paths.map_or(NEUTRAL, |paths| (paths.class)(b"")) {
                SKIPPED => {}
                NEUTRAL => closure.extend(self.blobs.iter().copied()),
                class => self.classed.extend(self.blobs.iter().map(|&b| (b, class))),
            }
            let mut stack: Vec<(ObjectId, Vec<u8>)> =
                self.roots.iter().map(|&t| (t, Vec::new())).collect();
            let mut buf = Vec::new();
            let mut repeats = Repeats::default();
            while let Some((tree, path)) = stack.pop() {
                let first = match self.paths {
                    None => closure.insert(tree),
                    Some(_) => self.trees_at.insert((tree, path.clone())),
                };
                if !first {
                    continue;
                }
                let data = read(objects, tree, &mut buf)?;
                let list = tree::entries(data.data, objects.hash_kind())
                    .map_err(|e| object_err("tree", tree)(Box::new(e)))?;
                if self.paths.is_some() && repeats.count(tree, list.len()).is_err() {
                    // Trees the refs already hold reach some tree at too many paths: a
                    // bomb a push let in before paths mattered, or under the cap. Not this
                    // push's content: rather than reject every later push that a shortcut
                    // cannot decide (found by the review of session 25: an innocent rename
                    // took 48 s, then was rejected), the edges reach nothing more, and the
                    // push's own trees and blobs are walked and scanned as new.
                    tracing::warn!(
                        %tree,
                        "existing refs reach a tree at too many paths; scanning the push's \
                         objects as new"
                    );
                    self.overflow = true;
                    self.trees_at.clear();
                    self.classed.clear();
                    self.closure = Some(HashSet::new());
                    return Ok(false);
                }
                for entry in list {
                    let at = || {
                        let mut at = path.clone();
                        if !at.is_empty() {
                            at.push(b'/');
                        }
                        at.extend_from_slice(entry.name);
                        at
                    };
                    match entry.kind {
                        EntryKind::Tree => {
                            let child = if self.paths.is_some() { at() } else { Vec::new() };
                            stack.push((entry.oid(), child));
                        }
                        EntryKind::Gitlink => {}
                        _ => match self.paths.map_or(NEUTRAL, |paths| (paths.class)(&at())) {
                            SKIPPED => {}
                            NEUTRAL => {
                                closure.insert(entry.oid());
                            }
                            class => {
                                self.classed.insert((entry.oid(), class));
                            }
                        },
                    }
                }
            }
            tracing::debug!(objects = closure.len(), "walked the boundary's trees");
            self.closure = Some(closure);
        }
        if self.overflow {
            return Ok(false);
        }
        if let (Some(_), Some(path)) = (self.paths, tree_path) {
            return Ok(self.trees_at.contains(&(id, path.to_vec())));
        }
        if class != NEUTRAL {
            return Ok(self.classed.contains(&(id, class)));
        }
        Ok(self.closure.as_ref().is_some_and(|c| c.contains(&id)))
    }
}

/// Work allowed in walks of trees again at new paths (see [`Repeats`]), beyond four times
/// the work of first walks: about 0.5 s of the walk, room for 200,000 copies of one small
/// directory.
const MAX_REPEATED_WORK: usize = 4_000_000;
/// A tree's read, in entries' work.
const READ_WORK: usize = 16;

/// When paths matter, trees are walked once per path. Trees that hold the same tree several
/// times (`a` and `b` both naming the tree below, forty levels deep; or one tree of 2,000
/// entries naming the same tree of 2,000 entries) reach it at 2^40 paths, or make millions of
/// entries from a few kilobytes: past [`MAX_REPEATED_WORK`] the push is rejected as content
/// (found by the reviews of session 24: a 1 KB push spent the 4 s budget). Work is counted in
/// entries read, each tree's read counting [`READ_WORK`], not in walks: a cap on walks let
/// wide trees through.
#[derive(Default)]
struct Repeats {
    /// Trees walked at least once.
    walked: HashSet<ObjectId>,
    /// The work of first walks, and of walks again.
    first: usize,
    again: usize,
}

impl Repeats {
    /// Counts a walk of `tree` (of `entries` entries); an error past the cap.
    fn count(&mut self, tree: ObjectId, entries: usize) -> Result<(), HistoryError> {
        let work = entries + READ_WORK;
        if self.walked.insert(tree) {
            self.first += work;
            return Ok(());
        }
        self.again += work;
        if self.again > MAX_REPEATED_WORK + 4 * self.first {
            return Err(too_many_paths(tree));
        }
        Ok(())
    }
}

fn too_many_paths(tree: ObjectId) -> HistoryError {
    HistoryError::Object {
        what: format!("tree {tree}"),
        source: "reached at too many paths (trees that hold the same tree several times)".into(),
    }
}

/// How a tree stands when the walk reaches it.
enum Seen {
    New,
    /// Handled at another path, clean (or, when paths do not matter, handled at all).
    Clean,
    /// Handled at this path already, and not clean.
    Again,
}

/// The walk's explicit stack: a tree to walk, or the end of one walked (with paths).
enum Step {
    Enter(Frame),
    Leave(ObjectId),
}

struct Frame {
    tree: ObjectId,
    path: Vec<u8>,
    /// The same path in each parent's tree (for the root: the parents' root trees), and
    /// whether that parent is an edge (not new).
    parents: Vec<(Option<ObjectId>, bool)>,
}

/// A path's class: what the scan of a blob yields depends on the class of its path only
/// (see [`PathClasses`]).
pub type Class = u32;
/// The class of a path where no path condition holds (most paths).
pub const NEUTRAL: Class = 0;
/// The class of a path whose content the scan skips whole.
pub const SKIPPED: Class = Class::MAX;

/// How paths bear on the scan of a blob (see [`new_objects`]), when they do.
#[derive(Clone, Copy)]
pub struct PathClasses<'a> {
    /// The class of a path: [`SKIPPED`], [`NEUTRAL`], or another class. Two paths of one
    /// class yield the same from any content.
    pub class: &'a dyn Fn(&[u8]) -> Class,
    /// Whether every path is [`NEUTRAL`] or [`SKIPPED`] (a project's `[paths] skip`, and no
    /// other path condition): then a tree walked where nothing under it was skipped yields
    /// nothing new at any other path.
    pub skips_only: bool,
    /// Whether a new tree entry named `..`, `.`, an empty name or a name holding `/` fails
    /// the walk as content (the hook; `scan --git` reads old histories as they are). Such a
    /// path looks like it is somewhere it is not (`tests/../app/k.txt` matches `tests/**`);
    /// git fsck reports every one of them, and git will not check them out.
    pub strict_names: bool,
}

/// Whether git would refuse a tree entry's name as a path component.
fn odd_name(name: &[u8]) -> bool {
    matches!(name, b"" | b"." | b"..") || name.contains(&b'/')
}

/// Walks what `tips` add over `hidden` and hands each new blob, commit and tag to `emit`, each
/// object once. `tips` and `hidden` may name commits, tags, trees or blobs. `stop` is polled
/// between trees; when it says so the walk ends early and [`Walked::stopped`] is set.
///
/// `paths` says how paths bear on the scan, when they do: which paths it skips whole
/// ([`leakgate_rules::RuleSet::skips`]), and which hold a rule's path condition
/// ([`leakgate_rules::RuleSet::path_class`]). Then a blob is handed out once per class of the
/// paths it is met at (never at a skipped path), and counts as old only if an existing ref
/// reaches it at a path of that class; trees are walked once per path, not once per id.
/// Otherwise the same content at a skipped path (`vendor/k.txt`) and at a scanned one
/// (`app/k.txt`), in one push or across two, was walked once, at whichever path came first, or
/// taken as old because a ref reached it where it was skipped (found by the review of session
/// 24); and a rule's allowlist of `tests/**` let a key through at `app/` when the same blob
/// was also at `tests/` (session 25).
///
/// # Errors
///
/// An object that is missing or that git itself could not read.
pub fn new_objects(
    objects: &Objects,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    paths: Option<PathClasses<'_>>,
    names: bool,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(NewObject),
) -> Result<Walked, HistoryError> {
    let new = peel(objects, tips)?;
    let old = peel(objects, hidden)?;
    // A tag is old only when an existing ref reaches it (a ref names it, or a tag a ref names
    // leads to it): that the store has it says nothing, since a pusher may put any object in
    // a pack without a ref to it, and git keeps it. Until session 24 a tag stored that way was
    // skipped when a later push named it. A tag that packed-refs records only peeled counts
    // as new and is scanned again: more, never less.
    let old_tags: HashSet<ObjectId> = old.tags.iter().copied().collect();
    for &tag in &new.tags {
        if !old_tags.contains(&tag) {
            emit(NewObject::Tag(tag));
        }
    }
    let commits = commits(objects, &new.commits, &old.commits)?;
    let is_new: HashSet<ObjectId> = commits.iter().map(|(c, _)| *c).collect();
    let mut walker = Walker {
        objects,
        visited: HashSet::new(),
        trees_at: HashSet::new(),
        repeats: Repeats::default(),
        open: Vec::new(),
        paths,
        classed: HashSet::new(),
        boundary: Boundary {
            roots: old.trees.iter().map(|(t, _)| *t).collect(),
            blobs: old.blobs.iter().map(|(b, _)| *b).collect(),
            paths,
            closure: None,
            overflow: false,
            classed: HashSet::new(),
            trees_at: HashSet::new(),
        },
        buf: Vec::new(),
        trees: HashMap::with_capacity(commits.len()),
        spare: Vec::new(),
        names: names.then(Names::default),
        skipped: HashSet::new(),
    };
    for (_, parents) in &commits {
        for parent in parents.iter().filter(|p| !is_new.contains(*p)) {
            // A parent missing from the object store (shallow history) has no trees.
            if let Ok(tree) = walker.tree_of(*parent) {
                walker.boundary.roots.push(tree);
            }
        }
    }
    // With nothing hidden there are no edges and nothing to exclude: every tree and blob a
    // parent reaches was walked before its children (the visited set skips them), and the
    // parents' trees would be read only for each blob's first-parent version. That is
    // looked up when a blob has findings ([`ParentBlob::In`]); it halves the trees read.
    let lazy = walker.boundary.roots.is_empty() && walker.boundary.blobs.is_empty();
    let mut walked = Walked::default();
    for (commit, parents) in &commits {
        if stop() {
            walked.stopped = true;
            break;
        }
        emit(NewObject::Commit(*commit));
        let root = walker.tree_of(*commit)?;
        let mut roots = Vec::with_capacity(parents.len());
        let first_parent = if lazy {
            parents.first().copied()
        } else {
            for parent in parents {
                roots.push((walker.tree_of(*parent).ok(), !is_new.contains(parent)));
            }
            None
        };
        let frame = Frame { tree: root, path: Vec::new(), parents: roots };
        if !walker.walk(frame, *commit, first_parent, stop, emit)? {
            walked.stopped = true;
            break;
        }
    }
    if !walked.stopped {
        for &(tree, tip) in &new.trees {
            let frame = Frame { tree, path: Vec::new(), parents: Vec::new() };
            if !walker.walk(frame, tip, None, stop, emit)? {
                walked.stopped = true;
                break;
            }
        }
        // A blob a ref names is scanned at the empty path, in that path's class (a waiver
        // for `*` covers it): until session 25 it was taken as neutral here and in the edges'
        // set, so that a blob waived there passed later at `app/k.txt` (review of session 25).
        let class = walker.paths.map_or(NEUTRAL, |paths| (paths.class)(b""));
        for &(blob, tip) in &new.blobs {
            let first = match class {
                SKIPPED => false,
                NEUTRAL => walker.visited.insert(blob),
                class => walker.classed.insert((blob, class)),
            };
            if first && !walker.excluded(blob, None, class, false)? {
                let blob = NewBlob {
                    id: blob,
                    path: Vec::new(),
                    commit: tip,
                    parent_blob: ParentBlob::None,
                };
                emit(NewObject::Blob(blob));
            }
        }
    }
    walked.commits = commits.into_iter().map(|(c, _)| c).collect();
    walked.names = walker.names.map(|n| n.found).unwrap_or_default();
    walked.skipped = walker.skipped;
    // Only a push's quarantine has objects no ref may reach; elsewhere the sets go now (a
    // history scan's visited set is its largest, and blobs are still being scanned).
    if walker.objects.has_quarantine() {
        walked.met = walker.visited;
        walked.met.extend(walker.trees_at.into_iter().map(|(tree, _)| tree));
    }
    Ok(walked)
}

struct Walker<'a> {
    objects: &'a Objects,
    /// Trees and blobs already handled: walked, emitted, or excluded. With `paths`, blobs
    /// met at a [`NEUTRAL`] path, and clean trees.
    visited: HashSet<ObjectId>,
    /// With `paths`: blobs handled at a path of another class, with that class.
    classed: HashSet<(ObjectId, Class)>,
    /// With `paths`: trees already handled, with their path. When every path is neutral or
    /// skipped, a tree walked at a path where nothing under it was skipped or left out as old
    /// is *clean*: it goes into `visited`, and is never walked again, at any path (it can
    /// yield nothing new anywhere). With other path conditions no tree is clean: the same
    /// tree elsewhere may put its blobs in other classes.
    trees_at: HashSet<(ObjectId, Vec<u8>)>,
    /// With `paths`: the work of walking trees again at other paths, capped.
    repeats: Repeats,
    /// With `paths`: for each tree being walked (outermost first), whether something under
    /// it was skipped or left out, so that it is not clean.
    open: Vec<bool>,
    /// How paths bear on the scan, when they do (see [`new_objects`]).
    paths: Option<PathClasses<'a>>,
    boundary: Boundary<'a>,
    buf: Vec<u8>,
    /// Each commit's root tree, once read: a commit is asked for it again as the parent of
    /// each of its children.
    trees: HashMap<ObjectId, ObjectId>,
    /// With `names`: the entry names of new trees met so far.
    names: Option<Names>,
    /// Buffers for the parents' trees, kept between trees.
    spare: Vec<Vec<u8>>,
    /// Blobs met only at paths every rule skips: reached, so not unreferenced.
    skipped: HashSet<ObjectId>,
}

impl Walker<'_> {
    fn tree_of(&mut self, commit: ObjectId) -> Result<ObjectId, HistoryError> {
        if let Some(tree) = self.trees.get(&commit) {
            return Ok(*tree);
        }
        let data = read_commit(self.objects, commit, &mut self.buf)?;
        let tree = tree::commit_tree(data, self.objects.hash_kind())
            .map_err(|e| object_err("commit", commit)(Box::new(e)))?;
        self.trees.insert(commit, tree);
        Ok(tree)
    }

    /// Whether `id` is reachable from the boundary (a tree: at `tree_path`, when paths
    /// matter; a blob: at a path of class `class`). `same_path_edge`: an edge parent has this
    /// very id at the same path.
    fn excluded(
        &mut self,
        id: ObjectId,
        tree_path: Option<&[u8]>,
        class: Class,
        same_path_edge: bool,
    ) -> Result<bool, HistoryError> {
        if same_path_edge {
            return Ok(true);
        }
        if self.boundary.roots.is_empty() && self.boundary.blobs.is_empty() {
            return Ok(false);
        }
        if self.objects.has_quarantine() && !self.objects.in_repository(&id) {
            // Only in the quarantine: no existing ref can reach it.
            return Ok(false);
        }
        self.boundary.contains(self.objects, id, tree_path, class)
    }

    /// Marks a tree handled at `path`.
    fn first_visit(&mut self, tree: ObjectId, path: &[u8]) -> Seen {
        match self.paths {
            None if self.visited.insert(tree) => Seen::New,
            None => Seen::Clean,
            Some(_) if self.visited.contains(&tree) => Seen::Clean,
            Some(_) if self.trees_at.insert((tree, path.to_vec())) => Seen::New,
            Some(_) => Seen::Again,
        }
    }

    /// Something under the tree being walked was skipped or left out: it is not clean.
    fn not_clean(&mut self) {
        if let Some(top) = self.open.last_mut() {
            *top = true;
        }
    }

    /// Walks one root tree depth-first with an explicit stack. Returns false when stopped.
    /// `first_parent`: the commit's first parent, when the root frame carries no parents'
    /// trees (see [`ParentBlob::In`]).
    fn walk(
        &mut self,
        root: Frame,
        commit: ObjectId,
        first_parent: Option<ObjectId>,
        stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(NewObject),
    ) -> Result<bool, HistoryError> {
        let hash = self.objects.hash_kind();
        let mut stack = vec![Step::Enter(root)];
        let mut data = Vec::new();
        self.open.clear();
        while let Some(step) = stack.pop() {
            let frame = match step {
                Step::Enter(frame) => frame,
                Step::Leave(tree) => {
                    let clean = self.paths.is_some_and(|p| p.skips_only);
                    if self.open.pop() == Some(false) && clean {
                        self.visited.insert(tree);
                    } else {
                        self.not_clean();
                    }
                    continue;
                }
            };
            match self.first_visit(frame.tree, &frame.path) {
                Seen::New => {}
                Seen::Clean => continue,
                Seen::Again => {
                    self.not_clean();
                    continue;
                }
            }
            let edge_same = frame.parents.iter().any(|(p, edge)| *edge && *p == Some(frame.tree));
            if self.excluded(frame.tree, Some(&frame.path), NEUTRAL, edge_same)? {
                self.not_clean();
                continue;
            }
            if stop() {
                return Ok(false);
            }
            if self.paths.is_some() {
                stack.push(Step::Leave(frame.tree));
                self.open.push(false);
            }
            let kind = self
                .objects
                .try_find(&frame.tree, &mut data)
                .map_err(|e| object_err("tree", frame.tree)(e.into()))?
                .map(|d| d.kind);
            if kind != Some(gix::objs::Kind::Tree) {
                return Err(HistoryError::Object {
                    what: format!("tree {} at {:?}", frame.tree, lossy(&frame.path)),
                    source: "missing, or not a tree".into(),
                });
            }
            let list = tree::entries(&data, hash)
                .map_err(|e| object_err("tree", frame.tree)(Box::new(e)))?;
            if self.paths.is_some() {
                self.repeats.count(frame.tree, list.len())?;
            }
            // The parents' trees at this path, read and parsed once for all the entries.
            let mut raw_parents = Vec::with_capacity(frame.parents.len());
            for (parent, edge) in &frame.parents {
                let Some(p) = parent else { continue };
                let mut raw = self.spare.pop().unwrap_or_default();
                if let Ok(Some(d)) = self.objects.try_find(p, &mut raw) {
                    if d.kind == gix::objs::Kind::Tree {
                        raw_parents.push((raw, *edge));
                        continue;
                    }
                }
                self.spare.push(raw);
            }
            let parent_lists: Vec<(Vec<tree::Entry<'_>>, bool, bool)> = raw_parents
                .iter()
                .filter_map(|(raw, edge)| {
                    let list = tree::entries(raw, hash).ok()?;
                    let sorted = tree::is_sorted(&list);
                    Some((list, sorted, *edge))
                })
                .collect();
            for entry in &list {
                // A name stays on the server too: a file or directory named after a key went
                // through until session 26 (review).
                if let Some(names) = &mut self.names {
                    names.add(commit, entry.name);
                }
                let id = entry.oid();
                let mut kind = entry.kind;
                if kind == EntryKind::Gitlink {
                    continue;
                }
                if self.paths.is_some_and(|p| p.strict_names) && odd_name(entry.name) {
                    return Err(HistoryError::Object {
                        what: format!("tree {} at {:?}", frame.tree, lossy(&frame.path)),
                        source: format!(
                            "an entry named {:?}, which git fsck reports and path rules would \
                             misread",
                            lossy(entry.name)
                        )
                        .into(),
                    });
                }
                if kind == EntryKind::Other {
                    kind = match self.objects.try_header(&id).ok().flatten().map(|h| h.kind) {
                        Some(gix::objs::Kind::Blob) => EntryKind::Blob,
                        Some(gix::objs::Kind::Tree) => EntryKind::Tree,
                        _ => continue,
                    };
                }
                let is_tree = kind == EntryKind::Tree;
                // A blob handled at a neutral path is handled at every path when every path
                // is neutral or skipped; with other path conditions its class here decides.
                let by_id = is_tree || self.paths.is_none_or(|p| p.skips_only);
                if by_id && self.visited.contains(&id) {
                    // Handled already: walked (clean, with paths), handed out or excluded.
                    continue;
                }
                let mut path = frame.path.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(entry.name);
                if is_tree && self.paths.is_some() && self.trees_at.contains(&(id, path.clone())) {
                    // Walked at this very path, and not clean.
                    self.not_clean();
                    continue;
                }
                let class = match self.paths {
                    Some(paths) if !is_tree => (paths.class)(&path),
                    _ => NEUTRAL,
                };
                if class == SKIPPED {
                    // Not scanned here, and not handled: the same blob at a path that is not
                    // skipped is handed out there.
                    self.skipped.insert(id);
                    self.not_clean();
                    continue;
                }
                let first = match class {
                    _ if is_tree => true,
                    NEUTRAL => self.visited.insert(id),
                    _ => {
                        self.not_clean();
                        self.classed.insert((id, class))
                    }
                };
                if !first {
                    continue;
                }
                let at_parents: Vec<(Option<ObjectId>, bool)> = parent_lists
                    .iter()
                    .map(|(l, sorted, edge)| {
                        (tree::find(l, *sorted, entry.name, is_tree).map(|e| e.oid()), *edge)
                    })
                    .collect();
                if is_tree {
                    stack.push(Step::Enter(Frame { tree: id, path, parents: at_parents }));
                    continue;
                }
                let edge_same = at_parents.iter().any(|(p, edge)| *edge && *p == Some(id));
                if self.excluded(id, None, class, edge_same)? {
                    continue;
                }
                let parent_blob = match first_parent {
                    Some(parent) => ParentBlob::In(parent),
                    None => at_parents
                        .first()
                        .and_then(|(p, _)| *p)
                        .map_or(ParentBlob::None, ParentBlob::Blob),
                };
                emit(NewObject::Blob(NewBlob { id, path, commit, parent_blob }));
            }
            drop(parent_lists);
            self.spare.extend(raw_parents.into_iter().map(|(raw, _)| raw));
        }
        Ok(true)
    }
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
