//! Per-repository bare mirrors: the pushed commits are fetched with gix, by object id, and
//! scanned with the same walk as the pre-receive hook.
//!
//! A push's new commits are those reachable from `after` and not from `before`: exactly the
//! range the forge reports, whatever order the jobs run in. A new ref has no `before`; its new
//! commits are those that no ref seen before reaches: the mirror keeps one ref per pushed
//! branch under `refs/leakgate/scanned/`, as the hook takes the commits that no existing ref
//! reaches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gix::remote::Direction;
use gix::ObjectId;
use leakgate_hooks::{scan_new_blobs, HistoryFinding, HistoryStats, Objects, WalkOptions};
use leakgate_rules::{RuleSet, ScanOptions};

use crate::config::Sensitive;

const SCANNED: &str = "refs/leakgate/scanned/";
const INCOMING: &str = "refs/leakgate/incoming/";

/// The cause of a [`MirrorError`]: gix's error, or a refusal's text.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a fetch or scan failed (retried by the job queue). The cause is kept as the error's
/// source.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The mirror cannot be opened or created.
    #[error("mirror {}", .path.display())]
    Open {
        /// The mirror.
        path: PathBuf,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The fetch failed or was refused (network, credentials, unknown objects, a URL that
    /// is not the forge's).
    #[error("fetching from {url}")]
    Fetch {
        /// The remote, credentials removed.
        url: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The pushed commit is not in the mirror after the fetch.
    #[error("commit {0} is not on the remote (force-pushed away?)")]
    Missing(String),
    /// The walk or the scan failed.
    #[error("scanning")]
    Scan(#[source] Cause),
}

impl MirrorError {
    /// The error with its causes, on one line.
    pub fn chain(&self) -> String {
        error_chain(self)
    }
}

/// `e` and its causes, on one line, separated by `: `.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Credentials for HTTPS: user name and password/token.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// `x-access-token` (GitHub App), `oauth2` (GitLab), the token owner (Gitea).
    pub username: String,
    /// The token.
    pub password: Sensitive,
}

/// Where a fetch goes.
#[derive(Clone, Debug)]
pub enum Source {
    /// A forge repository: the configured base with the repository's path appended; the
    /// credentials are given to that host only.
    Forge {
        /// `{base}/{path}.git`.
        url: reqwest::Url,
        /// For that host.
        credentials: Option<Credentials>,
    },
    /// A repository on this machine (the git server's own, for a fail-open rescan): never
    /// from a payload.
    Local(PathBuf),
}

impl Source {
    fn display(&self) -> String {
        match self {
            Source::Forge { url, .. } => display_url(url.as_str()),
            Source::Local(path) => path.display().to_string(),
        }
    }
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

/// Whether a repository path (`owner/name`, `group/subgroup/project`) is one the forges
/// allow: segments of letters, digits, `-`, `_` and `.`, none of them `.` or `..`. Such a
/// path cannot change the host, scheme or query of the URL it is appended to.
pub fn is_repository_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// The fetch URL of `repo` under the configured `base`.
///
/// # Errors
///
/// [`MirrorError::Fetch`] for a repository path the forges do not allow.
pub fn repository_url(base: &reqwest::Url, repo: &str) -> Result<reqwest::Url, MirrorError> {
    let refuse = |message: &str| MirrorError::Fetch {
        url: display_url(base.as_str()),
        source: message.to_owned().into(),
    };
    if !is_repository_path(repo) {
        return Err(refuse("the repository path is not one a forge allows"));
    }
    let joined = format!("{}/{repo}.git", base.as_str().trim_end_matches('/'));
    let url = reqwest::Url::parse(&joined).map_err(|e| refuse(&e.to_string()))?;
    if !same_origin(&url, base) {
        return Err(refuse("the repository path changes the host"));
    }
    Ok(url)
}

/// Whether `a` and `b` have the same scheme, host and port.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether the credential request `ctx` is for `expected`'s host: git asks for credentials
/// per URL, and only the configured forge's host gets them (not a redirect target).
fn credentials_requested_for(
    ctx: &gix::credentials::protocol::Context,
    expected: &reqwest::Url,
) -> bool {
    if let Some(url) = ctx.url.as_ref() {
        return std::str::from_utf8(url)
            .ok()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .is_some_and(|u| same_origin(&u, expected));
    }
    let host = match (expected.host_str(), expected.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => return false,
    };
    ctx.protocol.as_deref() == Some(expected.scheme()) && ctx.host.as_deref() == Some(&host)
}

/// Whether `url`'s host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback_url(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
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
    let fail = |e: Cause| MirrorError::Open { path: path.to_owned(), source: e };
    if path.join("objects").is_dir() {
        return leakgate_hooks::open_repository(path).map_err(|e| fail(e.into()));
    }
    std::fs::create_dir_all(path).map_err(|e| fail(e.into()))?;
    gix::init_bare(path).map_err(|e| fail(e.into()))
}

fn parse_id(repo: &gix::Repository, hex: &str) -> Result<ObjectId, MirrorError> {
    ObjectId::from_hex(hex.as_bytes())
        .ok()
        .filter(|id| id.kind() == repo.object_hash())
        .ok_or_else(|| MirrorError::Scan(format!("bad object id {hex}").into()))
}

/// Whether `name` may be fetched as a tip (a plain ref name, nothing a refspec would read
/// otherwise).
fn is_tip_ref(name: &str) -> bool {
    name.starts_with("refs/")
        && !name.contains("..")
        && !name.contains(':')
        && !name.contains('*')
        && !name.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Fetches `wants` (object ids) from `source` into the mirror at `path`, creating it on
/// first use. Objects already in the mirror are not fetched again. The fetch ends by
/// `deadline` or when `interrupt` is set (checked while the pack is read), and fails when
/// the remote sends nothing for 30 s or does not connect within 10 s.
///
/// # Errors
///
/// [`MirrorError`].
pub fn fetch(
    path: &Path,
    source: &Source,
    wants: &[&str],
    tips: &[&str],
    deadline: Instant,
    interrupt: &AtomicBool,
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
    // Kept under a number, not the tip's name: a ref may be named after a key, and this ref
    // is on disk until the scan ends.
    for (i, tip) in tips.iter().filter(|t| is_tip_ref(t)).enumerate() {
        specs.push(format!("+{tip}:{INCOMING}tips/{i}"));
    }
    let shown = source.display();
    let fail = |e: Cause| MirrorError::Fetch { url: shown.clone(), source: e };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(fail("the time limit was reached before the fetch".into()));
    }
    let (url, credentials) = match source {
        Source::Forge { url, credentials } => {
            if !matches!(url.scheme(), "https" | "http") {
                return Err(fail("only https:// and http:// remotes are fetched".into()));
            }
            if credentials.is_some() && url.scheme() == "http" && !is_loopback_url(url) {
                return Err(fail("refusing to send credentials over plain http (use https, or a loopback address)".into()));
            }
            (url.as_str().to_owned(), credentials.clone().map(|c| (url.clone(), c)))
        }
        Source::Local(path) => (path.display().to_string(), None),
    };
    let mut remote = repo
        .remote_at(url.as_str())
        .map_err(|e| fail(e.into()))?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    remote
        .replace_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
        .map_err(|e| fail(e.into()))?;
    let mut connection = remote.connect(Direction::Fetch).map_err(|e| fail(e.into()))?;
    if matches!(source, Source::Forge { .. }) {
        connection = connection.with_transport_options(Box::new(http_options(left)));
    }
    connection.set_credentials(move |action| match (action, &credentials) {
        (gix::credentials::helper::Action::Get(ctx), Some((expected, c))) => {
            if !credentials_requested_for(&ctx, expected) {
                tracing::warn!(
                    configured = %display_url(expected.as_str()),
                    "credentials were asked for another host (a redirect?): none given"
                );
                return Ok(None);
            }
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: c.username.clone(),
                    password: c.password.expose().to_owned(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    });
    // gix checks `stop` while it reads the pack: set at the deadline or on the job's
    // cancel, it ends a fetch that still receives bytes (a slow trickle) in time.
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if interrupt.load(Ordering::Relaxed) || Instant::now() >= deadline {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let fetched = connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| fail(e.into()))
            .and_then(|prepared| {
                prepared.receive(gix::progress::Discard, &stop).map_err(|e| fail(e.into()))
            });
        done.store(true, Ordering::Relaxed);
        fetched.map(drop)
    })
}

/// Longest wait for the next bytes of a fetch's answer: a remote that sends nothing for this
/// long fails the fetch (the low-speed limit: zero bytes in 30 s).
const FETCH_STALL: Duration = Duration::from_secs(30);

/// HTTP settings of a forge fetch: no redirects (credentials and objects come from the
/// configured host only), connections within 10 s, and no wait for an answer's headers or
/// its next bytes longer than [`FETCH_STALL`] or the time `left` (reqwest's blocking
/// `timeout` applies to each of those waits, not to the whole body: the deadline on the
/// whole is the interrupt `fetch` sets).
fn http_options(left: Duration) -> gix_transport::client::blocking_io::http::Options {
    use gix_transport::client::blocking_io::http;
    let wait = FETCH_STALL.min(left);
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.timeout(wait)))),
        configure_request: None,
    };
    let mut options = http::Options::default();
    options.follow_redirects = http::options::FollowRedirects::None;
    options.connect_timeout = Some(Duration::from_secs(10).min(left));
    options.backend = Some(std::sync::Arc::new(std::sync::Mutex::new(backend)));
    options
}

/// The result of scanning a push in a mirror.
pub struct Scanned {
    /// The commit `after` names (an annotated tag peeled), for commit statuses.
    pub commit: String,
    /// The ref as records, logs and reports show it: without the key it may be named after
    /// ([`leakgate_rules::Withhold`]).
    pub git_ref: String,
    /// Findings, ordered by commit, path and line.
    pub findings: Vec<leakgate_rules::Finding>,
    /// What the walk covered.
    pub stats: HistoryStats,
    /// Why the `.leakgate.toml` a push to the default branch brings cannot be applied (set by
    /// the worker).
    pub project_problem: Option<String>,
}

/// Whether one of `tips` reaches `commit` (within the first 100,000 commits walked from them:
/// past that it counts as not reached, which scans more, never less).
fn reaches(repo: &gix::Repository, tips: &[ObjectId], commit: ObjectId) -> bool {
    if tips.contains(&commit) {
        return true;
    }
    let Ok(walk) = repo.rev_walk(tips.iter().copied()).all() else { return false };
    walk.take(100_000).filter_map(Result::ok).any(|info| info.id == commit)
}

/// Scans the commits `after` adds over `before` (for a new ref, or with `check_before` a
/// `before` none of them reaches: over the `scanned` commits recorded, and with `own_tips` the
/// mirror's scanned refs), and the name of `git_ref`, as the
/// hook does; no key leaves in a path, the ref's name or a warning. At the
/// deadline it stops and returns what it found (`stats.complete` false). The caller
/// marks `after` scanned ([`mark_scanned`]) once the findings are reported, so that a job
/// re-run after a crash scans the same commits again.
///
/// # Errors
///
/// [`MirrorError`].
#[allow(clippy::too_many_arguments)]
pub fn scan_push(
    path: &Path,
    (git_ref, before, after, scanned, own_tips, check_before): (
        &str,
        &str,
        &str,
        &[String],
        bool,
        bool,
    ),
    rules: &RuleSet,
    key: &leakgate_rules::FingerprintKey,
    threads: usize,
    stream_above: u64,
    deadline: Option<Instant>,
    path_globs: &[globset::GlobMatcher],
) -> Result<Scanned, MirrorError> {
    let scan_err = |e: Cause| MirrorError::Scan(e);
    let mut repo = leakgate_hooks::open_repository(path).map_err(|e| scan_err(e.into()))?;
    repo.object_cache_size_if_unset(64 << 20);
    let after_id = parse_id(&repo, after)?;
    if !repo.has_object(after_id) {
        return Err(MirrorError::Missing(after.to_owned()));
    }
    // A tag push names a tag object; statuses belong to the commit it points at.
    let commit = repo
        .find_object(after_id)
        .ok()
        .and_then(|o| o.peel_to_kind(gix::object::Kind::Commit).ok())
        .map_or(after_id, |c| c.id);
    // An update scans `before..after`, whatever order jobs run in (a later push's scanned
    // tip must not hide an earlier push's commits). With `check_before` (the ref was scanned
    // before this push was received), a `before` that no recorded tip reaches was never
    // scanned (a lost webhook): the update scans what no recorded tip reaches instead. A new
    // ref (or a `before` gone from the server) has no range: it scans what no scanned tip
    // reaches.
    let before_id =
        if crate::event::is_zero(before) { None } else { Some(parse_id(&repo, before)?) };
    // Every replica's (`scanned`, from the database) that the mirror has, and with
    // `own_tips` this mirror's scanned refs (they carry no time): what any replica scanned
    // is not scanned again.
    let mut tips = if own_tips { scanned_tips(&repo).map_err(scan_err)? } else { Vec::new() };
    tips.extend(
        scanned
            .iter()
            .filter_map(|hex| ObjectId::from_hex(hex.as_bytes()).ok())
            .filter(|id| id.kind() == repo.object_hash() && repo.has_object(*id)),
    );
    tips.sort_unstable();
    tips.dedup();
    let hidden = match before_id.filter(|id| repo.has_object(*id)) {
        Some(id) if !check_before || reaches(&repo, &tips, id) => vec![id],
        _ => tips,
    };
    let objects = Objects::new(&repo, None).map_err(|e| scan_err(e.into()))?;
    let options = WalkOptions {
        // An inline allow comment is not a way around the service: the finding is reported,
        // flagged.
        scan: ScanOptions { flag_inline_allows: true, ..ScanOptions::default() },
        threads: threads.max(1),
        deadline,
        stream_above,
        git_dir: repo.git_dir().to_owned(),
        progress: None,
        path_globs: path_globs.to_vec(),
        strict_names: false,
        // Keys in the names of new files and directories, as in the hook.
        scan_names: true,
        // The forge's LFS objects are not in the mirror (LFS content is the hook's).
        lfs_objects: None,
    };
    let findings = std::sync::Mutex::new(Vec::new());
    let warnings = std::sync::Mutex::new(Vec::new());
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
        |warning| warnings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(warning),
    );
    let warnings =
        std::mem::take(&mut *warnings.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let stats = match stats {
        Ok(stats) => stats,
        Err(e) => {
            // The error names the object, and the path it was met at (a job's error is
            // stored).
            let mut found =
                findings.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut withhold = leakgate_hooks::withhold_names(rules, &mut found, warnings);
            let shown = match std::error::Error::source(&e) {
                Some(source) => format!("{e}: {source}"),
                None => e.to_string(),
            };
            return Err(scan_err(withhold.name(&shown).into()));
        }
    };
    // A scan cut short by the deadline keeps what it found: the caller records and reports
    // it, and runs again for the rest.
    let mut findings = findings.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let found = (key, Some(commit.to_string()));
    leakgate_hooks::ref_name_findings(
        rules,
        options.scan,
        [git_ref.as_bytes()],
        found,
        &mut findings,
    );
    let mut withhold = leakgate_hooks::withhold_names(rules, &mut findings, warnings);
    findings.sort_by(|a, b| (&a.commit, &a.path, a.line).cmp(&(&b.commit, &b.path, b.line)));
    Ok(Scanned {
        commit: commit.to_string(),
        git_ref: withhold.name(git_ref),
        findings,
        stats,
        project_problem: None,
    })
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
    let scan_err = |e: Cause| MirrorError::Scan(e);
    let repo = leakgate_hooks::open_repository(path).map_err(|e| scan_err(e.into()))?;
    let id = parse_id(&repo, after)?;
    write_scanned(&repo, git_ref, id).map_err(scan_err)
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

    fn url(u: &str) -> reqwest::Url {
        reqwest::Url::parse(u).expect("url")
    }

    #[test]
    fn credentials_go_over_plain_http_only_to_loopback() {
        assert!(is_loopback_url(&url("http://127.0.0.1:8080/a/b.git")));
        assert!(is_loopback_url(&url("http://localhost/a.git")));
        assert!(is_loopback_url(&url("http://[::1]:9/a.git")));
        assert!(!is_loopback_url(&url("http://git.example.com/a.git")));
        assert!(!is_loopback_url(&url("http://127.0.0.1.evil.example/a.git")));
        let credentials = Some(Credentials { username: "u".into(), password: Sensitive::new("p") });
        let dir = tempfile::tempdir().expect("tempdir");
        let source = Source::Forge { url: url("http://git.example.com/a.git"), credentials };
        let deadline = Instant::now() + Duration::from_secs(5);
        let err = fetch(
            &dir.path().join("m.git"),
            &source,
            &["1".repeat(40).as_str()],
            &["refs/heads/main"],
            deadline,
            &AtomicBool::new(false),
        )
        .expect_err("refused");
        assert!(err.chain().contains("plain http"), "{}", err.chain());
        assert_eq!(display_url("https://user:tok@host/x.git"), "https://host/x.git");
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "a")
            .env("GIT_AUTHOR_EMAIL", "a@example.invalid")
            .env("GIT_COMMITTER_NAME", "a")
            .env("GIT_COMMITTER_EMAIL", "a@example.invalid")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A scan that cannot finish (here: a blob the mirror lacks) returns what it found,
    /// marked incomplete, instead of failing: the job records and reports it, then runs again.
    /// An annotated tag is peeled to its commit for the status.
    #[test]
    fn an_unfinished_scan_keeps_its_findings_and_tags_are_peeled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        git(repo, &["init", "-q", "-b", "main"]);
        // No checksum on this format (a `ghp_` with a wrong one is not reported at all).
        let key = "sk_live_51Hx9TqLmZ2vP8wK3dR7yN4cF6gJ1bQ0sA"; // leakgate:allow (test fixture)
        std::fs::write(repo.join("a.env"), format!("STRIPE_KEY={key}\n")).expect("write");
        std::fs::write(repo.join("b.txt"), "unreadable later\n").expect("write");
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "c"]);
        git(repo, &["tag", "-a", "v1", "-m", "release"]);
        let commit = git(repo, &["rev-parse", "HEAD"]);
        let tag = git(repo, &["rev-parse", "v1"]);
        let lost = git(repo, &["rev-parse", "HEAD:b.txt"]);
        std::fs::remove_file(repo.join(".git/objects").join(&lost[..2]).join(&lost[2..]))
            .expect("loose blob removed");
        let rules = leakgate_rules::RuleSetBuilder::new().builtin().build();
        let fingerprints = leakgate_rules::FingerprintKey::new(b"k");
        let scanned = scan_push(
            &repo.join(".git"),
            ("refs/tags/v1", &"0".repeat(40), &tag, &[], true, false),
            &rules,
            &fingerprints,
            1,
            64 << 20,
            None,
            &[],
        )
        .expect("a partial scan is a result, not an error");
        assert!(!scanned.stats.complete);
        assert_eq!(scanned.stats.unscanned, 1);
        assert_eq!(scanned.commit, commit, "the tag is peeled to its commit");
        assert!(
            scanned.findings.iter().any(|f| f.path == "a.env"),
            "what was scanned is kept: {:?}",
            scanned.findings.iter().map(|f| &f.rule_id).collect::<Vec<_>>()
        );
    }

    /// The pushed ref's tip comes along with a fetch, under a ref of the mirror's own until
    /// the scan ends: named by number, since the pushed name may be a key.
    #[test]
    fn a_fetched_tip_is_kept_under_a_number_not_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("source");
        std::fs::create_dir_all(&source).expect("mkdir");
        git(&source, &["init", "-q", "-b", "main"]);
        std::fs::write(source.join("a.txt"), "a\n").expect("write");
        git(&source, &["add", "-A"]);
        git(&source, &["commit", "-q", "-m", "c"]);
        let key = "ghp_".to_owned() + &"Zq7x".repeat(9);
        let tip = format!("refs/heads/{key}");
        git(&source, &["update-ref", &tip, "HEAD"]);
        let commit = git(&source, &["rev-parse", "HEAD"]);
        let mirror = dir.path().join("m.git");
        let deadline = Instant::now() + Duration::from_secs(30);
        let from = Source::Local(source.join(".git"));
        fetch(&mirror, &from, &[&commit], &[&tip], deadline, &AtomicBool::new(false))
            .expect("fetched");
        let refs = git(&mirror, &["for-each-ref", "--format=%(refname) %(objectname)"]);
        assert!(refs.contains(&format!("{INCOMING}tips/0 {commit}")), "{refs}");
        let mut paths = vec![mirror];
        while let Some(path) = paths.pop() {
            assert!(!path.to_string_lossy().contains(&key), "{}", path.display());
            if path.is_dir() {
                paths.extend(
                    std::fs::read_dir(&path).expect("dir").map(|e| e.expect("entry").path()),
                );
            } else {
                let bytes = std::fs::read(&path).expect("read");
                assert!(
                    !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                    "{}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn the_repository_path_cannot_move_the_fetch() {
        let base = url("https://git.example.com/prefix");
        assert_eq!(
            repository_url(&base, "group/sub/project").expect("ok").as_str(),
            "https://git.example.com/prefix/group/sub/project.git"
        );
        for bad in [
            "a/../../x",
            "@evil.example/x",
            "a/b?x=1",
            "a/b#f",
            "a//b",
            "a/b%2F..",
            "a/b c",
            "",
            "a\\b",
            "a:b@evil/x",
        ] {
            assert!(repository_url(&base, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_given_to_the_configured_origin_only() {
        let expected = url("https://git.example.com/x/y.git");
        let ctx = |u: &str| gix::credentials::protocol::Context {
            url: Some(u.into()),
            ..Default::default()
        };
        assert!(credentials_requested_for(&ctx("https://git.example.com/x/y.git"), &expected));
        assert!(credentials_requested_for(&ctx("https://git.example.com:443/z"), &expected));
        assert!(!credentials_requested_for(&ctx("https://evil.example/x/y.git"), &expected));
        assert!(!credentials_requested_for(&ctx("http://git.example.com/x/y.git"), &expected));
        assert!(!credentials_requested_for(&ctx("https://git.example.com:8443/x"), &expected));
        let by_host = gix::credentials::protocol::Context {
            protocol: Some("https".into()),
            host: Some("git.example.com".into()),
            ..Default::default()
        };
        assert!(credentials_requested_for(&by_host, &expected));
        let other = gix::credentials::protocol::Context {
            protocol: Some("https".into()),
            host: Some("git.example.com:444".into()),
            ..Default::default()
        };
        assert!(!credentials_requested_for(&other, &expected));
    }
}
