//! Outbound notifications: a new leak and a revocation's outcome, sent to Slack (incoming
//! webhook), Microsoft Teams (incoming webhook, an Adaptive Card) and generic JSON webhooks
//! signed with HMAC-SHA256 (`X-Leakgate-Signature-256: sha256=<hex>` over the raw body).
//!
//! An event becomes a `notify` job, which fans out to one `deliver` job per target that
//! subscribes to it; each delivery retries with the queue's backoff (and `Retry-After` on
//! 429), so one slow or failing target never delays or repeats another. Events carry redacted
//! forms and fingerprint prefixes only, never a secret. Targets are named
//! (`[notify.<name>]`): a job names its target, and a target removed from the configuration
//! drops its pending deliveries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Sensitive;

/// What kind of endpoint a target is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Slack incoming webhook: `{"text": ...}`.
    Slack,
    /// A Microsoft Teams incoming webhook: an Adaptive Card.
    Teams,
    /// Any HTTPS endpoint: the event as JSON, signed.
    #[default]
    Webhook,
}

/// `[notify.<name>]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    /// `slack`, `teams` or `webhook`.
    pub kind: Kind,
    /// The endpoint (Slack and Teams webhook URLs are credentials: prefer `url_file`).
    pub url: Option<Sensitive>,
    /// `url` read from a file.
    pub url_file: Option<PathBuf>,
    /// `webhook`: the HMAC-SHA256 key of `X-Leakgate-Signature-256`.
    pub secret: Option<Sensitive>,
    /// `secret` read from a file.
    pub secret_file: Option<PathBuf>,
    /// The events sent (`leak`, `revocation`); empty: all.
    pub events: Vec<String>,
    /// Permit a non-public address.
    pub allow_internal: bool,
    /// Permit plain `http://`.
    pub allow_http: bool,
    /// Slack: add buttons (approve or reject a bypass request, revoke a leaked key), answered
    /// at `POST /slack/interactions` ([slack] signing secret and approvers).
    pub interactive: bool,
}

/// The events there are.
pub const EVENTS: &[&str] = &["leak", "revocation", "bypass", "bypass_request"];

impl Target {
    /// Whether this target takes `event`.
    fn takes(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// Checks every target.
///
/// # Errors
///
/// The key and what is wrong with it.
pub fn validate(targets: &BTreeMap<String, Target>) -> Result<(), String> {
    for (name, t) in targets {
        if let Some(e) = t.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(format!(
                "notify.{name}.events: unknown event {e:?} (known: {})",
                EVENTS.join(", ")
            ));
        }
        if t.url.is_none() && t.url_file.is_none() {
            return Err(format!("notify.{name}: url or url_file is required"));
        }
    }
    Ok(())
}

/// Something worth telling a person about (no secret in it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A secret found in a push or reported to leakgate.
    Leak {
        /// Where: `forge:owner/name`, or the source of a report.
        repo: String,
        /// The rule that found it.
        rule_id: String,
        /// Its severity.
        severity: String,
        /// The redacted secret.
        redacted: String,
        /// The keyed fingerprint's first 16 hex digits.
        fingerprint: String,
        /// The file, the alert or the report it was found in.
        path: String,
        /// The commit, when there is one.
        commit: Option<String>,
        /// The recorded finding.
        finding_id: Option<i64>,
    },
    /// A revocation ended (or stopped for a person).
    Revocation {
        /// Where the secret was found.
        repo: String,
        /// The provider.
        provider: String,
        /// The state it reached.
        state: String,
        /// What the provider answered (no secret).
        summary: String,
        /// The fingerprint's first 16 hex digits.
        fingerprint: String,
        /// The finding.
        finding_id: Option<i64>,
    },
    /// A push went through the pre-receive hook's gate by a bypass.
    Bypass {
        /// The repository (the hook's path).
        repo: String,
        /// Who pushed.
        user: String,
        /// The reason given (or the approved request, or `exempt`).
        reason: String,
        /// The refs pushed.
        refs: String,
        /// The commits let through.
        commits: String,
        /// How many secrets it let through.
        secrets: usize,
    },
    /// A rejected pusher asked for a bypass (`bypassMode = request`).
    BypassRequest {
        /// The request's id (`leakgate bypass approve ID`).
        id: i64,
        /// The repository.
        repo: String,
        /// Who asks.
        pusher: String,
        /// How many secrets it is about.
        secrets: usize,
    },
}

impl Event {
    /// The event's name (what `events` subscribes to).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Leak { .. } => "leak",
            Event::Revocation { .. } => "revocation",
            Event::Bypass { .. } => "bypass",
            Event::BypassRequest { .. } => "bypass_request",
        }
    }

    /// What makes two notifications one: a secret's leak per place, a revocation per state.
    pub fn key(&self) -> String {
        match self {
            Event::Leak { repo, fingerprint, .. } => format!("leak:{repo}:{fingerprint}"),
            Event::Revocation { fingerprint, state, .. } => {
                format!("revocation:{fingerprint}:{state}")
            }
            Event::Bypass { repo, user, commits, .. } => {
                format!("bypass:{repo}:{user}:{commits}")
            }
            Event::BypassRequest { id, .. } => format!("bypass_request:{id}"),
        }
    }

    /// One line for people (Slack, Teams): every name from a push inside a code span.
    pub fn text(&self) -> String {
        match self {
            Event::Leak { repo, rule_id, severity, redacted, path, commit, finding_id, .. } => {
                let commit = commit
                    .as_deref()
                    .map(|c| format!(" in commit {}", span(c)))
                    .unwrap_or_default();
                let finding = finding_id.map(|id| format!(" (finding {id})")).unwrap_or_default();
                format!(
                    "leakgate: {severity} leak of {} ({}) in {} at {}{commit}{finding}",
                    span(redacted),
                    span(rule_id),
                    span(repo),
                    span(path)
                )
            }
            Event::Revocation { repo, provider, state, summary, fingerprint, .. } => format!(
                "leakgate: revocation {} via {} for secret {} from {} ({})",
                span(state),
                span(provider),
                span(fingerprint),
                span(repo),
                clean(summary)
            ),
            Event::Bypass { repo, user, reason, refs, secrets, .. } => format!(
                "leakgate: {} bypassed the gate on {} ({}) with reason {}: {secrets} secret(s) let through",
                span(user),
                span(repo),
                span(refs),
                span(reason)
            ),
            Event::BypassRequest { id, repo, pusher, secrets } => format!(
                "leakgate: bypass request {id} by {} on {} ({secrets} secret(s)): review it with `leakgate bypass approve {id}` or `leakgate bypass reject {id} --message ...`",
                span(pusher),
                span(repo)
            ),
        }
    }
}

/// Text from a push, as a code span nothing can break out of: no backticks, no control
/// characters, no markup-opening characters, at most 200 characters.
fn span(text: &str) -> String {
    format!("`{}`", clean(text))
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || matches!(c, '`' | '<' | '>' | '&' | '|') { ' ' } else { c })
        .take(200)
        .collect()
}

/// The buttons an interactive Slack message gets for `event`: (label, action, value, style).
fn buttons(event: &Event) -> Vec<(&'static str, &'static str, String, &'static str)> {
    use crate::slack::{APPROVE_BYPASS, REJECT_BYPASS, REVOKE};
    match event {
        Event::BypassRequest { id, .. } => vec![
            ("Approve", APPROVE_BYPASS, id.to_string(), "primary"),
            ("Reject", REJECT_BYPASS, id.to_string(), "danger"),
        ],
        Event::Leak { finding_id: Some(id), .. } => {
            vec![("Revoke now", REVOKE, id.to_string(), "danger")]
        }
        _ => Vec::new(),
    }
}

/// The body a target gets, and its content type.
fn body(kind: Kind, event: &Event, interactive: bool) -> Vec<u8> {
    let value = match kind {
        Kind::Slack if interactive && !buttons(event).is_empty() => {
            let elements: Vec<serde_json::Value> = buttons(event)
                .into_iter()
                .map(|(label, action, value, style)| {
                    json!({
                        "type": "button", "text": {"type": "plain_text", "text": label},
                        "action_id": action, "value": value, "style": style,
                    })
                })
                .collect();
            json!({
                "text": event.text(),
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": event.text()}},
                    {"type": "actions", "elements": elements},
                ],
            })
        }
        Kind::Slack => json!({ "text": event.text() }),
        Kind::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{ "type": "TextBlock", "text": event.text(), "wrap": true }],
                },
            }],
        }),
        Kind::Webhook => serde_json::to_value(event).unwrap_or_default(),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// How a delivery ended.
#[derive(Debug)]
pub enum Sent {
    /// Delivered (2xx), or nothing to do (the target is gone).
    Done,
    /// Try again after the queue's backoff (no answer, 5xx).
    Retry(String),
    /// Try again after this delay (429).
    Later(Duration, String),
    /// Refused for good (another 4xx): dropped, with why.
    Refused(String),
}

/// Sends `event` to the target `name` of `targets`.
pub async fn deliver(targets: &BTreeMap<String, Target>, name: &str, event: &Event) -> Sent {
    let Some(target) = targets.get(name) else { return Sent::Done };
    let Some(url) = target.url.as_ref().filter(|u| u.is_set()) else {
        return Sent::Refused(format!("[notify.{name}] has no url"));
    };
    let timeout = Duration::from_secs(10);
    let client = match crate::revoke::guard::client_for(
        url.expose(),
        target.allow_internal,
        target.allow_http,
        timeout,
    )
    .await
    {
        Ok(client) => client,
        Err(e) => return Sent::Refused(e),
    };
    let body = body(target.kind, event, target.interactive);
    let mut request = client
        .post(url.expose())
        .header("content-type", "application/json")
        .header("user-agent", "leakgate")
        .header("X-Leakgate-Event", event.name());
    if target.kind == Kind::Webhook {
        if let Some(secret) = target.secret.as_ref().filter(|s| s.is_set()) {
            let signature = crate::signature::sign_hex(secret.expose().as_bytes(), &body);
            request = request.header("X-Leakgate-Signature-256", format!("sha256={signature}"));
        }
    }
    // The URL is a credential (Slack, Teams): errors never print it.
    let response = match request.body(body).send().await {
        Ok(response) => response,
        Err(e) => return Sent::Retry(format!("[notify.{name}]: {}", e.without_url())),
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => Sent::Done,
        429 => {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(30), |s| Duration::from_secs(s.min(3600)));
            Sent::Later(after, format!("[notify.{name}]: HTTP 429"))
        }
        500..=599 => Sent::Retry(format!("[notify.{name}]: HTTP {status}")),
        _ => Sent::Refused(format!("[notify.{name}]: HTTP {status}")),
    }
}

/// The targets that take `event`, by name.
pub fn subscribers<'a>(
    targets: &'a BTreeMap<String, Target>,
    event: &'a Event,
) -> impl Iterator<Item = &'a str> + 'a {
    targets.iter().filter(|(_, t)| t.takes(event.name())).map(|(name, _)| name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(path: &str) -> Event {
        Event::Leak {
            repo: "github:acme/app".into(),
            rule_id: "github-pat-classic".into(),
            severity: "critical".into(),
            redacted: "ghp_…".into(),
            fingerprint: "0123456789abcdef".into(),
            path: path.into(),
            commit: Some("abc".into()),
            finding_id: Some(7),
        }
    }

    #[test]
    fn names_from_a_push_cannot_write_markup() {
        let text = leak("a`b <!channel> |x| &amp;\n@here").text();
        assert!(!text.contains("<!channel>") && !text.contains('\n'), "{text}");
        // Five names, each in one span: the path's own backtick is gone.
        assert_eq!(text.matches('`').count(), 10, "{text}");
    }

    #[test]
    fn bodies_by_kind_and_keys_by_event() {
        let event = leak("a.env");
        let slack: serde_json::Value =
            serde_json::from_slice(&body(Kind::Slack, &event, false)).unwrap_or_default();
        assert!(slack["text"].as_str().is_some_and(|t| t.contains("`a.env`")));
        let teams: serde_json::Value =
            serde_json::from_slice(&body(Kind::Teams, &event, false)).unwrap_or_default();
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
        let hook: serde_json::Value =
            serde_json::from_slice(&body(Kind::Webhook, &event, false)).unwrap_or_default();
        assert_eq!((hook["event"].as_str(), hook["finding_id"].as_i64()), (Some("leak"), Some(7)));
        assert_eq!(event.key(), "leak:github:acme/app:0123456789abcdef");
    }
}
