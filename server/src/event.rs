//! Push events from the three forges, reduced to what a scan job needs.
//!
//! The payload's commit list is not used: forges truncate it (GitHub at 2,048 commits, GitLab
//! at 20), so the worker fetches `before..after` itself.

use serde::{Deserialize, Serialize};

/// Which forge sent a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    /// GitHub (an App) or GitHub Enterprise Server.
    Github,
    /// GitLab.
    Gitlab,
    /// Gitea or Forgejo.
    Gitea,
}

impl Forge {
    /// Lower-case name, as in metrics, URLs and the store.
    pub fn name(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Gitea => "gitea",
        }
    }
}

/// A push to scan: the payload of a `push` job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The forge.
    pub forge: Forge,
    /// `owner/name` (GitLab: `group/subgroup/project`).
    pub repo: String,
    /// GitLab's numeric project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    /// Whether the repository is readable by anyone (an issue in it is public). Unknown
    /// (a payload without visibility) counts as public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    /// The ref pushed.
    pub git_ref: String,
    /// The ref's previous tip (all zeros for a new ref).
    pub before: String,
    /// The ref's new tip.
    pub after: String,
    /// Who pushed.
    pub pusher: String,
    /// GitHub App installation that delivered the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
    /// The repository's default branch (the protected one whose `.leakgate.toml` applies),
    /// when the forge names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// When the delivery was received (ms since the epoch): what the service recorded
    /// before it predates this push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
}

impl Push {
    /// Whether the push deleted the ref (nothing to scan).
    pub fn is_delete(&self) -> bool {
        is_zero(&self.after)
    }
}

/// Whether `id` is git's all-zeros id.
pub fn is_zero(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

/// What a delivery's body held.
#[derive(Debug)]
pub enum Parsed {
    /// A push to scan.
    Push(Push),
    /// A push that deleted a ref.
    Delete,
}

/// Why a body was refused after its signature passed.
#[derive(Debug, thiserror::Error)]
#[error("malformed {forge} push payload: {reason}")]
pub struct PayloadError {
    forge: &'static str,
    reason: String,
}

/// serde's message quotes the value it could not take (a key pushed into a field would go
/// to the log, review of session 28): only what kind of error and where.
fn fail(forge: Forge) -> impl Fn(serde_json::Error) -> PayloadError {
    move |e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a field is missing or of the wrong type",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Eof => "cut short",
            serde_json::error::Category::Io => "unreadable",
        };
        PayloadError {
            forge: forge.name(),
            reason: format!("{what} (line {}, column {})", e.line(), e.column()),
        }
    }
}

fn check_id(forge: Forge, what: &str, id: &str) -> Result<(), PayloadError> {
    let ok = (id.len() == 40 || id.len() == 64) && id.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(PayloadError { forge: forge.name(), reason: format!("`{what}` is not an object id") })
    }
}

#[derive(Deserialize)]
struct GithubPush {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    repository: GithubRepo,
    #[serde(default)]
    pusher: Option<Named>,
    #[serde(default)]
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct GithubRepo {
    full_name: String,
    /// GitHub, Gitea.
    #[serde(default)]
    private: Option<bool>,
    /// GitHub: `public`, `private`, `internal` (visible to the enterprise).
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

impl Named {
    fn best(self) -> String {
        self.login.or(self.username).or(self.name).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct GitlabPush {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    project_id: u64,
    project: GitlabProject,
    #[serde(default)]
    user_username: Option<String>,
}

#[derive(Deserialize)]
struct GitlabProject {
    path_with_namespace: String,
    /// 0 private, 10 internal, 20 public.
    #[serde(default)]
    visibility_level: Option<u8>,
    #[serde(default)]
    default_branch: Option<String>,
}

/// A GitHub secret scanning alert to act on (`secret_scanning_alert` webhook).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The repository (`owner/name`).
    pub repo: String,
    /// The alert's number in the repository.
    pub number: u64,
    /// What happened: `created`, `reopened`, `validated` or `publicly_leaked`.
    pub action: String,
    /// Whether the repository is private (an issue in it is not public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    /// The App installation that delivered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
}

/// The alert actions leakgate acts on; the others (`resolved`, `assigned`, ...) change
/// nothing about the key.
pub const ALERT_ACTIONS: &[&str] = &["created", "reopened", "validated", "publicly_leaked"];

#[derive(Deserialize)]
struct GithubAlertEvent {
    action: String,
    alert: GithubAlertNumber,
    repository: GithubRepo,
    #[serde(default)]
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct GithubAlertNumber {
    number: u64,
}

/// Parses a `secret_scanning_alert` body; `None` for an action leakgate does not act on.
///
/// # Errors
///
/// [`PayloadError`] for JSON that is not such an event.
pub fn parse_alert(body: &[u8]) -> Result<Option<Alert>, PayloadError> {
    // The position only: serde's message may quote the payload.
    let e: GithubAlertEvent = serde_json::from_slice(body).map_err(|e| PayloadError {
        forge: "github",
        reason: format!("not a secret scanning alert (line {}, column {})", e.line(), e.column()),
    })?;
    if !ALERT_ACTIONS.contains(&e.action.as_str()) {
        return Ok(None);
    }
    let name = &e.repository.full_name;
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if !name.split_once('/').is_some_and(|(o, r)| valid(o) && valid(r)) {
        return Err(PayloadError { forge: "github", reason: "not a repository name".into() });
    }
    Ok(Some(Alert {
        private: match e.repository.visibility.as_deref() {
            Some("public") => Some(false),
            Some(_) => Some(true),
            None => e.repository.private,
        },
        repo: e.repository.full_name,
        number: e.alert.number,
        action: e.action,
        installation_id: e.installation.map(|i| i.id),
    }))
}

/// Parses a push body from `forge`.
///
/// # Errors
///
/// [`PayloadError`] for JSON that is not a push of that forge.
pub fn parse_push(forge: Forge, body: &[u8]) -> Result<Parsed, PayloadError> {
    let push = match forge {
        Forge::Github | Forge::Gitea => {
            let p: GithubPush = serde_json::from_slice(body).map_err(fail(forge))?;
            Push {
                forge,
                private: match p.repository.visibility.as_deref() {
                    Some("public") => Some(false),
                    Some(_) => Some(true),
                    None => p.repository.private,
                },
                default_branch: p.repository.default_branch,
                received_at: Some(leakgate_store::now_ms()),
                repo: p.repository.full_name,
                project_id: None,
                git_ref: p.git_ref,
                before: p.before,
                after: p.after,
                pusher: p.pusher.map(Named::best).unwrap_or_default(),
                installation_id: p.installation.map(|i| i.id),
            }
        }
        Forge::Gitlab => {
            let p: GitlabPush = serde_json::from_slice(body).map_err(fail(forge))?;
            Push {
                forge,
                default_branch: p.project.default_branch,
                received_at: Some(leakgate_store::now_ms()),
                repo: p.project.path_with_namespace,
                project_id: Some(p.project_id),
                private: p.project.visibility_level.map(|level| level < 20),
                git_ref: p.git_ref,
                before: p.before,
                after: p.after,
                pusher: p.user_username.unwrap_or_default(),
                installation_id: None,
            }
        }
    };
    check_id(forge, "before", &push.before)?;
    check_id(forge, "after", &push.after)?;
    // No forge sends a push that moves nothing; such a body would post a status ("no new
    // commits") over the one the commit's real push got (review of session 28).
    if push.before.eq_ignore_ascii_case(&push.after) {
        return Err(PayloadError { forge: forge.name(), reason: "`before` is `after`".into() });
    }
    if !crate::mirror::is_repository_path(&push.repo) {
        return Err(PayloadError { forge: forge.name(), reason: "bad repository name".into() });
    }
    if push.is_delete() {
        return Ok(Parsed::Delete);
    }
    Ok(Parsed::Push(push))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    /// A body whose values are of the wrong type is refused without quoting them (a key in a
    /// field went to the log), and a push that moves nothing is refused (review of session
    /// 28).
    #[test]
    fn refusals_quote_nothing_and_a_push_must_move() {
        let key = "sk_live_51Nc4ZZqLmX2vW7tK4pR9cN3bH6sJ"; // leakgate:allow (test fixture)
        let gl = format!(
            r#"{{"object_kind":"push","ref":"refs/heads/x","before":"{A}","after":"{B}",
            "project_id":"STRIPE_KEY={key}","project":{{"path_with_namespace":"g/p"}}}}"#
        );
        let e = parse_push(Forge::Gitlab, gl.as_bytes()).expect_err("refused").to_string();
        assert!(e.contains("wrong type") && !e.contains(key) && !e.contains("sk_live"), "{e}");
        let gh = format!(r#"{{"ref":"refs/heads/main","before":"{key}","after":{{}}}}"#);
        let e = parse_push(Forge::Github, gh.as_bytes()).expect_err("refused").to_string();
        assert!(!e.contains(key), "{e}");
        let same = format!(
            r#"{{"ref":"refs/heads/main","before":"{A}","after":"{A}","repository":{{"full_name":"a/b"}}}}"#
        );
        let e = parse_push(Forge::Gitea, same.as_bytes()).expect_err("refused").to_string();
        assert!(e.contains("`before` is `after`"), "{e}");
    }

    #[test]
    fn github_gitea_and_gitlab_pushes_parse() {
        let gh = format!(
            r#"{{"ref":"refs/heads/main","before":"{A}","after":"{B}","commits":[],
            "repository":{{"full_name":"acme/app","clone_url":"https://github.com/acme/app.git"}},
            "pusher":{{"name":"alice"}},"installation":{{"id":42}}}}"#
        );
        let Parsed::Push(p) = parse_push(Forge::Github, gh.as_bytes()).expect("parses") else {
            panic!("a push")
        };
        assert_eq!(
            (p.repo.as_str(), p.installation_id, p.pusher.as_str()),
            ("acme/app", Some(42), "alice")
        );
        let gl = format!(
            r#"{{"object_kind":"push","ref":"refs/heads/x","before":"{A}","after":"{B}","project_id":7,
            "user_username":"bob","project":{{"path_with_namespace":"g/s/p","git_http_url":"https://gl/g/s/p.git"}}}}"#
        );
        let Parsed::Push(p) = parse_push(Forge::Gitlab, gl.as_bytes()).expect("parses") else {
            panic!("a push")
        };
        assert_eq!((p.repo.as_str(), p.project_id, p.pusher.as_str()), ("g/s/p", Some(7), "bob"));
    }

    #[test]
    fn deletes_and_bad_payloads() {
        let zeros = "0".repeat(40);
        let del = format!(
            r#"{{"ref":"refs/heads/x","before":"{A}","after":"{zeros}","repository":{{"full_name":"a/b","clone_url":"u"}}}}"#
        );
        assert!(matches!(parse_push(Forge::Gitea, del.as_bytes()), Ok(Parsed::Delete)));
        assert!(parse_push(Forge::Github, b"{not json").is_err());
        assert!(parse_push(Forge::Github, b"{}").is_err());
        let bad_id = r#"{"ref":"r","before":"x","after":"y","repository":{"full_name":"a/b","clone_url":"u"}}"#;
        assert!(parse_push(Forge::Github, bad_id.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("object id"));
        let escape = format!(
            r#"{{"ref":"r","before":"{A}","after":"{B}","repository":{{"full_name":"../etc","clone_url":"u"}}}}"#
        );
        assert!(parse_push(Forge::Github, escape.as_bytes()).is_err());
    }
}
