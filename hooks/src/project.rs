//! The project configuration as the hook may trust it: the `.leakgate.toml` of the protected
//! branch's tree as it is before the push (the ref is not updated until every pre-receive
//! check passed), never a file the push itself brings.

use std::path::{Path, PathBuf};

use gix::objs::Find;
use gix::ObjectId;

use crate::objects::Objects;
use crate::walk::open_repository;

/// Largest project file read; a bigger one is an error, not a partial read.
const MAX_PROJECT_FILE: usize = 1 << 20;

/// The text of `name` at the root of `reference`'s tree (`None`: the branch `HEAD` names), and
/// the full ref name it came from. `Ok(None)` when the branch or the file does not exist (a
/// new repository).
///
/// # Errors
///
/// The repository or the file cannot be read, the entry is not a regular file, or it is
/// larger than 1 MiB or not UTF-8.
pub fn protected_file(
    git_dir: &Path,
    reference: Option<&str>,
    name: &str,
) -> Result<Option<(String, String)>, String> {
    let repo = open_repository(git_dir).map_err(|e| e.to_string())?;
    let Some(ref_name) = protected_ref(&repo, reference)? else { return Ok(None) };
    let Some(mut found) =
        repo.try_find_reference(ref_name.as_str()).map_err(|e| format!("{ref_name}: {e}"))?
    else {
        return Ok(None);
    };
    let full = found.name().as_bstr().to_string();
    if full != ref_name {
        // The lookup's fallbacks (`refs/tags/<name>`, ...) name another ref: not this branch.
        return Ok(None);
    }
    let id = found.peel_to_id().map_err(|e| format!("{full}: {e}"))?.detach();
    Ok(file_in(&repo, id, name, &full)?.map(|text| (full, text)))
}

/// The full name of the protected branch: `reference` (`leakgate.projectConfigRef`), or the
/// branch `HEAD` names; `None` when `HEAD` names none.
///
/// # Errors
///
/// `reference` is not a branch name, or `HEAD` cannot be read.
pub fn protected_ref(
    repo: &gix::Repository,
    reference: Option<&str>,
) -> Result<Option<String>, String> {
    match reference {
        Some(r) => branch_ref(r).map(Some),
        None => Ok(repo
            .head_name()
            .map_err(|e| format!("reading HEAD: {e}"))?
            .map(|name| name.as_bstr().to_string())),
    }
}

/// The project file of a commit a push brings, as [`protected_file`] reads it once the push
/// has landed: the first tree entry of that name (gix's lookup), its id, and its text or why
/// it cannot be used (not a regular file, over 1 MiB, not UTF-8).
#[derive(Debug)]
pub struct PushedFile {
    /// The entry's object.
    pub id: ObjectId,
    /// The entry's mode, as git stores it (`0o100644`, `0o120000`, ...).
    pub mode: u16,
    /// The text, or why the file cannot be used.
    pub text: Result<String, String>,
}

/// The file `name` at the root of the tree of `commit` (a tag is peeled), read through
/// `objects` (which see a push's quarantine); `Ok(None)` without such an entry.
///
/// # Errors
///
/// The commit or its tree cannot be read.
pub fn pushed_file(
    objects: &Objects,
    commit: ObjectId,
    name: &str,
) -> Result<Option<PushedFile>, String> {
    let mut buf = Vec::new();
    let mut id = commit;
    let tree = loop {
        let data = objects
            .try_find(&id, &mut buf)
            .map_err(|e| format!("{id}: {e}"))?
            .ok_or_else(|| format!("{id} is missing"))?;
        match data.kind {
            gix::object::Kind::Commit => {
                break crate::tree::commit_tree(data.data, objects.hash_kind())
                    .map_err(|e| format!("commit {id}: {e}"))?;
            }
            gix::object::Kind::Tag if id == commit => {
                id = gix::objs::TagRef::from_bytes(data.data, objects.hash_kind())
                    .map_err(|e| format!("tag {id}: {e}"))?
                    .target();
            }
            kind => return Err(format!("{commit} does not name a commit ({kind})")),
        }
    };
    let data = objects
        .try_find(&tree, &mut buf)
        .map_err(|e| format!("tree {tree}: {e}"))?
        .filter(|d| d.kind == gix::object::Kind::Tree)
        .ok_or_else(|| format!("tree {tree} is missing"))?;
    let entry = gix::objs::TreeRefIter::from_bytes(data.data, objects.hash_kind())
        .filter_map(Result::ok)
        .find(|e| e.filename == name.as_bytes())
        .map(|e| (e.oid.to_owned(), e.mode));
    let Some((entry, mode)) = entry else { return Ok(None) };
    let file = |text| Ok(Some(PushedFile { id: entry, mode: mode.value(), text }));
    if !mode.is_blob() {
        return file(Err(format!("{name} is not a regular file")));
    }
    let text = match objects.try_find(&entry, &mut buf).map_err(|e| format!("{entry}: {e}"))? {
        None => return Err(format!("{name} ({entry}) is missing")),
        Some(d) if d.data.len() > MAX_PROJECT_FILE => Err(format!("{name} is larger than 1 MiB")),
        Some(d) => String::from_utf8(d.data.to_vec()).map_err(|_| format!("{name} is not UTF-8")),
    };
    file(text)
}

/// The rules the hook and the service scan with before any project file: the built-in
/// catalog and the server's rule files (`server_rules`).
///
/// # Errors
///
/// A server rule file cannot be read, parsed or added.
pub fn server_rules(server_rules: &[PathBuf]) -> Result<leakgate_rules::RuleSetBuilder, String> {
    let mut builder = leakgate_rules::RuleSetBuilder::new().builtin();
    for path in server_rules {
        let rules = leakgate_rules::load_rule_file(path).map_err(|e| e.to_string())?;
        builder = builder.rules(rules, &path.display().to_string()).map_err(|e| e.to_string())?;
    }
    Ok(builder)
}

/// The project file `text` applied as the hook and the service apply it: over
/// [`server_rules`], `origin` naming it in errors; with the file as parsed.
///
/// # Errors
///
/// Why not: the file does not parse, or names a rule that does not exist, or adds one that
/// does not compile; or a server rule file cannot be read.
pub fn project_rules(
    server_rules_files: &[PathBuf],
    text: &str,
    origin: &str,
) -> Result<(leakgate_rules::RuleSetBuilder, leakgate_rules::ProjectConfig), String> {
    let project =
        leakgate_rules::ProjectConfig::parse(text, Path::new(origin)).map_err(|e| e.to_string())?;
    let mut builder = server_rules(server_rules_files)?;
    project.apply(&mut builder).map_err(|e| e.to_string())?;
    Ok((builder, project))
}

/// Whether a project file's `text` can be applied as the hook applies it ([`project_rules`]).
///
/// # Errors
///
/// As [`project_rules`].
pub fn check_project_file(
    server_rules: &[PathBuf],
    text: &str,
    origin: &str,
) -> Result<(), String> {
    project_rules(server_rules, text, origin).map(|_| ())
}

/// The full name of the branch `name` (`main` or `refs/heads/main`). Only branches: a short
/// name would be looked up as `refs/<name>` and `refs/tags/<name>` first, names a pusher may
/// create.
fn branch_ref(name: &str) -> Result<String, String> {
    let name = name.trim();
    let full =
        if name.starts_with("refs/") { name.to_owned() } else { format!("refs/heads/{name}") };
    let valid = full.starts_with("refs/heads/")
        && full.len() > "refs/heads/".len()
        && !full.contains("..")
        && !full.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if valid {
        Ok(full)
    } else {
        Err(format!("leakgate.projectConfigRef {name:?} is not a branch (refs/heads/...)"))
    }
}

/// The text of `name` at the root of the tree of `commit` (hex), in the repository at
/// `git_dir`; `Ok(None)` when the file does not exist.
///
/// # Errors
///
/// As [`protected_file`]; also a commit that is not in the repository.
pub fn file_at_commit(git_dir: &Path, commit: &str, name: &str) -> Result<Option<String>, String> {
    let repo = open_repository(git_dir).map_err(|e| e.to_string())?;
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| format!("{commit}: {e}"))?;
    file_in(&repo, id, name, commit)
}

fn file_in(
    repo: &gix::Repository,
    id: gix::ObjectId,
    name: &str,
    shown: &str,
) -> Result<Option<String>, String> {
    let commit = repo
        .find_object(id)
        .map_err(|e| format!("{shown}: {e}"))?
        .peel_to_commit()
        .map_err(|e| format!("{shown}: {e}"))?;
    let tree = commit.tree().map_err(|e| format!("{shown}: {e}"))?;
    let Some(entry) = tree.find_entry(name) else { return Ok(None) };
    if !entry.mode().is_blob() {
        return Err(format!("{name} on {shown} is not a regular file"));
    }
    let object = entry.object().map_err(|e| format!("{name} on {shown}: {e}"))?;
    if object.data.len() > MAX_PROJECT_FILE {
        return Err(format!("{name} on {shown} is larger than 1 MiB"));
    }
    String::from_utf8(object.data.clone())
        .map(Some)
        .map_err(|_| format!("{name} on {shown} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::branch_ref;

    #[test]
    fn the_protected_ref_is_a_full_branch_name() {
        assert_eq!(branch_ref("main").as_deref(), Ok("refs/heads/main"));
        assert_eq!(branch_ref("refs/heads/release/1.x").as_deref(), Ok("refs/heads/release/1.x"));
        for bad in ["refs/tags/main", "refs/main", "refs/heads/", "refs/heads/a..b", "ma in", ""] {
            assert!(branch_ref(bad).is_err(), "{bad}");
        }
    }
}
