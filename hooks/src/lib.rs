//! leakgate's git side: finding the blobs that a range of commits adds, scanning them, and the
//! pre-receive hook that decides on a push.
//!
//! The same walk serves `leakgate scan --git` (history) and, with the repository's existing
//! refs as the boundary and git's quarantine directory in view, the pre-receive hook: each new
//! blob is scanned once and attributed to the first commit and path that add it. This crate
//! knows nothing of HTTP or storage, and is synchronous.
#![forbid(unsafe_code)]

mod bulk;
mod config;
mod coverage;
mod install;
mod lfs;
mod objects;
mod prereceive;
mod project;
mod push;
mod tree;
mod walk;

pub use config::{BypassMode, HookConfig, HookSettings, InlineAllow, Mode, SettingError};
pub use coverage::{
    new_objects, Class, NewBlob, NewObject, ParentBlob, PathClasses, Walked, NEUTRAL, SKIPPED,
};
pub use install::{
    enable_push_options_system, install_global, install_repo, script, Flavor, InstallError, MARKER,
};
pub use objects::{null_id, quarantine_from_env, shallow_from_env, Objects};
pub use prereceive::{
    append_record, blocks, bypass_request, pre_receive, push_options, pusher, ref_name_findings,
    scoped_waiver_globs, withhold_names, AuditFinding, AuditRecord, AuditUpdate, Bypass,
    Exceptions, HookContext, NoExceptions, ReadOnce, Recorder, RequestToOpen, RequestView, Site,
    Verdict, WaiverView, BYPASS_REASONS, INLINE_ALLOW_REASON, REF_NAMES,
};
pub use project::{
    check_project_file, file_at_commit, project_rules, protected_file, server_rules,
};
pub use push::{escape, parse_updates, ParseError, RefUpdate};
pub use tree::ObjectFormatError;
pub use walk::{
    all_ref_tips, open_repository, scan_history, scan_new_blobs, HistoryError, HistoryFinding,
    HistoryOptions, HistoryStats, Progress, Selection, WalkOptions, COMMIT_HEADER, COMMIT_MESSAGE,
    TAG_HEADER, TAG_MESSAGE,
};

/// `git -C dir <args>` for unit tests, with an identity for commits; its standard output.
#[cfg(test)]
pub(crate) fn test_git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}
