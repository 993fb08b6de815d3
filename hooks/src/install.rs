//! Installing the pre-receive hook where each platform looks for it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The first lines of a hook written by leakgate; anything else is a foreign hook.
pub const MARKER: &str = "# managed by leakgate: `leakgate hook install` rewrites this file";

/// Where a platform runs pre-receive hooks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Plain git (ssh, http-backend, git daemon) and GitHub Enterprise Server:
    /// `hooks/pre-receive`.
    Plain,
    /// GitLab server hooks: `custom_hooks/pre-receive.d/leakgate`.
    Gitlab,
    /// Gitea and Forgejo: `hooks/pre-receive.d/leakgate` (Gitea owns `hooks/pre-receive`).
    Gitea,
}

impl std::str::FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" => Ok(Flavor::Plain),
            "gitlab" => Ok(Flavor::Gitlab),
            "gitea" | "forgejo" => Ok(Flavor::Gitea),
            other => Err(format!("unknown flavor {other:?} (plain, gitlab or gitea)")),
        }
    }
}

/// Why the hook could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Not a bare or non-bare git repository.
    #[error("{0} is not a git repository")]
    NotARepository(PathBuf),
    /// A hook that leakgate did not write is in the way.
    #[error("{0} exists and was not written by leakgate; move it away or pass --force")]
    Foreign(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `git config receive.advertisePushOptions true` failed.
    #[error("cannot enable push options in {0}: {1}")]
    Config(PathBuf, String),
}

/// The hook script: runs `binary pre-receive`, passing standard input through.
pub fn script(binary: &Path) -> String {
    let quoted = binary.display().to_string().replace('\'', r"'\''");
    format!("#!/bin/sh\n{MARKER}\nexec '{quoted}' pre-receive \"$@\"\n")
}

/// The git directory of `repo` (bare repositories are their own git directory).
fn git_dir(repo: &Path) -> Result<PathBuf, InstallError> {
    if repo.join("objects").is_dir() && repo.join("refs").is_dir() {
        return Ok(repo.to_owned());
    }
    let dot_git = repo.join(".git");
    if dot_git.join("objects").is_dir() {
        return Ok(dot_git);
    }
    Err(InstallError::NotARepository(repo.to_owned()))
}

/// Writes the hook for `flavor` into `repo` and enables push options (for bypass requests).
/// Returns the path written.
///
/// # Errors
///
/// Not a repository, a foreign hook in the way (unless `force`), or a write failure.
pub fn install_repo(
    repo: &Path,
    flavor: Flavor,
    binary: &Path,
    force: bool,
) -> Result<PathBuf, InstallError> {
    let git_dir = git_dir(repo)?;
    let target = match flavor {
        Flavor::Plain => git_dir.join("hooks").join("pre-receive"),
        Flavor::Gitlab => git_dir.join("custom_hooks").join("pre-receive.d").join("leakgate"),
        Flavor::Gitea => git_dir.join("hooks").join("pre-receive.d").join("leakgate"),
    };
    write_hook(&target, binary, force)?;
    // `git config` replaces the file (lock and rename): run as root, it would leave a config
    // owned by root, with root's umask, that the repository's owner may not read. Keep the
    // owner and mode the file had.
    let config = git_dir.join("config");
    let before = fs::metadata(&config).ok();
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(&git_dir)
        .args(["config", "receive.advertisePushOptions", "true"])
        .output()
        .map_err(|e| InstallError::Config(git_dir.clone(), e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(InstallError::Config(git_dir, err));
    }
    #[cfg(unix)]
    if let Some(before) = before {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let io = |source| InstallError::Io { path: config.clone(), source };
        let after = fs::metadata(&config).map_err(io)?;
        if (after.uid(), after.gid()) != (before.uid(), before.gid()) {
            std::os::unix::fs::chown(&config, Some(before.uid()), Some(before.gid()))
                .map_err(io)?;
        }
        if after.mode() & 0o7777 != before.mode() & 0o7777 {
            fs::set_permissions(&config, fs::Permissions::from_mode(before.mode() & 0o7777))
                .map_err(io)?;
        }
    }
    Ok(target)
}

/// Writes the hook as `dir/pre-receive`, for a server-wide hooks directory
/// (`core.hooksPath`, GitLab's global `custom_hooks_dir`, a GHES pre-receive environment).
///
/// # Errors
///
/// A foreign hook in the way (unless `force`), or a write failure.
pub fn install_global(dir: &Path, binary: &Path, force: bool) -> Result<PathBuf, InstallError> {
    let target = dir.join("pre-receive");
    write_hook(&target, binary, force)?;
    Ok(target)
}

/// Sets `receive.advertisePushOptions = true` in git's system configuration (the file
/// `git config --system` writes; `GIT_CONFIG_SYSTEM` names another), so that bypass requests
/// reach a server-wide hook in every repository. Plain git needs this; GitLab and GHES
/// advertise push options themselves.
///
/// # Errors
///
/// `git config --system` fails (typically: not run as root). Nothing else was changed.
pub fn enable_push_options_system() -> Result<(), InstallError> {
    let out = Command::new("git")
        .args(["config", "--system", "receive.advertisePushOptions", "true"])
        .output()
        .map_err(|e| InstallError::Config(PathBuf::from("--system"), e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(InstallError::Config(PathBuf::from("git's system configuration"), err));
    }
    Ok(())
}

fn write_hook(target: &Path, binary: &Path, force: bool) -> Result<(), InstallError> {
    let io = |source| InstallError::Io { path: target.to_owned(), source };
    if let Ok(existing) = fs::read_to_string(target) {
        if !existing.contains(MARKER) && !force {
            return Err(InstallError::Foreign(target.to_owned()));
        }
    } else if target.exists() && !force {
        return Err(InstallError::Foreign(target.to_owned()));
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(".leakgate-hook.tmp");
    let mut file = fs::File::create(&tmp).map_err(io)?;
    file.write_all(script(binary).as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    drop(file);
    fs::rename(&tmp, target).map_err(io)
}
