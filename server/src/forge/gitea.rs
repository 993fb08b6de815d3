//! Gitea and Forgejo: `Authorization: token`, repositories by `owner/name`.

use reqwest::Method;
use serde_json::json;

use super::rest::Rest;
use super::{
    encode_path, find_in_pages, owner_name, parse_issue, ForgeApi, ForgeError, ForgeIssue,
    StatusState,
};
use crate::config::{ForgeConfig, Sensitive};
use crate::event::{Forge, Push};
use crate::mirror::Credentials;

/// Gitea or Forgejo with a token.
pub struct Gitea {
    rest: Rest,
    token: Sensitive,
}

impl Gitea {
    /// `None` without a token and an API URL.
    pub(super) fn new(config: &ForgeConfig) -> Result<Option<Self>, ForgeError> {
        let (Some(token), Some(api_url)) =
            (config.token.as_ref().filter(|t| t.is_set()), config.api_url.as_ref())
        else {
            return Ok(None);
        };
        let header = Sensitive::new(format!("token {}", token.expose()));
        let rest = Rest::new("gitea", api_url, ("Authorization", header))?;
        Ok(Some(Gitea { rest, token: token.clone() }))
    }

    fn repository(repo: &str) -> String {
        let (owner, name) = owner_name(repo);
        format!("/repos/{owner}/{name}")
    }
}

impl ForgeApi for Gitea {
    async fn git_credentials(&self, _push: &Push) -> Result<Option<Credentials>, ForgeError> {
        Ok(Some(Credentials { username: "leakgate".into(), password: self.token.clone() }))
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
            "state": state.name(Forge::Gitea), "context": "leakgate",
            "description": description, "target_url": target_url,
        });
        let path = format!("{}/statuses/{sha}", Self::repository(&push.repo));
        self.rest.call(Method::POST, &path, Some(&body), "commit status").await?;
        Ok(())
    }

    async fn find_issue(
        &self,
        _installation: Option<u64>,
        repo: &str,
        marker: &str,
    ) -> Result<Option<ForgeIssue>, ForgeError> {
        let path = format!(
            "{}/issues?state=all&type=issues&q={}&limit=50",
            Self::repository(repo),
            encode_path(marker)
        );
        let page = self.rest.call(Method::GET, &path, None, "issue search").await?;
        find_in_pages(&[page], marker)
    }

    async fn create_issue(
        &self,
        _installation: Option<u64>,
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
        let path = format!("{}/issues", Self::repository(repo));
        let request = json!({"title": title, "body": body});
        let reply = self.rest.call(Method::POST, &path, Some(&request), "open issue").await?;
        parse_issue("gitea", &reply, "number", "html_url")
    }

    async fn edit_issue(
        &self,
        _installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/issues/{number}", Self::repository(repo));
        let request = json!({"body": body});
        self.rest.call(Method::PATCH, &path, Some(&request), "edit issue").await?;
        Ok(())
    }
}
