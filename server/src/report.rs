//! What the service writes on a forge: issue titles and bodies, status descriptions. Only
//! redacted secrets and fingerprint prefixes appear here, never a plaintext secret.

use std::fmt::Write;

use leakgate_rules::Finding;
use leakgate_store::{Revocation, Validation};
use sha2::{Digest, Sha256};

use crate::event::Push;

/// The start of the issue body's revocation row.
const REVOCATION_ROW: &str = "| Revocation | ";
/// The start of the issue body's validity row.
const VALIDITY_ROW: &str = "| Validity | ";
/// The start of the issue body's severity row.
const SEVERITY_ROW: &str = "| Severity | ";

/// What the service keeps up to date in an issue: the key's validity and its revocation.
pub struct Status {
    /// The validity row's text.
    pub validity: String,
    /// The revocation row's text.
    pub revocation: String,
    /// The last validity, which raises (live) or lowers (dead) the severity shown.
    pub live: Option<bool>,
}

impl Status {
    /// The status from the stored rows.
    pub fn of(validation: Option<&Validation>, revocation: Option<&Revocation>) -> Self {
        let live = validation.and_then(|v| match crate::validate::Validity::parse(&v.state) {
            Some(crate::validate::Validity::Valid) => Some(true),
            Some(v) if v.is_dead() => Some(false),
            _ => None,
        });
        Status {
            validity: validity_text(validation),
            revocation: revocation_text(revocation),
            live,
        }
    }
}

/// At most this many locations are listed in an issue body.
const MAX_LOCATIONS: usize = 20;

/// The tag in an issue's title that finds it again: the fingerprint's first 16 hex digits.
pub fn marker(fingerprint: &str) -> String {
    format!("[leakgate:{}]", &fingerprint[..fingerprint.len().min(16)])
}

/// The issue title for a leaked secret.
pub fn issue_title(first: &Finding) -> String {
    let path: String = clean(&first.path).chars().take(120).collect();
    format!(
        "Leaked {} credential ({}) in {path} {}",
        first.provider,
        first.rule_id,
        marker(first.fingerprint.as_str())
    )
}

/// The issue body: where the secret is, what it is (redacted), the revocation state and
/// what to do.
pub fn issue_body(push: &Push, findings: &[&Finding], status: &Status) -> String {
    let first = findings[0];
    let mut body = String::new();
    let _ = writeln!(
        body,
        "leakgate found a credential in {} that was pushed to {} by {}. Treat it as \
         compromised: anyone who can read this repository's history can use it.\n",
        code(&push.repo),
        code(&push.git_ref),
        if push.pusher.is_empty() { "an unknown user".to_owned() } else { code(&push.pusher) },
    );
    let _ = writeln!(body, "| | |\n|---|---|");
    let _ = writeln!(body, "| Rule | {} |", cell(&code(&first.rule_id)));
    let _ = writeln!(body, "| Provider | {} |", cell(&code(&first.provider)));
    let _ = writeln!(
        body,
        "{SEVERITY_ROW}{} |",
        severity_text(&first.severity.to_string(), status.live)
    );
    let _ = writeln!(body, "| Secret (redacted) | {} |", cell(&code(&first.redacted)));
    let _ = writeln!(
        body,
        "| Fingerprint | `{}` |",
        &first.fingerprint.as_str()[..16.min(first.fingerprint.as_str().len())]
    );
    let _ = writeln!(body, "{VALIDITY_ROW}{} |", status.validity);
    let _ = writeln!(body, "{REVOCATION_ROW}{} |\n", status.revocation);
    let _ = writeln!(body, "**Where it appears**\n");
    for f in findings.iter().take(MAX_LOCATIONS) {
        let commit = f.commit.as_deref().unwrap_or("?");
        let place = format!("{}:{}", f.path, f.line);
        let _ = writeln!(body, "- {} in commit {}", code(&place), code(commit));
    }
    if findings.len() > MAX_LOCATIONS {
        let _ = writeln!(body, "- ... and {} more", findings.len() - MAX_LOCATIONS);
    }
    let _ = writeln!(
        body,
        "\n**What to do**\n\n\
         1. Revoke or rotate the credential at {} now, unless the revocation above says it is revoked.\n\
         2. Remove it from the code; load it from a secret store or the environment instead.\n\
         3. Rewriting history does not make it safe again: the push already exposed it. Revocation ends the exposure.\n\
         4. Close this issue once the credential is revoked.",
        first.provider
    );
    body
}

/// Text for a title: no backticks or line breaks.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c == '`' || leakgate_rules::is_hidden(c) { '?' } else { c }).collect()
}

/// `text` as a Markdown code span that it cannot close: a fence of more backticks than its
/// longest run, control characters replaced, at most 300 characters. Inside a code span,
/// nothing is markup: no mentions, links, HTML or headings.
pub fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .take(300)
        .map(|c| if leakgate_rules::is_hidden(c) { '?' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad =
        if text.starts_with('`') || text.ends_with('`') || text.is_empty() { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` safe in a table cell: GitHub splits rows on `|` even inside code spans.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Hash of a body, to skip writing the same body twice.
pub fn body_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// The commit status description.
pub fn status_description(secrets: usize, commits: usize) -> String {
    match secrets {
        0 => format!("No secrets in {commits} new commit(s)"),
        1 => "1 leaked secret found: revoke it".to_owned(),
        n => format!("{n} leaked secrets found: revoke them"),
    }
}

/// The revocation row's text for a secret's revocation (none: no provider can revoke it).
pub fn revocation_text(revocation: Option<&Revocation>) -> String {
    let Some(r) = revocation else {
        return "none: leakgate cannot revoke this kind of key; rotate it by hand".into();
    };
    let provider = &r.provider;
    let summary = r.summary.replace(['|', '\n', '`'], " ");
    let finding = r.finding_id.map_or_else(|| "ID".to_owned(), |id| id.to_string());
    let command = format!("`leakgate revoke --finding {finding}`");
    use leakgate_store::RevocationState as State;
    match r.state {
        State::Revoked => format!("**revoked** via {provider} ({summary})"),
        State::AlreadyInvalid => {
            format!("**already invalid**: {provider} says the key no longer works ({summary})")
        }
        State::Queued | State::Sending => format!("queued with {provider}"),
        State::AwaitingApproval => {
            format!("waiting for approval: {command} revokes it via {provider}")
        }
        State::Review => format!("not automatic ({summary}): {command} revokes it via {provider}"),
        State::Off => format!("off ({summary})"),
        State::DryRun => format!("dry run: would revoke via {provider}"),
        State::Unsupported => format!("not possible via {provider}: {summary}; rotate it by hand"),
        State::FailedPermanent => format!("failed via {provider}: {summary}; rotate it by hand"),
        State::FailedRetryable => format!(
            "failed via {provider} after {} attempts ({summary}); {command} tries again",
            r.attempts
        ),
    }
}

/// The severity row's text: the rule's severity, raised to critical for a key validated
/// live and lowered to low for one its provider refuses.
fn severity_text(base: &str, live: Option<bool>) -> String {
    match live {
        Some(true) if base != "critical" => {
            format!("critical (raised from {base}: the key is live)")
        }
        Some(false) if base != "low" => {
            format!("low (lowered from {base}: the key no longer works)")
        }
        _ => base.to_owned(),
    }
}

/// The validity row's text.
pub fn validity_text(validation: Option<&Validation>) -> String {
    let Some(v) = validation else {
        return "not checked".into();
    };
    let summary = v.summary.replace(['|', '\n', '`'], " ");
    let when = v.checked_at.map(|at| format!(", checked {}", utc(at))).unwrap_or_default();
    match v.state.as_str() {
        "pending" => format!("being checked with {}", v.validator),
        "valid" => format!("**valid**: {} accepts the key ({summary}{when})", v.validator),
        "invalid" | "revoked" | "expired" => {
            format!("{}: {} refuses the key ({summary}{when})", v.state, v.validator)
        }
        "canary" => format!("**canary**: a honeytoken, not called ({summary})"),
        "not_checkable" => format!("not checkable ({summary})"),
        other => format!("{other} ({summary}{when}); checked again later"),
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC, to the second).
fn utc(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `body` with its status rows saying what `status` says (an issue written before the
/// validity row existed gets one, above the revocation row).
pub fn with_status(body: &str, status: &Status) -> String {
    let has_validity = body.lines().any(|l| l.starts_with(VALIDITY_ROW));
    let mut out = Vec::new();
    for line in body.lines() {
        if line.starts_with(REVOCATION_ROW) {
            if !has_validity {
                out.push(format!("{VALIDITY_ROW}{} |", status.validity));
            }
            out.push(format!("{REVOCATION_ROW}{} |", status.revocation));
        } else if line.starts_with(VALIDITY_ROW) {
            out.push(format!("{VALIDITY_ROW}{} |", status.validity));
        } else if let Some(rest) = line.strip_prefix(SEVERITY_ROW) {
            // The rule's own severity: the first word, or the one a change was made from.
            let changed = rest.split_once(" from ").and_then(|(_, r)| r.split(':').next());
            let base = changed.unwrap_or_else(|| rest.split_whitespace().next().unwrap_or(""));
            out.push(format!("{SEVERITY_ROW}{} |", severity_text(base, status.live)));
        } else {
            out.push(line.to_owned());
        }
    }
    out.join("\n") + if body.ends_with('\n') { "\n" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(state: &str) -> Revocation {
        Revocation {
            fingerprint: "f".repeat(64),
            provider: "github".into(),
            lane: "github-batch".into(),
            rule_id: "github-pat-classic".into(),
            finding_id: Some(17),
            context: "{}".into(),
            state: leakgate_store::RevocationState::parse(state).expect("a state"),
            summary: "HTTP 202 | `x`".into(),
            attempts: 9,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_revocation_row_says_where_it_stands() {
        assert!(revocation_text(Some(&revocation("revoked"))).starts_with("**revoked** via github"));
        let waiting = revocation_text(Some(&revocation("awaiting_approval")));
        assert!(waiting.contains("`leakgate revoke --finding 17`"), "{waiting}");
        assert!(revocation_text(Some(&revocation("failed_retryable"))).contains("after 9 attempts"));
        assert!(revocation_text(None).contains("rotate it by hand"));
        // A summary cannot break the table row.
        assert!(!revocation_text(Some(&revocation("revoked"))).contains('|'));
    }

    #[test]
    fn names_from_the_push_cannot_write_markdown() {
        let key = leakgate_rules::FingerprintKey::new(b"k");
        let secret = leakgate_rules::Secret::new(b"ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        let finding = Finding {
            rule_id: "github-pat-classic".into(),
            provider: "github".into(),
            severity: leakgate_rules::Severity::Critical,
            description: String::new(),
            path: "a`b`` @admin\n# x <img src=y>|z".into(),
            line: 3,
            column: 1,
            commit: Some("c1".into()),
            redacted: secret.redacted(),
            fingerprint: key.fingerprint(&secret),
            checksum_valid: true,
            inline_allowed: false,
            revoke: None,
            secret,
        };
        let push = Push {
            forge: crate::event::Forge::Github,
            repo: "acme/app".into(),
            project_id: None,
            private: Some(true),
            git_ref: "refs/heads/x`` @org/team\n## Pwned [click](https://evil.example)".into(),
            before: "0".repeat(40),
            after: "1".repeat(40),
            pusher: "@everyone".into(),
            default_branch: None,
            received_at: None,
            installation_id: None,
        };
        let status =
            Status { validity: "not checked".into(), revocation: "queued".into(), live: None };
        let body = issue_body(&push, &[&finding], &status);
        // No line break from a name survives, so no heading or list starts.
        assert!(!body.lines().any(|l| l.starts_with("## Pwned") || l.starts_with("# x")), "{body}");
        // Every name is inside a code span whose fence it cannot match.
        assert!(
            body.contains("```refs/heads/x`` @org/team?## Pwned [click](https://evil.example)```"),
            "{body}"
        );
        assert!(body.contains("`@everyone`"), "{body}");
        assert!(body.contains("```a`b`` @admin?# x <img src=y>|z:3```"), "{body}");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(cell(&code("a|b")), "`a\\|b`");
        let title = issue_title(&finding);
        assert!(!title.contains('`') && !title.contains('\n'), "{title}");
    }

    #[test]
    fn only_the_status_rows_change_and_validity_drives_the_severity() {
        let body = "intro\n\n| | |\n|---|---|\n| Rule | `r` |\n| Severity | high |\n| Revocation | queued with github |\n\nrest\n";
        let revoked = |live| Status {
            validity: "**valid**: github accepts the key".into(),
            revocation: "**revoked** via github (HTTP 202)".into(),
            live,
        };
        let new = with_status(body, &revoked(Some(true)));
        assert_eq!(
            new,
            "intro\n\n| | |\n|---|---|\n| Rule | `r` |\n| Severity | critical (raised from high: the key is live) |\n| Validity | **valid**: github accepts the key |\n| Revocation | **revoked** via github (HTTP 202) |\n\nrest\n"
        );
        assert_eq!(with_status(&new, &revoked(Some(true))), new, "idempotent");
        let dead = with_status(&new, &revoked(Some(false)));
        assert!(
            dead.contains("| Severity | low (lowered from high: the key no longer works) |"),
            "{dead}"
        );
        let unknown = with_status(&dead, &revoked(None));
        assert!(unknown.contains("| Severity | high |"), "back to the rule's: {unknown}");
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_400_000_000), "2026-12-04T16:00:00Z");
    }
}
