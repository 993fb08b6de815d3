//! Per-repository bare mirrors: the pushed commits are fetched with gix, by object id, and
//! scanned with the same walk as the pre-receive hook.
//!
//! A push's new commits are those reachable from `after` and not from `before`: exactly the
//! range the forge reports, whatever order the jobs run in. A new ref has no `before`; its new
//! commits are those that no ref seen before reaches: the mirror keeps one ref per pushed
//! branch under `refs/leakgate/scanned/`, as the hook takes the commits that no existing ref
//! reaches.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gix::remote::Direction;
use gix::ObjectId;
use leakgate_hooks::{scan_new_blobs, HistoryFinding, HistoryStats, Objects, WalkOptions};
use leakgate_rules::{RuleSet, ScanOptions};

use crate::config::Sensitive;

const SCANNED: &str = "refs/leakgate/scanned/";
const INCOMING: &str = "refs/leakgate/incoming/";

/// Why a fetch or scan failed (retried by the job queue).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The mirror cannot be opened or created.
    #[error("mirror {path}: {message}")]
    Open {
        /// The mirror.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The fetch failed (network, credentials, unknown objects).
    #[error("fetching from {url}: {message}")]
    Fetch {
        /// The remote, credentials removed.
        url: String,
        /// Why.
        message: String,
    },
    /// The pushed commit is not in the mirror after the fetch.
    #[error("commit {0} is not on the remote (force-pushed away?)")]
    Missing(String),
    /// The walk or the scan failed.
    #[error("scanning: {0}")]
    Scan(String),
}

/// Credentials for HTTPS: user name and password/token.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// `x-access-token` (GitHub App), `oauth2` (GitLab), the token owner (Gitea).
    pub username: String,
    /// The token.
    pub password: Sensitive,
}

/// `url` without any userinfo, for messages.
pub fn display_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Whether `url`'s host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The mirror directory for `forge`/`repo` under `root`.
pub fn mirror_path(root: &Path, forge: &str, repo: &str) -> PathBuf {
    let safe: String = repo
        .chars()
        .map(
            |c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '+' },
        )
        .collect();
    root.join(forge).join(format!("{safe}.git"))
}

fn open_or_init(path: &Path) -> Result<gix::Repository, MirrorError> {
    let fail = |e: &dyn std::fmt::Display| MirrorError::Open {
        path: path.to_owned(),
        message: e.to_string(),
    };
    if path.join("objects").is_dir() {
        return gix::open(path).map_err(|e| fail(&e));
    }
    std::fs::create_dir_all(path).map_err(|e| fail(&e))?;
    gix::init_bare(path).map_err(|e| fail(&e))
}

fn parse_id(repo: &gix::Repository, hex: &str) -> Result<ObjectId, MirrorError> {
    ObjectId::from_hex(hex.as_bytes())
        .ok()
        .filter(|id| id.kind() == repo.object_hash())
        .ok_or_else(|| MirrorError::Scan(format!("bad object id {hex}")))
}

/// Fetches `wants` (object ids) from `url` into the mirror at `path`, creating it on first
/// use. Objects already in the mirror are not fetched again.
///
/// # Errors
///
/// [`MirrorError`].
pub fn fetch(
    path: &Path,
    url: &str,
    credentials: Option<&Credentials>,
    wants: &[&str],
    tip: Option<&str>,
) -> Result<(), MirrorError> {
    let repo = open_or_init(path)?;
    let mut specs = Vec::new();
    for want in wants {
        let id = parse_id(&repo, want)?;
        if !repo.has_object(id) {
            specs.push(format!("+{id}:{INCOMING}{id}"));
        }
    }
    if specs.is_empty() {
        return Ok(());
    }
    // The pushed ref's current tip comes along: pushes arrive in bursts, and the next jobs of
    // the burst then find their commits here without a round trip. Only objects: what is
    // scanned is still exactly `before..after`.
    if let Some(tip) =
        tip.filter(|t| t.starts_with("refs/") && !t.contains("..") && !t.contains(':'))
    {
        specs.push(format!("+{tip}:{INCOMING}tips/{}", tip.trim_start_matches("refs/")));
    }
    let shown = display_url(url);
    if credentials.is_some() && url.starts_with("http://") && !is_loopback_url(url) {
        return Err(MirrorError::Fetch {
            url: shown,
            message:
                "refusing to send credentials over plain http (use https, or a loopback address)"
                    .into(),
        });
    }
    let fail = |e: &dyn std::fmt::Display| MirrorError::Fetch {
        url: shown.clone(),
        message: format!("{e:#}"),
    };
    let mut remote =
        repo.remote_at(url).map_err(|e| fail(&e))?.with_fetch_tags(gix::remote::fetch::Tags::None);
    remote
        .replace_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
        .map_err(|e| fail(&e))?;
    let mut connection = remote.connect(Direction::Fetch).map_err(|e| fail(&e))?;
    let identity = credentials.map(|c| (c.username.clone(), c.password.clone()));
    connection.set_credentials(move |action| match (action, &identity) {
        (gix::credentials::helper::Action::Get(ctx), Some((username, password))) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.expose().to_owned(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    });
    let interrupt = AtomicBool::new(false);
    connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| fail(&e))?
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| fail(&e))?;
    Ok(())
}

/// The result of scanning a push in a mirror.
pub struct Scanned {
    /// Findings, ordered by commit, path and line.
    pub findings: Vec<leakgate_rules::Finding>,
    /// What the walk covered.
    pub stats: HistoryStats,
}

/// Scans the commits `after` adds over `before` and the mirror's scanned refs. The caller
/// marks `after` scanned ([`mark_scanned`]) once the findings are reported, so that a job
/// re-run after a crash scans the same commits again.
///
/// # Errors
///
/// [`MirrorError`].
#[allow(clippy::too_many_arguments)]
pub fn scan_push(
    path: &Path,
    before: &str,
    after: &str,
    rules: &RuleSet,
    key: &leakgate_rules::FingerprintKey,
    threads: usize,
    stream_above: u64,
    deadline: Option<Instant>,
) -> Result<Scanned, MirrorError> {
    let scan_err = |e: &dyn std::fmt::Display| MirrorError::Scan(e.to_string());
    let mut repo = gix::open(path).map_err(|e| scan_err(&e))?;
    repo.object_cache_size_if_unset(64 << 20);
    let after_id = parse_id(&repo, after)?;
    if !repo.has_object(after_id) {
        return Err(MirrorError::Missing(after.to_owned()));
    }
    // An update scans exactly `before..after`, whatever order jobs run in (a later push's
    // scanned tip must not hide an earlier push's commits). A new ref (or a `before` gone
    // from the server) has no range: it scans what no scanned tip reaches.
    let before_id =
        if crate::event::is_zero(before) { None } else { Some(parse_id(&repo, before)?) };
    let hidden = match before_id.filter(|id| repo.has_object(*id)) {
        Some(id) => vec![id],
        None => scanned_tips(&repo).map_err(|e| scan_err(&e))?,
    };
    let objects = Objects::new(&repo, None).map_err(|e| scan_err(&e))?;
    let options = WalkOptions {
        // An inline allow comment is not a way around the service: the finding is reported,
        // flagged.
        scan: ScanOptions { flag_inline_allows: true, ..ScanOptions::default() },
        threads: threads.max(1),
        deadline,
        stream_above,
        git_dir: repo.git_dir().to_owned(),
    };
    let findings = std::sync::Mutex::new(Vec::new());
    let stats = scan_new_blobs(
        &objects,
        &[after_id],
        &hidden,
        rules,
        &options,
        |h: HistoryFinding<'_>| {
            let f = leakgate_rules::Finding::new(h.found, &h.path, Some(h.commit.to_string()), key);
            findings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(f);
        },
        |warning| tracing::warn!("{warning}"),
    )
    .map_err(|e| scan_err(&e))?;
    if !stats.complete {
        return Err(MirrorError::Scan(format!(
            "time limit reached with {} blobs unscanned",
            stats.unscanned
        )));
    }
    let mut findings = findings.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    findings.sort_by(|a, b| (&a.commit, &a.path, a.line).cmp(&(&b.commit, &b.path, b.line)));
    Ok(Scanned { findings, stats })
}

fn scanned_tips(
    repo: &gix::Repository,
) -> Result<Vec<ObjectId>, Box<dyn std::error::Error + Send + Sync>> {
    let platform = repo.references()?;
    let mut tips = Vec::new();
    for reference in platform.prefixed(SCANNED)? {
        let Ok(mut reference) = reference else { continue };
        if let Ok(id) = reference.peel_to_id() {
            tips.push(id.detach());
        }
    }
    Ok(tips)
}

/// Records that the commits `after` reaches are scanned (`git_ref`'s scanned tip), and drops
/// the temporary refs of the fetch.
///
/// # Errors
///
/// [`MirrorError::Scan`] when the ref cannot be written.
pub fn mark_scanned(path: &Path, git_ref: &str, after: &str) -> Result<(), MirrorError> {
    let scan_err = |e: &dyn std::fmt::Display| MirrorError::Scan(e.to_string());
    let repo = gix::open(path).map_err(|e| scan_err(&e))?;
    let id = parse_id(&repo, after)?;
    write_scanned(&repo, git_ref, id).map_err(|e| scan_err(&e))
}

fn write_scanned(
    repo: &gix::Repository,
    git_ref: &str,
    id: ObjectId,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let name = git_ref.strip_prefix("refs/").unwrap_or(git_ref);
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_./".contains(c) { c } else { '_' })
        .collect();
    let safe = safe.replace("..", "_");
    repo.reference(
        format!("{SCANNED}{safe}"),
        id,
        gix::refs::transaction::PreviousValue::Any,
        "leakgate: scanned",
    )?;
    // The incoming refs only kept fetched objects alive until they were scanned.
    let incoming: Vec<_> = repo
        .references()?
        .prefixed(INCOMING)?
        .filter_map(Result::ok)
        .map(|r| r.name().to_owned())
        .collect();
    for name in incoming {
        if let Ok(reference) = repo.find_reference(&name) {
            let _ = reference.delete();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_over_plain_http_only_to_loopback() {
        assert!(is_loopback_url("http://127.0.0.1:8080/a/b.git"));
        assert!(is_loopback_url("http://localhost/a.git"));
        assert!(is_loopback_url("http://[::1]:9/a.git"));
        assert!(!is_loopback_url("http://git.example.com/a.git"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example/a.git"));
        let creds = Credentials { username: "u".into(), password: Sensitive::new("p") };
        let dir = tempfile::tempdir().expect("tempdir");
        let err = fetch(
            &dir.path().join("m.git"),
            "http://git.example.com/a.git",
            Some(&creds),
            &["1".repeat(40).as_str()],
            Some("refs/heads/main"),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("plain http"), "{err}");
        assert_eq!(display_url("https://user:tok@host/x.git"), "https://host/x.git");
    }
}
