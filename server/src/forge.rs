//! Forge REST clients for reporting: commit statuses and issues on GitHub (through
//! octocrab, as a GitHub App installation or with a token), GitLab and Gitea/Forgejo
//! (through reqwest).
//!
//! Every call is classified the same way: 2xx is done; 429, and 403 with a rate-limit
//! signal, wait for `Retry-After` / `X-RateLimit-Reset` (the job is postponed, never
//! dropped); 5xx and transport failures are retried with backoff; other 4xx are errors that
//! the job queue retries a few times and then keeps in its dead letter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::{Config, Sensitive};
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

/// A client for one forge, shared by the workers.
#[derive(Clone)]
pub enum ForgeClient {
    /// GitHub through octocrab.
    Github(Arc<GithubClient>),
    /// GitLab or Gitea through reqwest.
    Rest(Arc<RestClient>),
}

/// GitHub: an App (installation tokens minted and cached per installation) or a token.
pub struct GithubClient {
    app: Option<octocrab::Octocrab>,
    token: Option<octocrab::Octocrab>,
    installations: Mutex<HashMap<u64, octocrab::Octocrab>>,
}

/// GitLab or Gitea/Forgejo with a token.
pub struct RestClient {
    forge: Forge,
    api_url: String,
    token: Sensitive,
    http: reqwest::Client,
}

/// Builds the client for `forge` from the configuration; `None` when the forge has no API
/// credentials (its pushes are still scanned and recorded, nothing is reported).
///
/// # Errors
///
/// A configured App key that cannot be read or parsed, or a bad API URL.
pub fn client(forge: Forge, config: &Config) -> Result<Option<ForgeClient>, ForgeError> {
    let bad =
        |e: &dyn std::fmt::Display| ForgeError::NotConfigured(format!("{}: {e}", forge.name()));
    match forge {
        Forge::Github => {
            let c = &config.github;
            let api_url = c.api_url.trim_end_matches('/').to_owned();
            let builder = || {
                octocrab::Octocrab::builder().base_uri(api_url.as_str()).map_err(|e| bad(&e)).map(
                    |b| {
                        b.set_connect_timeout(Some(CONNECT_TIMEOUT))
                            .set_read_timeout(Some(CALL_TIMEOUT))
                            .set_write_timeout(Some(CALL_TIMEOUT))
                    },
                )
            };
            let app = match (c.app_id, &c.private_key_path) {
                (Some(id), Some(path)) => {
                    let pem = std::fs::read(path)
                        .map_err(|e| bad(&format_args!("reading {}: {e}", path.display())))?;
                    let key =
                        octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
                            bad(&format_args!("{} is not an RSA private key: {e}", path.display()))
                        })?;
                    Some(
                        builder()?
                            .app(octocrab::models::AppId(id), key)
                            .build()
                            .map_err(|e| bad(&e))?,
                    )
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err(bad(&"github.app_id and github.private_key_path go together"))
                }
                (None, None) => None,
            };
            let token = match c.token.as_ref().filter(|t| t.is_set()) {
                Some(t) => Some(
                    builder()?
                        .personal_token(t.expose().to_owned())
                        .build()
                        .map_err(|e| bad(&e))?,
                ),
                None => None,
            };
            if app.is_none() && token.is_none() {
                return Ok(None);
            }
            Ok(Some(ForgeClient::Github(Arc::new(GithubClient {
                app,
                token,
                installations: Mutex::new(HashMap::new()),
            }))))
        }
        Forge::Gitlab | Forge::Gitea => {
            let c = if forge == Forge::Gitlab { &config.gitlab } else { &config.gitea };
            let (Some(token), Some(api_url)) =
                (c.token.as_ref().filter(|t| t.is_set()), c.api_url.as_ref())
            else {
                return Ok(None);
            };
            // No redirects: the token header would go wherever a redirect points.
            let http = reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("leakgate/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| bad(&e))?;
            Ok(Some(ForgeClient::Rest(Arc::new(RestClient {
                forge,
                api_url: api_url.trim_end_matches('/').to_owned(),
                token: token.clone(),
                http,
            }))))
        }
    }
}

impl GithubClient {
    async fn crab(&self, installation: Option<u64>) -> Result<octocrab::Octocrab, ForgeError> {
        if let (Some(app), Some(id)) = (&self.app, installation) {
            let mut cache = self.installations.lock().await;
            if let Some(crab) = cache.get(&id) {
                return Ok(crab.clone());
            }
            let crab = app
                .installation(octocrab::models::InstallationId(id))
                .map_err(|e| ForgeError::NotConfigured(format!("github installation {id}: {e}")))?;
            cache.insert(id, crab.clone());
            return Ok(crab);
        }
        self.token.clone().ok_or_else(|| {
            ForgeError::NotConfigured(
                "github: the push came without an App installation and no token is configured"
                    .into(),
            )
        })
    }

    async fn call(
        &self,
        installation: Option<u64>,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Vec<u8>, ForgeError> {
        let crab = self.crab(installation).await?;
        // A path, not a full URL: octocrab joins it to `api_url` (keeping a GHES `/api/v3`
        // prefix) and sends credentials only to requests without an authority of their own.
        let response = match method {
            http::Method::POST => crab._post(path, body).await,
            http::Method::PATCH => crab._patch(path, body).await,
            _ => crab._get(path).await,
        };
        let response = response.map_err(|e| octocrab_error(&e, what))?;
        let (retry_after, rate_limit_exhausted) = header_duration(response.headers());
        let status = response.status().as_u16();
        let body = crab.body_to_string(response).await.map_err(|e| octocrab_error(&e, what))?;
        if body.len() > MAX_REPLY {
            return Err(ForgeError::Transient(format!("github {what}: the answer is too large")));
        }
        classify(
            "github",
            what,
            Reply { status, retry_after, rate_limit_exhausted, body: body.into_bytes() },
        )
    }
}

fn octocrab_error(error: &octocrab::Error, what: &str) -> ForgeError {
    match error {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let text = format!("github {what}: HTTP {status}: {}", source.message);
            if status == 429
                || (status == 403 && source.message.to_ascii_lowercase().contains("rate limit"))
            {
                ForgeError::RateLimited { forge: "github", after: Duration::from_secs(60) }
            } else if status >= 500 {
                ForgeError::Transient(text)
            } else {
                ForgeError::Refused(text)
            }
        }
        other => ForgeError::Transient(format!("github {what}: {other}")),
    }
}

impl RestClient {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Vec<u8>, ForgeError> {
        let forge = self.forge.name();
        let url = format!("{}{path}", self.api_url);
        let mut request = self.http.request(method, &url);
        request = match self.forge {
            Forge::Gitlab => request.header("PRIVATE-TOKEN", self.token.expose()),
            _ => request.header("Authorization", format!("token {}", self.token.expose())),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ForgeError::Transient(format!("{forge} {what}: {}", e.without_url())))?;
        let (retry_after, rate_limit_exhausted) = header_duration(response.headers());
        let status = response.status().as_u16();
        let body = read_bounded(response)
            .await
            .map_err(|e| ForgeError::Transient(format!("{forge} {what}: {e}")))?;
        classify(forge, what, Reply { status, retry_after, rate_limit_exhausted, body })
    }

    fn project(&self, repo: &str) -> String {
        match self.forge {
            Forge::Gitlab => format!("/projects/{}", encode_path(repo)),
            _ => {
                let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
                format!("/repos/{}/{}", encode_path(owner), encode_path(name))
            }
        }
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

impl ForgeClient {
    /// Credentials for fetching `push` over HTTPS.
    ///
    /// # Errors
    ///
    /// A GitHub installation token that cannot be minted.
    pub async fn git_credentials(&self, push: &Push) -> Result<Option<Credentials>, ForgeError> {
        match self {
            ForgeClient::Github(gh) => {
                let crab = gh.crab(push.installation_id).await?;
                if gh.app.is_some() && push.installation_id.is_some() {
                    let token = crab
                        .installation_token()
                        .await
                        .map_err(|e| octocrab_error(&e, "installation token"))?;
                    use octocrab::secrecy::ExposeSecret;
                    Ok(Some(Credentials {
                        username: "x-access-token".into(),
                        password: Sensitive::new(token.expose_secret()),
                    }))
                } else {
                    Ok(None)
                }
            }
            ForgeClient::Rest(rest) => Ok(Some(Credentials {
                username: if rest.forge == Forge::Gitlab {
                    "oauth2".into()
                } else {
                    "leakgate".into()
                },
                password: rest.token.clone(),
            })),
        }
    }

    /// Sets the `leakgate` commit status on `sha` (the pushed commit; for a tag push, the
    /// commit the tag names).
    ///
    /// # Errors
    ///
    /// [`ForgeError`].
    pub async fn set_status(
        &self,
        push: &Push,
        sha: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let description: String = description.chars().take(140).collect();
        match self {
            ForgeClient::Github(gh) => {
                let state = state.name(Forge::Github);
                let body = json!({"state": state, "description": description, "context": "leakgate", "target_url": target_url});
                let (owner, name) = push.repo.split_once('/').unwrap_or((&push.repo, ""));
                let path =
                    format!("/repos/{}/{}/statuses/{}", encode_path(owner), encode_path(name), sha);
                gh.call(
                    push.installation_id,
                    http::Method::POST,
                    &path,
                    Some(&body),
                    "commit status",
                )
                .await?;
            }
            ForgeClient::Rest(rest) => {
                let project = match (rest.forge, push.project_id) {
                    (Forge::Gitlab, Some(id)) => format!("/projects/{id}"),
                    _ => rest.project(&push.repo),
                };
                let state = state.name(rest.forge);
                let (path, body) = if rest.forge == Forge::Gitlab {
                    let name = push
                        .git_ref
                        .strip_prefix("refs/heads/")
                        .or_else(|| push.git_ref.strip_prefix("refs/tags/"))
                        .unwrap_or(&push.git_ref);
                    (
                        format!("{project}/statuses/{sha}"),
                        json!({"state": state, "name": "leakgate", "description": description, "ref": name, "target_url": target_url}),
                    )
                } else {
                    (
                        format!("{project}/statuses/{sha}"),
                        json!({"state": state, "context": "leakgate", "description": description, "target_url": target_url}),
                    )
                };
                rest.call(reqwest::Method::POST, &path, Some(&body), "commit status").await?;
            }
        }
        Ok(())
    }

    /// Looks for an issue whose title carries `marker` in `repo` (after a worker died between
    /// opening an issue and recording it).
    ///
    /// # Errors
    ///
    /// [`ForgeError`].
    pub async fn find_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        marker: &str,
    ) -> Result<Option<ForgeIssue>, ForgeError> {
        let pages: Vec<Vec<u8>> = match self {
            ForgeClient::Github(gh) => {
                let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
                let mut pages = Vec::new();
                for page in 1..=5 {
                    let path = format!(
                        "/repos/{}/{}/issues?state=all&per_page=100&sort=created&direction=desc&page={page}",
                        encode_path(owner),
                        encode_path(name)
                    );
                    let body = gh
                        .call(installation, http::Method::GET, &path, None, "issue search")
                        .await?;
                    let done =
                        serde_json::from_slice::<Vec<Value>>(&body).map_or(true, |v| v.len() < 100);
                    pages.push(body);
                    if done {
                        break;
                    }
                }
                pages
            }
            ForgeClient::Rest(rest) => {
                let query = if rest.forge == Forge::Gitlab {
                    format!("/issues?search={}&in=title&per_page=100", encode_path(marker))
                } else {
                    format!("/issues?state=all&type=issues&q={}&limit=50", encode_path(marker))
                };
                let path = format!("{}{query}", rest.project(repo));
                vec![rest.call(reqwest::Method::GET, &path, None, "issue search").await?]
            }
        };
        for page in pages {
            let issues: Vec<ListedIssue> = serde_json::from_slice(&page)
                .map_err(|_| ForgeError::Transient("issue list is not the expected JSON".into()))?;
            if let Some(found) = issues.into_iter().find(|i| i.title.contains(marker)) {
                return Ok(Some(ForgeIssue { number: found.number, url: found.html_url }));
            }
        }
        Ok(None)
    }

    /// Opens an issue; `confidential` (GitLab only) hides it from everyone below the
    /// project's Reporter role.
    ///
    /// # Errors
    ///
    /// [`ForgeError`]; [`ForgeError::NotConfigured`] for a confidential issue elsewhere than
    /// on GitLab.
    pub async fn create_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        title: &str,
        body: &str,
        confidential: bool,
    ) -> Result<ForgeIssue, ForgeError> {
        let gitlab = matches!(self, ForgeClient::Rest(rest) if rest.forge == Forge::Gitlab);
        if confidential && !gitlab {
            return Err(ForgeError::NotConfigured(
                "confidential issues exist on GitLab only".into(),
            ));
        }
        match self {
            ForgeClient::Github(gh) => {
                let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
                let path = format!("/repos/{}/{}/issues", encode_path(owner), encode_path(name));
                let reply = gh
                    .call(
                        installation,
                        http::Method::POST,
                        &path,
                        Some(&json!({"title": title, "body": body})),
                        "open issue",
                    )
                    .await?;
                parse_issue("github", &reply, "number", "html_url")
            }
            ForgeClient::Rest(rest) => {
                let path = format!("{}/issues", rest.project(repo));
                let request = if rest.forge == Forge::Gitlab {
                    json!({"title": title, "description": body, "confidential": confidential})
                } else {
                    json!({"title": title, "body": body})
                };
                let reply =
                    rest.call(reqwest::Method::POST, &path, Some(&request), "open issue").await?;
                if rest.forge == Forge::Gitlab {
                    parse_issue("gitlab", &reply, "iid", "web_url")
                } else {
                    parse_issue("gitea", &reply, "number", "html_url")
                }
            }
        }
    }

    /// Replaces an issue's body.
    ///
    /// # Errors
    ///
    /// [`ForgeError`].
    pub async fn edit_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> Result<(), ForgeError> {
        match self {
            ForgeClient::Github(gh) => {
                let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
                let path =
                    format!("/repos/{}/{}/issues/{number}", encode_path(owner), encode_path(name));
                gh.call(
                    installation,
                    http::Method::PATCH,
                    &path,
                    Some(&json!({"body": body})),
                    "edit issue",
                )
                .await?;
            }
            ForgeClient::Rest(rest) => {
                let path = format!("{}/issues/{number}", rest.project(repo));
                if rest.forge == Forge::Gitlab {
                    rest.call(
                        reqwest::Method::PUT,
                        &path,
                        Some(&json!({"description": body})),
                        "edit issue",
                    )
                    .await?;
                } else {
                    rest.call(
                        reqwest::Method::PATCH,
                        &path,
                        Some(&json!({"body": body})),
                        "edit issue",
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
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
