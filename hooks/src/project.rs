//! The project configuration as the hook may trust it: the `.leakgate.toml` of the protected
//! branch's tree as it is before the push (the ref is not updated until every pre-receive
//! check passed), never a file the push itself brings.

use std::path::Path;

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
    let ref_name = match reference {
        Some(r) => branch_ref(r)?,
        None => match repo.head_name().map_err(|e| format!("reading HEAD: {e}"))? {
            Some(name) => name.as_bstr().to_string(),
            None => return Ok(None),
        },
    };
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
