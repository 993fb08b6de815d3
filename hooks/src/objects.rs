//! Object access that sees a push's quarantine as well as the repository's own objects.
//!
//! During pre-receive, git keeps the pushed objects in a quarantine directory
//! (`GIT_QUARANTINE_PATH`, also exported as `GIT_OBJECT_DIRECTORY`) and points
//! `GIT_ALTERNATE_OBJECT_DIRECTORIES` at the repository's objects. gix does not read those
//! variables, so a repository opened normally cannot see the pushed commits. [`Objects`] looks
//! in the quarantine first and in the repository second, and never writes to either.

use std::cell::{RefCell, RefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gix::odb::pack::cache::lru::MemoryCappedHashmap;
use gix::odb::pack::data::decode::header::ResolvedBase;
use gix::odb::pack::Bundle;

use gix::objs::{Data, Exists, Find, FindHeader};
use gix::ObjectId;

/// A read-only object database: the quarantine (if any) over the repository's own store.
#[derive(Clone)]
pub struct Objects {
    /// Packs opened for a bulk traversal ([`crate::bulk`]), read through here first: each
    /// pack is then mapped once, not once by the traversal and again by the store.
    packs: Option<Packs>,
    quarantine: Option<gix::odb::Handle>,
    /// Where the objects this scan is about are packed: the quarantine when there is one,
    /// else the repository's own object directory.
    new_dir: PathBuf,
    main: gix::OdbHandle,
    /// The repository's store again, for existence alone, never re-reading its directory on
    /// a miss. Every commit of an initial push misses (23,090 on rust-lang/cargo, each re-read
    /// the pack directory); a miss only makes an object count as new, which widens the scan
    /// and never narrows it, so a pack added while the hook runs cannot hide anything.
    main_exists: gix::OdbHandle,
    hash: gix::hash::Kind,
    /// Commits whose parents a shallow history leaves out ([`shallow_from_env`]).
    shallow: Arc<std::collections::HashSet<ObjectId>>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").field("quarantine", &self.quarantine.is_some()).finish()
    }
}

impl Objects {
    /// The repository's objects, plus the quarantine directory when given.
    ///
    /// # Errors
    ///
    /// The quarantine directory cannot be opened.
    pub fn new(repo: &gix::Repository, quarantine: Option<&Path>) -> std::io::Result<Self> {
        let hash = repo.object_hash();
        let new_dir = match quarantine {
            Some(dir) => dir.to_owned(),
            None => repo.objects.store_ref().path().to_owned(),
        };
        let quarantine = match quarantine {
            Some(dir) => {
                let mut handle = gix::odb::at(dir, hash)?;
                handle.prevent_pack_unload();
                // git wrote the quarantine before it ran the hook, and nothing adds to it while
                // the hook runs. Most lookups here miss (every object the push did not bring),
                // and by default each miss would read the directory again for new packs: ~1,000
                // directory scans on a typical push.
                handle.refresh_never();
                // An initial push puts a whole history in the quarantine pack: without a delta
                // base cache every delta chain would be resolved from its root again.
                handle.set_pack_cache(|| {
                    Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(64 << 20))
                });
                handle.set_object_cache(|| {
                    Box::new(gix::odb::pack::cache::object::MemoryCappedHashmap::new(16 << 20))
                });
                Some(handle)
            }
            None => None,
        };
        let mut main = repo.objects.clone();
        main.prevent_pack_unload();
        let mut main_exists = main.clone();
        main_exists.refresh_never();
        Ok(Objects {
            packs: None,
            quarantine,
            new_dir,
            main,
            main_exists,
            hash,
            shallow: Arc::default(),
        })
    }

    /// These objects, where the commits `shallow` names may lack their parents (a shallow
    /// history: see [`shallow_from_env`]).
    #[must_use]
    pub fn with_shallow(mut self, shallow: std::collections::HashSet<ObjectId>) -> Self {
        self.shallow = Arc::new(shallow);
        self
    }

    /// Whether `id` is a commit of the shallow boundary: its parents may be missing, and the
    /// walk then takes it as a root (its whole tree is new), never as unreadable.
    pub(crate) fn is_shallow(&self, id: &gix::hash::oid) -> bool {
        self.shallow.contains(id)
    }

    /// The hash kind (SHA-1 or SHA-256) of the repository.
    pub fn hash_kind(&self) -> gix::hash::Kind {
        self.hash
    }

    /// Whether a push's quarantine is in view.
    pub fn has_quarantine(&self) -> bool {
        self.quarantine.is_some()
    }

    /// Whether the repository's own store has the object (reachable or not: an object that
    /// only the quarantine has is reachable from no existing ref).
    pub fn in_repository(&self, id: &gix::hash::oid) -> bool {
        self.main_exists.exists(id)
    }

    /// The pack indexes (`.idx`) of the quarantine, or of the repository's own object
    /// directory when there is no quarantine, sorted. Unreadable directories give none.
    pub fn new_packs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.new_dir.join("pack")) else { return Vec::new() };
        let mut packs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "idx"))
            .collect();
        packs.sort();
        packs
    }

    /// The loose objects of the quarantine that the repository's own store does not have
    /// (a push of fewer objects than `receive.unpackLimit` arrives loose), sorted. None
    /// without a quarantine.
    pub fn quarantine_loose(&self) -> Vec<ObjectId> {
        if self.quarantine.is_none() {
            return Vec::new();
        }
        let Ok(dirs) = std::fs::read_dir(&self.new_dir) else { return Vec::new() };
        let mut ids = Vec::new();
        for dir in dirs.filter_map(Result::ok) {
            let prefix = dir.file_name();
            let prefix = prefix.to_string_lossy();
            if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
            for file in files.filter_map(Result::ok) {
                let hex = format!("{prefix}{}", file.file_name().to_string_lossy());
                if let Ok(id) = ObjectId::from_hex(hex.as_bytes()) {
                    if !self.in_repository(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        ids.sort_unstable();
        ids
    }

    /// Opens the packs of [`Objects::new_packs`] and reads through them from now on (this
    /// value and its clones). Packs that cannot be opened are left to the store.
    pub(crate) fn open_new_packs(&mut self) -> Arc<[Bundle]> {
        let bundles: Arc<[Bundle]> = self
            .new_packs()
            .iter()
            .filter_map(|idx| match Bundle::at(idx, self.hash) {
                Ok(bundle) => Some(bundle),
                Err(e) => {
                    tracing::debug!(pack = %idx.display(), error = %e, "pack not opened");
                    None
                }
            })
            .collect();
        self.packs = (!bundles.is_empty())
            .then(|| Packs { bundles: Arc::clone(&bundles), state: RefCell::new(None) });
        bundles
    }

    /// Size in bytes of an object, without reading it.
    pub fn size(&self, id: &gix::hash::oid) -> Option<u64> {
        self.try_header(id).ok().flatten().map(|h| h.size)
    }
}

/// The quarantine directory of a running pre-receive hook, from git's environment.
pub fn quarantine_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("GIT_QUARANTINE_PATH")
        .or_else(|| env("GIT_OBJECT_DIRECTORY"))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The commits of a shallow history's boundary, whose parents are not in the repository:
/// the repository's own `shallow` file and, during pre-receive with `receive.shallowUpdate`,
/// the one git names in `GIT_SHALLOW_FILE` (a shallow clone pushing, into an empty repository
/// too). Lines that are not object ids are ignored; unreadable files name none. A commit
/// listed here is taken as a root only where its parents are indeed missing: a pusher cannot
/// cut history that is there.
pub fn shallow_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    git_dir: &Path,
) -> std::collections::HashSet<ObjectId> {
    let mut files = vec![git_dir.join("shallow")];
    files.extend(env("GIT_SHALLOW_FILE").filter(|p| !p.is_empty()).map(PathBuf::from));
    let mut shallow = std::collections::HashSet::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        shallow.extend(text.lines().filter_map(|l| ObjectId::from_hex(l.trim().as_bytes()).ok()));
    }
    shallow
}

/// Packs shared with a traversal, and this clone's own decoding state.
struct Packs {
    bundles: Arc<[Bundle]>,
    state: RefCell<Option<(gix::zlib::Inflate, MemoryCappedHashmap)>>,
}

impl Clone for Packs {
    fn clone(&self) -> Self {
        Packs { bundles: Arc::clone(&self.bundles), state: RefCell::new(None) }
    }
}

/// Delta bases kept per reader of the shared packs: the walk reads trees whose bases are
/// other trees, usually just read. (On rust-lang/cargo 4 MiB walks as fast as 16 MiB and
/// keeps the process ~20 MB smaller.)
const PACK_CACHE: usize = 4 << 20;

impl Packs {
    /// The bundle holding `id` and its index entry there.
    fn locate(&self, id: &gix::hash::oid) -> Option<(&Bundle, u32)> {
        self.bundles.iter().find_map(|b| b.index.lookup(id).map(|i| (b, i)))
    }

    /// This clone's inflate stream and delta-base cache, made on first use.
    fn state(&self) -> RefMut<'_, (gix::zlib::Inflate, MemoryCappedHashmap)> {
        RefMut::map(self.state.borrow_mut(), |state| {
            state.get_or_insert_with(|| {
                (gix::zlib::Inflate::default(), MemoryCappedHashmap::new(PACK_CACHE))
            })
        })
    }

    /// Decodes `id` into `buffer` if a pack holds it; its kind on success.
    fn read(&self, id: &gix::hash::oid, buffer: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        let (bundle, index) = self.locate(id)?;
        let (inflate, cache) = &mut *self.state();
        // A delta whose base is outside the pack is the store's to resolve.
        bundle.get_object_by_index(index, buffer, inflate, cache).ok().map(|(data, _)| data.kind)
    }

    /// The kind and size of `id` if a pack holds it, read from its entry headers (the delta
    /// chain's headers only, no object decoded). A delta whose base is outside the pack is
    /// the store's to resolve.
    fn header(&self, id: &gix::hash::oid) -> Option<gix::objs::Header> {
        let (bundle, index) = self.locate(id)?;
        let entry_at = |i| bundle.pack.entry(bundle.index.pack_offset_at_index(i)).ok();
        let resolve = |base: &gix::hash::oid| {
            Ok(bundle.index.lookup(base).and_then(entry_at).map(ResolvedBase::InPack))
        };
        let (inflate, _) = &mut *self.state();
        let found = bundle.pack.decode_header(entry_at(index)?, inflate, &resolve).ok()?;
        Some(gix::objs::Header { kind: found.kind, size: found.object_size })
    }
}

impl Find for Objects {
    fn try_find<'a>(
        &self,
        id: &gix::hash::oid,
        buffer: &'a mut Vec<u8>,
    ) -> gix::Result<Option<Data<'a>>> {
        if let Some(kind) = self.packs.as_ref().and_then(|p| p.read(id, buffer)) {
            return Ok(Some(Data { kind, data: buffer.as_slice(), object_hash: self.hash }));
        }
        match &self.quarantine {
            Some(q) if q.exists(id) => q.try_find(id, buffer),
            _ => self.main.try_find(id, buffer),
        }
    }
}

impl FindHeader for Objects {
    fn try_header(&self, id: &gix::hash::oid) -> gix::Result<Option<gix::objs::Header>> {
        // Through the shared packs when they hold it: the store maps the same pack a second
        // time, and on a whole history that mapping grew by ~25 MB of pages touched only for
        // the sizes of blobs read again by id.
        if let Some(header) = self.packs.as_ref().and_then(|p| p.header(id)) {
            return Ok(Some(header));
        }
        if let Some(q) = &self.quarantine {
            if let Some(h) = q.try_header(id)? {
                return Ok(Some(h));
            }
        }
        self.main.try_header(id)
    }
}

impl Exists for Objects {
    fn exists(&self, id: &gix::hash::oid) -> bool {
        self.quarantine.as_ref().is_some_and(|q| q.exists(id)) || self.main.exists(id)
    }
}

/// The zero id of `kind`: `<old>` of a created ref, `<new>` of a deleted one.
pub fn null_id(kind: gix::hash::Kind) -> ObjectId {
    ObjectId::null(kind)
}

#[cfg(test)]
mod tests {
    use gix::objs::FindHeader;

    use super::Objects;
    use crate::test_git as git;

    /// Kind and size read from the shared packs' entry headers (delta chains included) agree
    /// with git's for every object of the pack.
    #[test]
    fn headers_read_through_the_shared_packs_agree_with_git() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        git(repo, &["init", "-q", "-b", "main"]);
        // Versions of one large file, so that the pack holds blobs as deltas of each other
        // (in both directions: git deltifies older versions against newer ones).
        let mut text: String =
            (0..2_000).map(|i| format!("line {i} of a file that changes a little\n")).collect();
        for round in 0..6 {
            text.insert_str(text.len() / (round + 2), &format!("inserted in round {round}\n"));
            std::fs::write(repo.join("big.txt"), &text).expect("write");
            std::fs::write(repo.join("small.txt"), format!("{round}\n")).expect("write");
            git(repo, &["add", "."]);
            git(repo, &["commit", "-q", "-m", &format!("round {round}")]);
        }
        git(repo, &["repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50"]);
        let listed = git(repo, &["cat-file", "--batch-all-objects", "--batch-check"]);
        let verify = git(repo, &["verify-pack", "-v", &pack_idx(repo)]);
        assert!(
            verify.lines().any(|l| l.split_whitespace().count() == 7),
            "the pack holds deltas: {verify}"
        );

        let gix_repo = gix::open(repo).expect("open");
        let mut objects = Objects::new(&gix_repo, None).expect("objects");
        assert!(!objects.open_new_packs().is_empty());
        assert!(objects.packs.is_some());
        let mut checked = 0;
        for line in listed.lines() {
            let mut fields = line.split(' ');
            let (Some(id), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next())
            else {
                panic!("unexpected line {line}");
            };
            let id = gix::ObjectId::from_hex(id.as_bytes()).expect("id");
            let from_packs = objects.packs.as_ref().and_then(|p| p.header(&id));
            let header = from_packs.unwrap_or_else(|| panic!("{id} read from the packs"));
            assert_eq!(header.kind.to_string(), kind, "{id}");
            assert_eq!(header.size.to_string(), size, "{id}");
            assert_eq!(objects.try_header(&id).expect("header"), Some(header), "{id}");
            checked += 1;
        }
        assert!(checked >= 6 * 2 + 6 * 2, "{checked} objects");
    }

    fn pack_idx(repo: &std::path::Path) -> String {
        let pack = repo.join(".git/objects/pack");
        let idx = std::fs::read_dir(&pack)
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("a pack index");
        idx.to_string_lossy().into_owned()
    }
}
