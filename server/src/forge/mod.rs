//! Forge REST clients for reporting: commit statuses and issues on GitHub (through
//! octocrab, as a GitHub App installation or with a token), GitLab and Gitea/Forgejo
//! (through reqwest): one file per forge behind [`ForgeApi`].
//!
//! Every call is classified the same way: 2xx is done; 429, and 403 with a rate-limit
//! signal, wait for `Retry-After` / `X-RateLimit-Reset` (the job is postponed, never
//! dropped); 5xx and transport failures are retried with backoff; other 4xx are errors that
//! the job queue retries a few times and then keeps in its dead letter. No client follows a
//! redirect (its credentials would go along), every call has connect and total time limits,
//! and answers are read up to [`MAX_REPLY`] bytes.

mod gitea;
mod github;
mod gitlab;
mod rest;

pub use github::SecretAlert;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;
use crate::event::{Forge, Push};
use crate::mirror::Credentials;

/// How a forge call failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// Rate limited: try again after this long.
    #[error("rate limited by {forge} (retry in {}s)", .after.as_secs())]
    RateLimited {
        /// The forge.
        forge: &'static str,
        /// How long to wait.
        after: Duration,
    },
    /// A transient failure (5xx, timeout, connection).
    #[error("{0}")]
    Transient(String),
    /// A refusal that will not change by itself (401, 404, 422, ...).
    #[error("{0}")]
    Refused(String),
    /// The forge is not configured for this.
    #[error("{0}")]
    NotConfigured(String),
}

/// A commit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusState {
    /// No secrets.
    Success,
    /// Secrets found.
    Failure,
    /// The scan is not finished (cut short by its time limit; it runs again).
    Pending,
}

impl StatusState {
    /// The state's name on `forge`.
    fn name(self, forge: Forge) -> &'static str {
        match (self, forge) {
            (StatusState::Success, _) => "success",
            (StatusState::Failure, Forge::Gitlab) => "failed",
            (StatusState::Failure, _) => "failure",
            (StatusState::Pending, _) => "pending",
        }
    }
}

/// Largest forge answer read, in bytes: a larger one is an error, not a reason to run out
/// of memory.
const MAX_REPLY: usize = 8 << 20;

/// Time limits of every forge call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the next bytes of an answer (octocrab: its read timeout).
const STALL_TIMEOUT: Duration = Duration::from_secs(15);

/// An issue on a forge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeIssue {
    /// Its number (GitLab: iid).
    pub number: i64,
    /// Its web address.
    pub url: String,
}

/// What an HTTP exchange gave back.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    rate_limit_exhausted: bool,
    body: Vec<u8>,
}

fn classify(forge: &'static str, what: &str, reply: Reply) -> Result<Vec<u8>, ForgeError> {
    let status = reply.status;
    if (200..300).contains(&status) {
        return Ok(reply.body);
    }
    let limited = status == 429
        || (status == 403 && (reply.retry_after.is_some() || reply.rate_limit_exhausted));
    if limited {
        let after =
            reply.retry_after.unwrap_or(Duration::from_secs(60)).min(Duration::from_secs(3600));
        return Err(ForgeError::RateLimited { forge, after });
    }
    // The forge's message, short, for the job's last error (no request data is echoed).
    let message: String = String::from_utf8_lossy(&reply.body).chars().take(200).collect();
    let text = format!("{forge} {what}: HTTP {status}: {message}");
    if status >= 500 {
        Err(ForgeError::Transient(text))
    } else {
        Err(ForgeError::Refused(text))
    }
}

fn header_duration(headers: &http::HeaderMap) -> (Option<Duration>, bool) {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let retry_after =
        get("retry-after").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
    let exhausted =
        get("x-ratelimit-remaining").or_else(|| get("ratelimit-remaining")) == Some("0");
    let reset = get("x-ratelimit-reset")
        .or_else(|| get("ratelimit-reset"))
        .and_then(|v| v.parse::<u64>().ok());
    let from_reset = reset.filter(|_| exhausted).map(|reset| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Duration::from_secs(reset.saturating_sub(now).max(1))
    });
    (retry_after.or(from_reset), exhausted)
}

/// The body of `response`, at most [`MAX_REPLY`] bytes.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        if body.len() + chunk.len() > MAX_REPLY {
            return Err(format!("the answer is larger than {} MiB", MAX_REPLY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn parse_issue(
    forge: &'static str,
    body: &[u8],
    number_key: &str,
    url_key: &str,
) -> Result<ForgeIssue, ForgeError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ForgeError::Transient(format!(
            "{forge} answered an issue call with something that is not JSON"
        ))
    })?;
    let number = value.get(number_key).and_then(Value::as_i64);
    let url = value.get(url_key).and_then(Value::as_str);
    match (number, url) {
        (Some(number), Some(url)) => Ok(ForgeIssue { number, url: url.to_owned() }),
        _ => Err(ForgeError::Transient(format!(
            "{forge} issue reply lacks `{number_key}`/`{url_key}`"
        ))),
    }
}

#[derive(Deserialize)]
struct ListedIssue {
    #[serde(alias = "iid")]
    number: i64,
    title: String,
    #[serde(alias = "web_url")]
    html_url: String,
}

/// The issue among listed `pages` whose title carries `marker`.
fn find_in_pages(pages: &[Vec<u8>], marker: &str) -> Result<Option<ForgeIssue>, ForgeError> {
    for page in pages {
        let issues: Vec<ListedIssue> = serde_json::from_slice(page)
            .map_err(|_| ForgeError::Transient("issue list is not the expected JSON".into()))?;
        if let Some(found) = issues.into_iter().find(|i| i.title.contains(marker)) {
            return Ok(Some(ForgeIssue { number: found.number, url: found.html_url }));
        }
    }
    Ok(None)
}

/// What the service does on a forge.
pub trait ForgeApi {
    /// Credentials for fetching `push` over HTTPS (sent to the configured host only).
    fn git_credentials(
        &self,
        push: &Push,
    ) -> impl Future<Output = Result<Option<Credentials>, ForgeError>> + Send;

    /// Sets the `leakgate` commit status on `sha` (the pushed commit; for a tag push, the
    /// commit the tag names).
    fn set_status(
        &self,
        push: &Push,
        sha: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> impl Future<Output = Result<(), ForgeError>> + Send;

    /// Looks for an issue whose title carries `marker` in `repo` (after a worker died
    /// between opening an issue and recording it).
    fn find_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        marker: &str,
    ) -> impl Future<Output = Result<Option<ForgeIssue>, ForgeError>> + Send;

    /// Opens an issue; `confidential` (GitLab only) hides it from everyone below the
    /// project's Reporter role; elsewhere it is [`ForgeError::NotConfigured`].
    fn create_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        title: &str,
        body: &str,
        confidential: bool,
    ) -> impl Future<Output = Result<ForgeIssue, ForgeError>> + Send;

    /// Replaces an issue's body.
    fn edit_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> impl Future<Output = Result<(), ForgeError>> + Send;
}

/// A client for one forge, shared by the workers.
#[derive(Clone)]
pub enum ForgeClient {
    /// GitHub or GitHub Enterprise Server.
    Github(Arc<github::Github>),
    /// GitLab.
    Gitlab(Arc<gitlab::Gitlab>),
    /// Gitea or Forgejo.
    Gitea(Arc<gitea::Gitea>),
}

/// Builds the client for `forge` from the configuration; `None` when the forge has no API
/// credentials (its pushes are still scanned and recorded, nothing is reported).
///
/// # Errors
///
/// A configured App key that cannot be read or parsed, or a bad API URL.
pub fn client(forge: Forge, config: &Config) -> Result<Option<ForgeClient>, ForgeError> {
    Ok(match forge {
        Forge::Github => {
            github::Github::new(&config.github)?.map(|c| ForgeClient::Github(Arc::new(c)))
        }
        Forge::Gitlab => {
            gitlab::Gitlab::new(&config.gitlab)?.map(|c| ForgeClient::Gitlab(Arc::new(c)))
        }
        Forge::Gitea => gitea::Gitea::new(&config.gitea)?.map(|c| ForgeClient::Gitea(Arc::new(c))),
    })
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            ForgeClient::Github($c) => $e,
            ForgeClient::Gitlab($c) => $e,
            ForgeClient::Gitea($c) => $e,
        }
    };
}

impl ForgeApi for ForgeClient {
    async fn git_credentials(&self, push: &Push) -> Result<Option<Credentials>, ForgeError> {
        each!(self, c => c.git_credentials(push).await)
    }

    async fn set_status(
        &self,
        push: &Push,
        sha: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let description: String = description.chars().take(140).collect();
        each!(self, c => c.set_status(push, sha, state, &description, target_url).await)
    }

    async fn find_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        marker: &str,
    ) -> Result<Option<ForgeIssue>, ForgeError> {
        each!(self, c => c.find_issue(installation, repo, marker).await)
    }

    async fn create_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        title: &str,
        body: &str,
        confidential: bool,
    ) -> Result<ForgeIssue, ForgeError> {
        each!(self, c => c.create_issue(installation, repo, title, body, confidential).await)
    }

    async fn edit_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> Result<(), ForgeError> {
        each!(self, c => c.edit_issue(installation, repo, number, body).await)
    }
}

impl ForgeClient {
    /// A GitHub secret scanning alert, with its secret.
    ///
    /// # Errors
    ///
    /// Not GitHub, or the call failed.
    pub async fn secret_scanning_alert(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: u64,
    ) -> Result<SecretAlert, ForgeError> {
        match self {
            ForgeClient::Github(g) => g.secret_scanning_alert(installation, repo, number).await,
            _ => Err(ForgeError::NotConfigured("secret scanning alerts are GitHub's".into())),
        }
    }

    /// Resolves a GitHub secret scanning alert as revoked.
    ///
    /// # Errors
    ///
    /// Not GitHub, or the call failed.
    pub async fn resolve_secret_alert(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: u64,
        comment: &str,
    ) -> Result<(), ForgeError> {
        match self {
            ForgeClient::Github(g) => {
                g.resolve_secret_alert(installation, repo, number, comment).await
            }
            _ => Err(ForgeError::NotConfigured("secret scanning alerts are GitHub's".into())),
        }
    }
}

/// `owner/name` as two encoded path segments.
fn owner_name(repo: &str) -> (String, String) {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    (encode_path(owner), encode_path(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_recognised_from_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert("retry-after", "7".parse().expect("header"));
        let (after, _) = header_duration(&headers);
        let reply =
            Reply { status: 429, retry_after: after, rate_limit_exhausted: false, body: vec![] };
        assert!(
            matches!(classify("github", "x", reply), Err(ForgeError::RateLimited { after, .. }) if after == Duration::from_secs(7))
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().expect("header"));
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() + 30;
        headers.insert("x-ratelimit-reset", reset.to_string().parse().expect("header"));
        let (after, exhausted) = header_duration(&headers);
        assert!(exhausted && after.is_some_and(|d| d.as_secs() <= 30 && d.as_secs() >= 28));
        let reply = Reply {
            status: 403,
            retry_after: after,
            rate_limit_exhausted: exhausted,
            body: vec![],
        };
        assert!(matches!(classify("github", "x", reply), Err(ForgeError::RateLimited { .. })));
        let forbidden = Reply {
            status: 403,
            retry_after: None,
            rate_limit_exhausted: false,
            body: b"no".to_vec(),
        };
        assert!(matches!(classify("github", "x", forbidden), Err(ForgeError::Refused(_))));
        let down =
            Reply { status: 502, retry_after: None, rate_limit_exhausted: false, body: vec![] };
        assert!(matches!(classify("gitea", "x", down), Err(ForgeError::Transient(_))));
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(encode_path("group/sub project"), "group%2Fsub%20project");
    }
}
