//! The REST transport of GitLab and Gitea: reqwest with the token in a header, no redirects,
//! time limits, bounded answers.

use reqwest::Method;
use serde_json::Value;

use super::{
    classify, header_duration, read_bounded, ForgeError, Reply, CALL_TIMEOUT, CONNECT_TIMEOUT,
    STALL_TIMEOUT,
};
use crate::config::Sensitive;

/// A forge's REST API with its token.
pub(super) struct Rest {
    /// The forge's name, for messages.
    pub name: &'static str,
    /// The API base, without a trailing slash.
    api_url: String,
    /// The header that carries the token, and its value.
    auth: (&'static str, Sensitive),
    http: reqwest::Client,
}

impl Rest {
    /// A client for `api_url` that sends `auth` with every request.
    pub fn new(
        name: &'static str,
        api_url: &str,
        auth: (&'static str, Sensitive),
    ) -> Result<Self, ForgeError> {
        // No redirects: the token header would go wherever a redirect points.
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A forge that stops sending mid-answer fails here, well before the call limit.
            .read_timeout(STALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("leakgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::NotConfigured(format!("{name}: {e}")))?;
        Ok(Rest { name, api_url: api_url.trim_end_matches('/').to_owned(), auth, http })
    }

    /// One call: `path` under the API base, `body` as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Vec<u8>, ForgeError> {
        let forge = self.name;
        let url = format!("{}{path}", self.api_url);
        let mut request = self.http.request(method, &url).header(self.auth.0, self.auth.1.expose());
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
}
