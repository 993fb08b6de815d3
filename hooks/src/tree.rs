//! Tree and commit objects read as git itself reads them, from their raw bytes.
//!
//! A pusher can send objects that git accepts (receive-pack does not run fsck by default) but
//! that a strict parser refuses: modes with leading zeros (`0000100644`), unsorted or
//! duplicate entries, odd commit headers. A refusal here would be a way around the gate, so
//! these readers accept exactly what git's `decode_tree_entry` and `parse_commit_buffer`
//! accept, and nothing in them recurses.

use gix::ObjectId;

/// What a tree entry points at, from its mode as git canonicalises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// `040000`: a subtree.
    Tree,
    /// `100644`, `100755` (any regular-file mode): file content.
    Blob,
    /// `120000`: a symbolic link; the blob is its target, which is content too.
    Symlink,
    /// `160000`: a submodule commit, not an object of this repository.
    Gitlink,
    /// Any other mode. git treats it as a gitlink and never lists the object; leakgate looks
    /// at what the object is and scans a blob (stricter than git, never laxer).
    Other,
}

impl EntryKind {
    fn from_mode(mode: u32) -> Self {
        match mode & 0o170000 {
            0o040000 => EntryKind::Tree,
            0o100000 => EntryKind::Blob,
            0o120000 => EntryKind::Symlink,
            0o160000 => EntryKind::Gitlink,
            _ => EntryKind::Other,
        }
    }
}

/// One entry of a tree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) kind: EntryKind,
    pub(crate) id: &'a [u8],
}

impl Entry<'_> {
    pub(crate) fn oid(&self) -> ObjectId {
        ObjectId::from_bytes_or_panic(self.id)
    }
}

/// Why a tree or commit could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectFormatError {
    /// A tree entry that git itself would refuse.
    #[error("malformed tree entry at byte {offset}: {what}")]
    Tree {
        /// Offset of the entry.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A commit without a `tree` line.
    #[error("commit has no tree line")]
    CommitTree,
}

/// The entries of a raw tree object, in the order they are stored.
///
/// # Errors
///
/// An entry git would refuse too (a non-octal mode, an empty name, a truncated id).
pub(crate) fn entries(
    data: &[u8],
    hash: gix::hash::Kind,
) -> Result<Vec<Entry<'_>>, ObjectFormatError> {
    let len = hash.len_in_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let bad = |what| ObjectFormatError::Tree { offset: at, what };
        let space = memchr::memchr(b' ', &data[at..]).ok_or_else(|| bad("no space after mode"))?;
        let mode_bytes = &data[at..at + space];
        if mode_bytes.is_empty() || !mode_bytes.iter().all(|b| (b'0'..=b'7').contains(b)) {
            return Err(bad("mode is not octal"));
        }
        // git accumulates without an overflow check; so do we (the kind bits decide).
        let mode = mode_bytes.iter().fold(0u32, |m, b| m.wrapping_shl(3) | u32::from(b - b'0'));
        let name_start = at + space + 1;
        let nul = memchr::memchr(0, &data[name_start..]).ok_or_else(|| bad("name not ended"))?;
        if nul == 0 {
            return Err(bad("empty name"));
        }
        let id_start = name_start + nul + 1;
        let id = data.get(id_start..id_start + len).ok_or_else(|| bad("truncated object id"))?;
        out.push(Entry {
            name: &data[name_start..name_start + nul],
            kind: EntryKind::from_mode(mode),
            id,
        });
        at = id_start + len;
    }
    Ok(out)
}

/// The entry called `name`, of a tree (`is_tree`) or not: a binary search in git's order
/// when the tree is stored in that order (`sorted`, see [`is_sorted`]), else a linear scan
/// (a crafted tree may be stored in any order, and git reads it anyway).
pub(crate) fn find<'a>(
    entries: &[Entry<'a>],
    sorted: bool,
    name: &[u8],
    is_tree: bool,
) -> Option<Entry<'a>> {
    let wanted = |e: &Entry<'_>| e.name == name && (e.kind == EntryKind::Tree) == is_tree;
    if sorted {
        return entries
            .binary_search_by(|e| git_order(e.name, e.kind == EntryKind::Tree, name, is_tree))
            .ok()
            .map(|i| entries[i])
            .filter(wanted);
    }
    entries.iter().copied().find(wanted)
}

/// Whether the entries are strictly in git's order (what every git writes).
pub(crate) fn is_sorted(entries: &[Entry<'_>]) -> bool {
    entries.windows(2).all(|w| {
        git_order(w[0].name, w[0].kind == EntryKind::Tree, w[1].name, w[1].kind == EntryKind::Tree)
            == std::cmp::Ordering::Less
    })
}

/// Git's tree entry order: bytewise, with a tree's name followed by an implicit `/`.
pub(crate) fn git_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        std::cmp::Ordering::Equal => {
            let next = |name: &[u8], tree: bool| {
                name.get(common).copied().or(if tree { Some(b'/') } else { None })
            };
            let (x, y) = (next(a, a_tree), next(b, b_tree));
            match (x, y) {
                (Some(x), Some(y)) if a.len() == b.len() || x != y => x.cmp(&y),
                _ => (a.len() + usize::from(a_tree)).cmp(&(b.len() + usize::from(b_tree))),
            }
        }
        other => other,
    }
}

/// The tree a raw commit names (its first line, as git requires).
///
/// # Errors
///
/// [`ObjectFormatError::CommitTree`] when the commit does not start with a valid tree line.
pub(crate) fn commit_tree(
    data: &[u8],
    hash: gix::hash::Kind,
) -> Result<ObjectId, ObjectFormatError> {
    let hex = hash.len_in_hex();
    data.strip_prefix(b"tree ")
        .and_then(|rest| rest.get(..hex))
        .filter(|_| data.get(5 + hex) == Some(&b'\n'))
        .and_then(|h| ObjectId::from_hex(h).ok())
        .ok_or(ObjectFormatError::CommitTree)
}

/// The parents of a raw commit: the `parent` lines right after its tree line, as git reads
/// them.
///
/// # Errors
///
/// [`ObjectFormatError::CommitTree`] when the commit does not start with a valid tree line.
pub(crate) fn commit_parents(
    data: &[u8],
    hash: gix::hash::Kind,
) -> Result<Vec<ObjectId>, ObjectFormatError> {
    commit_tree(data, hash)?;
    let hex = hash.len_in_hex();
    let mut at = 5 + hex + 1;
    let mut parents = Vec::new();
    while let Some(rest) = data.get(at..).and_then(|r| r.strip_prefix(b"parent ")) {
        let Some(id) = rest.get(..hex).filter(|_| rest.get(hex) == Some(&b'\n')) else { break };
        let Ok(id) = ObjectId::from_hex(id) else { break };
        parents.push(id);
        at += 7 + hex + 1;
    }
    Ok(parents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn raw(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, id) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(&[*id; 20]);
        }
        out
    }

    #[test]
    fn zero_padded_and_odd_modes_are_read_as_git_reads_them() {
        let data = raw(&[
            ("0000100644", "a", 1),
            ("40000", "d", 2),
            ("120000", "l", 3),
            ("160000", "m", 4),
            ("100664", "x", 5),
            ("0", "z", 6),
        ]);
        let kinds: Vec<_> = entries(&data, gix::hash::Kind::Sha1)
            .expect("git accepts every entry")
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                EntryKind::Blob,
                EntryKind::Tree,
                EntryKind::Symlink,
                EntryKind::Gitlink,
                EntryKind::Blob,
                EntryKind::Other
            ]
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_their_offset() {
        for bad in [&b"10064x a\0"[..], b"100644 \0", b"100644 a\0short", b"100644 a"] {
            assert!(entries(bad, gix::hash::Kind::Sha1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lookups_survive_unsorted_trees() {
        let data = raw(&[("100644", "b", 1), ("100644", "a", 2)]);
        let list = entries(&data, gix::hash::Kind::Sha1).expect("valid");
        assert!(!is_sorted(&list));
        assert_eq!(find(&list, false, b"a", false).map(|e| e.id[0]), Some(2));
        assert!(find(&list, false, b"a", true).is_none());
        let data = raw(&[("100644", "a", 2), ("100644", "b", 1)]);
        let list = entries(&data, gix::hash::Kind::Sha1).expect("valid");
        assert!(is_sorted(&list));
        assert_eq!(find(&list, true, b"b", false).map(|e| e.id[0]), Some(1));
    }

    #[test]
    fn git_order_sorts_trees_as_if_they_ended_in_a_slash() {
        assert_eq!(git_order(b"a.b", false, b"a", true), Ordering::Less);
        assert_eq!(git_order(b"a", false, b"a.b", false), Ordering::Less);
        assert_eq!(git_order(b"a", true, b"a", true), Ordering::Equal);
        assert_eq!(git_order(b"a", true, b"a", false), Ordering::Greater);
        assert_eq!(git_order(b"a-b", false, b"a", true), Ordering::Less);
        assert_eq!(git_order(b"a0", false, b"a", true), Ordering::Greater);
    }

    #[test]
    fn commit_tree_and_parents() {
        let commit = format!("tree {}\nparent {}\n\nsubject\n", "ab".repeat(20), "cd".repeat(20));
        let tree = commit_tree(commit.as_bytes(), gix::hash::Kind::Sha1).expect("tree line");
        assert_eq!(tree.to_string(), "ab".repeat(20));
        assert!(commit_tree(b"parent x\n", gix::hash::Kind::Sha1).is_err());
        let parents = commit_parents(commit.as_bytes(), gix::hash::Kind::Sha1).expect("parents");
        assert_eq!(parents.len(), 1);
        assert_eq!(parents[0].to_string(), "cd".repeat(20));
    }
}
