//! GitLab: `PRIVATE-TOKEN`, projects by numeric id or encoded path, issues by `iid`,
//! confidential issues.

use reqwest::Method;
use serde_json::json;

use super::rest::Rest;
use super::{
    encode_path, find_in_pages, parse_issue, ForgeApi, ForgeError, ForgeIssue, StatusState,
};
use crate::config::{ForgeConfig, Sensitive};
use crate::event::{Forge, Push};
use crate::mirror::Credentials;

/// GitLab with a token.
pub struct Gitlab {
    rest: Rest,
    token: Sensitive,
}

impl Gitlab {
    /// `None` without a token and an API URL.
    pub(super) fn new(config: &ForgeConfig) -> Result<Option<Self>, ForgeError> {
        let (Some(token), Some(api_url)) =
            (config.token.as_ref().filter(|t| t.is_set()), config.api_url.as_ref())
        else {
            return Ok(None);
        };
        let rest = Rest::new("gitlab", api_url, ("PRIVATE-TOKEN", token.clone()))?;
        Ok(Some(Gitlab { rest, token: token.clone() }))
    }

    fn project(repo: &str) -> String {
        format!("/projects/{}", encode_path(repo))
    }
}

impl ForgeApi for Gitlab {
    async fn git_credentials(&self, _push: &Push) -> Result<Option<Credentials>, ForgeError> {
        Ok(Some(Credentials { username: "oauth2".into(), password: self.token.clone() }))
    }

    async fn set_status(
        &self,
        push: &Push,
        sha: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        // By its path, as every other call and the fetch name it: the payload's numeric id
        // could name another project (review of session 28).
        let project = Self::project(&push.repo);
        let name = push
            .git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| push.git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(&push.git_ref);
        let body = json!({
            "state": state.name(Forge::Gitlab), "name": "leakgate", "description": description,
            "ref": name, "target_url": target_url,
        });
        let path = format!("{project}/statuses/{sha}");
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
            "{}/issues?search={}&in=title&per_page=100",
            Self::project(repo),
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
        let path = format!("{}/issues", Self::project(repo));
        let request = json!({"title": title, "description": body, "confidential": confidential});
        let reply = self.rest.call(Method::POST, &path, Some(&request), "open issue").await?;
        parse_issue("gitlab", &reply, "iid", "web_url")
    }

    async fn edit_issue(
        &self,
        _installation: Option<u64>,
        repo: &str,
        number: i64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/issues/{number}", Self::project(repo));
        let request = json!({"description": body});
        self.rest.call(Method::PUT, &path, Some(&request), "edit issue").await?;
        Ok(())
    }
}
