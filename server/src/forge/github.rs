//! GitHub and GitHub Enterprise Server through octocrab: as an App (installation tokens
//! minted and cached per installation) or with a token. octocrab is built without its
//! redirect-following layer, so credentials never follow a redirect.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{
    classify, find_in_pages, header_duration, owner_name, parse_issue, ForgeApi, ForgeError,
    ForgeIssue, Reply, StatusState, CALL_TIMEOUT, CONNECT_TIMEOUT, MAX_REPLY, STALL_TIMEOUT,
};
use crate::config::{GithubConfig, Sensitive};
use crate::event::{Forge, Push};
use crate::mirror::Credentials;

/// GitHub: an App or a token.
pub struct Github {
    app: Option<octocrab::Octocrab>,
    token: Option<octocrab::Octocrab>,
    installations: Mutex<HashMap<u64, octocrab::Octocrab>>,
}

impl Github {
    /// `None` without App credentials or a token.
    pub(super) fn new(c: &GithubConfig) -> Result<Option<Self>, ForgeError> {
        let bad = |e: &dyn std::fmt::Display| ForgeError::NotConfigured(format!("github: {e}"));
        let api_url = c.api_url.trim_end_matches('/').to_owned();
        let builder = || {
            octocrab::Octocrab::builder().base_uri(api_url.as_str()).map_err(|e| bad(&e)).map(|b| {
                b.set_connect_timeout(Some(CONNECT_TIMEOUT))
                    .set_read_timeout(Some(STALL_TIMEOUT))
                    .set_write_timeout(Some(CALL_TIMEOUT))
            })
        };
        let app = match (c.app_id, &c.private_key_path) {
            (Some(id), Some(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|e| bad(&format_args!("reading {}: {e}", path.display())))?;
                let key = octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
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
                builder()?.personal_token(t.expose().to_owned()).build().map_err(|e| bad(&e))?,
            ),
            None => None,
        };
        if app.is_none() && token.is_none() {
            return Ok(None);
        }
        Ok(Some(Github { app, token, installations: Mutex::new(HashMap::new()) }))
    }

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

/// A secret scanning alert as GitHub reports it: the secret itself (wiped when dropped), its
/// type and its state.
#[derive(serde::Deserialize)]
pub struct SecretAlert {
    /// GitHub's `secret_type`.
    pub secret_type: String,
    /// The leaked value.
    pub secret: Sensitive,
    /// `open` or `resolved`.
    pub state: String,
}

impl Github {
    /// `GET /repos/{owner}/{repo}/secret-scanning/alerts/{number}` (the App needs "Secret
    /// scanning alerts: read"). The answer carries the secret: it is parsed here and the
    /// text dropped; nothing of it reaches an error message.
    ///
    /// # Errors
    ///
    /// The call failed, or the answer is not an alert.
    pub async fn secret_scanning_alert(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: u64,
    ) -> Result<SecretAlert, ForgeError> {
        let (owner, name) = owner_name(repo);
        let path = format!("/repos/{owner}/{name}/secret-scanning/alerts/{number}");
        let body = zeroize::Zeroizing::new(
            self.call(installation, http::Method::GET, &path, None, "secret scanning alert")
                .await?,
        );
        // Straight into the struct: the secret lands in a `Sensitive` (wiped when dropped)
        // with no other copy of it left behind.
        serde_json::from_slice::<SecretAlert>(&body).map_err(|_| {
            ForgeError::Refused(
                "github secret scanning alert: the answer has no secret_type, secret and state"
                    .into(),
            )
        })
    }

    /// Resolves an alert as revoked (`PATCH … {"state": "resolved", "resolution": "revoked"}`;
    /// the App needs "Secret scanning alerts: write").
    ///
    /// # Errors
    ///
    /// The call failed.
    pub async fn resolve_secret_alert(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: u64,
        comment: &str,
    ) -> Result<(), ForgeError> {
        let (owner, name) = owner_name(repo);
        let path = format!("/repos/{owner}/{name}/secret-scanning/alerts/{number}");
        let body = json!({
            "state": "resolved", "resolution": "revoked", "resolution_comment": comment,
        });
        self.call(installation, http::Method::PATCH, &path, Some(&body), "resolve alert").await?;
        Ok(())
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

impl ForgeApi for Github {
    async fn git_credentials(&self, push: &Push) -> Result<Option<Credentials>, ForgeError> {
        let crab = self.crab(push.installation_id).await?;
        if self.app.is_none() || push.installation_id.is_none() {
            return Ok(None);
        }
        let token = crab
            .installation_token()
            .await
            .map_err(|e| octocrab_error(&e, "installation token"))?;
        use octocrab::secrecy::ExposeSecret;
        Ok(Some(Credentials {
            username: "x-access-token".into(),
            password: Sensitive::new(token.expose_secret()),
        }))
    }

    async fn set_status(
        &self,
        push: &Push,
        sha: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let body = json!({
            "state": state.name(Forge::Github), "description": description,
            "context": "leakgate", "target_url": target_url,
        });
        let (owner, name) = owner_name(&push.repo);
        let path = format!("/repos/{owner}/{name}/statuses/{sha}");
        self.call(push.installation_id, http::Method::POST, &path, Some(&body), "commit status")
            .await?;
        Ok(())
    }

    async fn find_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        marker: &str,
    ) -> Result<Option<ForgeIssue>, ForgeError> {
        let (owner, name) = owner_name(repo);
        let mut pages = Vec::new();
        for page in 1..=5 {
            let path = format!(
                "/repos/{owner}/{name}/issues?state=all&per_page=100&sort=created&direction=desc&page={page}"
            );
            let body =
                self.call(installation, http::Method::GET, &path, None, "issue search").await?;
            let done = serde_json::from_slice::<Vec<Value>>(&body).map_or(true, |v| v.len() < 100);
            pages.push(body);
            if done {
                break;
            }
        }
        find_in_pages(&pages, marker)
    }

    async fn create_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        title: &str,
        body: &str,
        confidential: bool,
    ) -> Result<ForgeIssue, ForgeError> {
        if confidential {
            return Err(ForgeError::NotConfigured(
                "confidential issues exist on GitLab only".into(),
            ));
        }
        let (owner, name) = owner_name(repo);
        let path = format!("/repos/{owner}/{name}/issues");
        let request = json!({"title": title, "body": body});
        let reply = self
            .call(installation, http::Method::POST, &path, Some(&request), "open issue")
            .await?;
        parse_issue("github", &reply, "number", "html_url")
    }

    async fn edit_issue(
        &self,
        installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let (owner, name) = owner_name(repo);
        let path = format!("/repos/{owner}/{name}/issues/{number}");
        let request = json!({"body": body});
        self.call(installation, http::Method::PATCH, &path, Some(&request), "edit issue").await?;
        Ok(())
    }
}
