//! The dashboard's pages, rendered from what the store returns. maud escapes every value it
//! writes (repository, branch and path names come from pushers); URLs are built from
//! fingerprints (hex, checked by the routes) or URL-encoded.

use std::time::{Duration, UNIX_EPOCH};

use leakgate_store::{
    Attempt, BypassRequest, BypassRow, IssueLink, Overview, Revocation, RevocationRow, SecretRow,
    Sighting, Validation, Waiver,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::chart;

/// Who is looking: the name they signed in with and their forms' token (`None` for a caller
/// with the operator token in an `Authorization` header).
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// The signed-in name.
    pub name: Option<String>,
    /// The form token.
    pub csrf: Option<String>,
    /// What the last action did (a fixed text, never from the request).
    pub notice: Option<&'static str>,
}

const NAV: [(&str, &str); 4] = [
    ("/ui/", "Overview"),
    ("/ui/secrets", "Open secrets"),
    ("/ui/revocations", "Revocations"),
    ("/ui/exceptions", "Bypasses & waivers"),
];

/// The page around `body`.
pub fn layout(viewer: &Viewer, title: &str, current: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leakgate" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                header {
                    span.brand { "leakgate" }
                    nav {
                        @for (href, label) in NAV {
                            a href=(href) class=[(href == current).then_some("current")] { (label) }
                        }
                    }
                    @if let Some(name) = &viewer.name {
                        form.logout method="post" action="/ui/logout" {
                            (csrf_field(viewer))
                            span { "signed in as " strong { (name) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = viewer.notice { p.notice { (notice) } }
                    (body)
                }
            }
        }
    }
}

fn csrf_field(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(token) = &viewer.csrf {
            input type="hidden" name="csrf" value=(token);
        }
    }
}

/// For a caller without a session (operator token in a header): the name to act as.
fn reviewer_field(viewer: &Viewer, field: &str) -> Markup {
    html! {
        @if viewer.name.is_none() {
            label { "as " input type="text" name=(field) required maxlength="64"; }
        }
    }
}

/// The login form.
pub fn login(next: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Sign in · leakgate" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body.login {
                main {
                    h1 { "leakgate" }
                    @if let Some(error) = error { p.error { (error) } }
                    form method="post" action="/ui/login" {
                        input type="hidden" name="next" value=(next);
                        label { "Your name" input type="text" name="name" required maxlength="64" autocomplete="username"; }
                        label { "Operator token" input type="password" name="token" required autocomplete="current-password"; }
                        button type="submit" { "Sign in" }
                    }
                    p.hint { "The token is the service's " code { "[server] admin_token" } ". Your name is recorded on every decision you make here. The sign-in cookie needs https (or localhost)." }
                }
            }
        }
    }
}

/// A refusal or failure, with a way back.
pub fn problem(viewer: &Viewer, title: &str, message: &str) -> Markup {
    layout(
        viewer,
        title,
        "",
        &html! {
            p.error { (message) }
            p { a href="/ui/" { "Back to the overview" } }
        },
    )
}

/// Milliseconds since the epoch as `2026-12-04 21:19 UTC`.
pub fn when(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// A duration in ms, in its two largest units (`3d 4h`, `5m 2s`, `850 ms`).
pub fn span(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    let s = ms / 1_000;
    let (d, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn state_badge(state: Option<&str>) -> Markup {
    let state = state.unwrap_or("none");
    let tone = match state {
        "valid" | "failed_permanent" | "failed_retryable" | "awaiting_approval" | "review" => "bad",
        "revoked" | "already_invalid" | "invalid" | "expired" => "good",
        _ => "neutral",
    };
    html! { span class={"badge " (tone)} { (state) } }
}

fn severity_badge(severity: &str) -> Markup {
    html! { span class={"sev " (severity)} { (severity) } }
}

fn secret_link(fingerprint: &str, text: &str) -> Markup {
    html! { a href={"/ui/secrets/" (fingerprint)} { (text) } }
}

fn short_fp(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Percentile `p` (0..=100) of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The overview.
pub fn overview(viewer: &Viewer, o: &Overview, now: i64, days: i64) -> Markup {
    const DAY_MS: i64 = 86_400_000;
    let today = now / DAY_MS;
    let per_day: Vec<(String, i64)> = (today - days + 1..=today)
        .map(|day| {
            let n = o.findings_per_day.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
            (when(day * DAY_MS)[5..10].to_owned(), n)
        })
        .collect();
    let paired = |blocked: &[(String, i64)], bypassed: &[(String, i64)]| {
        let mut rows: Vec<(String, i64, i64)> =
            blocked.iter().map(|(k, n)| (k.clone(), *n, 0)).collect();
        for (k, n) in bypassed {
            match rows.iter_mut().find(|r| &r.0 == k) {
                Some(row) => row.2 = *n,
                None => rows.push((k.clone(), 0, *n)),
            }
        }
        rows.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(12);
        rows
    };
    let median = percentile(&o.revoke_times_ms, 50);
    let p95 = percentile(&o.revoke_times_ms, 95);
    let body = html! {
        section.cards {
            a.card href="/ui/secrets" { span.figure { (o.open_secrets) } span { "open secrets" } }
            a.card href="/ui/secrets" { span.figure.bad { (o.live_secrets) } span { "validated live" } }
            a.card href="/ui/revocations?state=awaiting_approval" { span.figure { (o.awaiting_approval) } span { "revocations awaiting approval" } }
            a.card href="/ui/exceptions" { span.figure { (o.open_requests) } span { "open bypass requests" } }
            div.card {
                span.figure { (median.map_or("–".into(), span)) }
                span { "median time to revoke" }
            }
            div.card {
                span.figure { (p95.map_or("–".into(), span)) }
                span { "p95 time to revoke (" (o.revoke_times_ms.len()) " keys)" }
            }
        }
        h2 { "Findings per day (last " (days) " days)" }
        (chart::columns(&per_day, "Findings per day"))
        h2 { "Blocked and bypassed pushes per repository" }
        (chart::paired(&paired(&o.blocked_by_repo, &o.bypassed_by_repo), "Pushes per repository"))
        h2 { "Blocked and bypassed pushes per rule" }
        (chart::paired(&paired(&o.blocked_by_rule, &o.bypassed_by_rule), "Pushes per rule"))
    };
    layout(viewer, "Overview", "/ui/", &body)
}

/// What the secrets page was asked for.
#[derive(Clone, Debug, Default)]
pub struct SecretsQuery {
    /// `open` (default) or `all`.
    pub all: bool,
    /// Repository filter.
    pub repo: String,
    /// Rule filter.
    pub rule: String,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// The secrets page.
pub fn secrets(
    viewer: &Viewer,
    q: &SecretsQuery,
    rows: &[SecretRow],
    total: i64,
    now: i64,
) -> Markup {
    let page = |offset: i64| {
        let offset = offset.to_string();
        let limit = q.limit.to_string();
        let state = if q.all { "all" } else { "open" };
        format!(
            "/ui/secrets?{}",
            query(&[
                ("state", state),
                ("repo", &q.repo),
                ("rule", &q.rule),
                ("limit", &limit),
                ("offset", &offset)
            ])
        )
    };
    let shown_to = q.offset.saturating_add(i64::try_from(rows.len()).unwrap_or(0));
    let body = html! {
        form.filters method="get" action="/ui/secrets" {
            label { "Show " select name="state" {
                option value="open" selected[!q.all] { "open secrets" }
                option value="all" selected[q.all] { "all secrets" }
            } }
            label { "Repository " input type="text" name="repo" value=(q.repo); }
            label { "Rule " input type="text" name="rule" value=(q.rule); }
            input type="hidden" name="limit" value=(q.limit);
            button type="submit" { "Filter" }
        }
        p.count { (total) " secrets" @if !rows.is_empty() { ", showing " (q.offset.saturating_add(1)) "–" (shown_to) } }
        table.secrets {
            thead { tr {
                th { "Severity" } th { "Rule" } th { "Repository" } th { "Secret" }
                th { "First seen" } th { "Age" } th { "Seen" } th { "Validity" } th { "Revocation" }
            } }
            tbody {
                @for r in rows {
                    tr {
                        td { (severity_badge(r.severity())) }
                        td { (r.rule_id) }
                        td {
                            a href={"/ui/secrets?" (query(&[("repo", &r.repo)]))} { (r.repo) }
                            @if r.repos > 1 { " " span.more { "+" (r.repos - 1) } }
                        }
                        td { (secret_link(&r.fingerprint, &r.redacted)) }
                        td { (when(r.first_seen)) }
                        td { (span(now - r.first_seen)) }
                        td { (r.occurrences) }
                        td { (state_badge(r.validity.as_deref())) }
                        td { (state_badge(r.revocation.as_deref())) }
                    }
                }
            }
        }
        p.pages {
            @if q.offset > 0 { a href=(page(q.offset.saturating_sub(q.limit).max(0))) { "← newer" } " " }
            @if shown_to < total { a href=(page(shown_to)) { "more →" } }
        }
    };
    layout(viewer, "Open secrets", "/ui/secrets", &body)
}

/// Everything about one secret.
pub struct SecretView<'a> {
    /// The fingerprint.
    pub fingerprint: &'a str,
    /// Where it was found, newest first.
    pub sightings: &'a [Sighting],
    /// Its revocation.
    pub revocation: Option<&'a Revocation>,
    /// The provider calls made.
    pub attempts: &'a [Attempt],
    /// Its validation.
    pub validation: Option<&'a Validation>,
    /// The issues written.
    pub issues: &'a [IssueLink],
    /// Its waivers.
    pub waivers: &'a [Waiver],
    /// Whether the service validates keys (`[validate] enabled`): a kept validation can be
    /// checked again now.
    pub validating: bool,
}

/// One secret's page.
pub fn secret(viewer: &Viewer, s: &SecretView<'_>, now: i64) -> Markup {
    let first = s.sightings.last();
    let approvable =
        s.revocation.is_some_and(|r| matches!(r.state.as_str(), "awaiting_approval" | "review"));
    let title = first.map_or_else(
        || format!("Secret {}", short_fp(s.fingerprint)),
        |f| format!("{} {}", f.rule_id, f.redacted),
    );
    let body = html! {
        dl.facts {
            dt { "Fingerprint" } dd { code { (s.fingerprint) } }
            @if let Some(f) = first {
                dt { "Rule" } dd { (f.rule_id) " " (severity_badge(&f.severity)) }
                dt { "First seen" } dd { (when(f.first_seen)) " (" (span(now - f.first_seen)) " ago)" }
            }
            dt { "Validity" }
            dd {
                (state_badge(s.validation.map(|v| v.state.as_str())))
                @if let Some(v) = s.validation {
                    " " (v.summary)
                    @if let Some(at) = v.checked_at { " (checked " (when(at)) ", " (v.checks) " checks)" }
                }
            }
            dt { "Revocation" }
            dd {
                (state_badge(s.revocation.map(|r| r.state.as_str())))
                @if let Some(r) = s.revocation { " " (r.provider) ": " (r.summary) }
            }
            dt { "Issues" }
            dd {
                @if s.issues.is_empty() { "none" }
                @for issue in s.issues {
                    @if issue.url.starts_with("https://") || issue.url.starts_with("http://") {
                        a href=(issue.url) rel="noreferrer" { (issue.repo) } " "
                    } @else { (issue.repo) " " }
                }
            }
        }
        @if approvable {
            @if let Some(finding) = s.revocation.and_then(|r| r.finding_id).or(s.sightings.first().map(|f| f.finding_id)) {
                form.action method="post" action={"/ui/secrets/" (s.fingerprint) "/revoke"} {
                    (csrf_field(viewer))
                    input type="hidden" name="finding_id" value=(finding);
                    (reviewer_field(viewer, "reviewer"))
                    button.danger type="submit" {
                        @if s.revocation.is_some_and(|r| matches!(r.state.as_str(), "awaiting_approval" | "review")) {
                            "Approve revocation"
                        } @else { "Send the revocation again" }
                    }
                }
            }
        }
        @if s.validating && s.validation.is_some() {
            form.action method="post" action={"/ui/secrets/" (s.fingerprint) "/validate"} {
                (csrf_field(viewer))
                (reviewer_field(viewer, "by"))
                button type="submit" { "Check validity now" }
            }
        }
        h2 { "Where it was found (" (s.sightings.len()) ")" }
        table {
            thead { tr { th { "When" } th { "Repository" } th { "Refs" } th { "Source" } th { "Pusher" } th { "Commit" } th { "Location" } } }
            tbody {
                @for f in s.sightings {
                    tr {
                        td { (when(f.first_seen)) }
                        td { (f.repo) }
                        td { (chart::shorten(&f.refs, 60)) }
                        td { (f.source) @if f.status == "blocked" { " " span.badge.good { "blocked" } } }
                        td { (f.pusher.as_deref().unwrap_or("")) }
                        td { code { (f.commit_id.as_deref().map_or("", |c| c.get(..12).unwrap_or(c))) } }
                        td { (f.path) ":" (f.line) }
                    }
                }
            }
        }
        h2 { "Revocation attempts" }
        @if s.attempts.is_empty() { p { "None yet." } } @else {
            table {
                thead { tr { th { "When" } th { "Provider" } th { "Outcome" } th { "HTTP" } th { "Answer" } } }
                tbody {
                    @for a in s.attempts {
                        tr {
                            td { (when(a.at)) } td { (a.provider) } td { (state_badge(Some(&a.outcome))) }
                            td { (a.status_code.map(|c| c.to_string()).unwrap_or_default()) }
                            td { (a.summary) }
                        }
                    }
                }
            }
        }
        h2 { "Waivers" }
        (waiver_table(viewer, s.waivers, now))
        (waiver_form(viewer, Some(s.fingerprint)))
    };
    layout(viewer, &title, "/ui/secrets", &body)
}

/// The revocations page.
pub fn revocations(viewer: &Viewer, state: &str, rows: &[RevocationRow]) -> Markup {
    let mut times: Vec<i64> = rows.iter().filter_map(RevocationRow::time_to_revoke).collect();
    times.sort_unstable();
    const STATES: [&str; 11] = [
        "awaiting_approval",
        "review",
        "queued",
        "sending",
        "revoked",
        "already_invalid",
        "failed_permanent",
        "failed_retryable",
        "unsupported",
        "off",
        "dry_run",
    ];
    let body = html! {
        form.filters method="get" action="/ui/revocations" {
            label { "State " select name="state" {
                option value="" selected[state.is_empty()] { "any" }
                @for s in STATES { option value=(s) selected[s == state] { (s) } }
            } }
            button type="submit" { "Filter" }
        }
        p.count {
            (rows.len()) " revocations"
            @if let (Some(m), Some(p)) = (percentile(&times, 50), percentile(&times, 95)) {
                "; push to revoked: median " (span(m)) ", p95 " (span(p))
            }
        }
        table {
            thead { tr { th { "Secret" } th { "Provider" } th { "Rule" } th { "State" } th { "Attempts" } th { "Planned" } th { "Push to revoked" } th { "Summary" } } }
            tbody {
                @for r in rows {
                    tr {
                        td { (secret_link(&r.fingerprint, short_fp(&r.fingerprint))) }
                        td { (r.provider) } td { (r.rule_id) }
                        td { (state_badge(Some(&r.state))) }
                        td { (r.attempts) }
                        td { (when(r.created_at)) }
                        td { (r.time_to_revoke().map(span).unwrap_or_default()) }
                        td { (r.summary) }
                    }
                }
            }
        }
    };
    layout(viewer, "Revocations", "/ui/revocations", &body)
}

fn waiver_table(viewer: &Viewer, waivers: &[Waiver], now: i64) -> Markup {
    html! {
        @if waivers.is_empty() { p { "No waivers." } } @else {
            table {
                thead { tr { th { "Secret" } th { "Repository" } th { "Paths" } th { "Reason" } th { "Approved by" } th { "Expires" } th { "Uses" } th {} } }
                tbody {
                    @for w in waivers {
                        tr {
                            td { (secret_link(&w.fingerprint, short_fp(&w.fingerprint))) }
                            td { (w.repo.as_deref().unwrap_or("every repository")) }
                            td { (w.path_glob.as_deref().unwrap_or("every path")) }
                            td { (w.reason) } td { (w.approved_by) }
                            td { (when(w.expires_at)) @if w.expired(now) { " " span.badge.neutral { "expired" } } }
                            td { (w.uses) }
                            td {
                                form.inline method="post" action={"/ui/waivers/" (w.id) "/remove"} {
                                    (csrf_field(viewer))
                                    (reviewer_field(viewer, "by"))
                                    button type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn waiver_form(viewer: &Viewer, fingerprint: Option<&str>) -> Markup {
    html! {
        details.add {
            summary { "Add a waiver" }
            form method="post" action="/ui/waivers" {
                (csrf_field(viewer))
                label { "Fingerprint " input type="text" name="fingerprint" required pattern="[0-9a-fA-F]{64}" value=[fingerprint]; }
                label { "Repository (empty: every one) " input type="text" name="repo"; }
                label { "Paths (glob, empty: every path) " input type="text" name="path"; }
                label { "Reason " input type="text" name="reason" required; }
                label { "Expires in " input type="text" name="expires_in" value="30d" required; }
                (reviewer_field(viewer, "approved_by"))
                button type="submit" { "Add waiver" }
            }
        }
    }
}

/// The exceptions page: bypass requests, bypasses, waivers.
pub fn exceptions(
    viewer: &Viewer,
    requests: &[BypassRequest],
    bypasses: &[BypassRow],
    waivers: &[Waiver],
    now: i64,
) -> Markup {
    let body = html! {
        h2 { "Bypass requests" }
        @if requests.is_empty() { p { "No bypass requests." } } @else {
            table {
                thead { tr { th { "Opened" } th { "Repository" } th { "Pusher" } th { "Refs" } th { "Secrets" } th { "State" } th { "Reviewer" } th {} } }
                tbody {
                    @for r in requests {
                        @let state = r.state_at(now);
                        tr {
                            td { (when(r.created_at)) }
                            td { (r.repo) } td { (r.pusher) } td { (chart::shorten(&r.refs, 60)) }
                            td {
                                @for fp in r.fingerprint_list() { (secret_link(fp, short_fp(fp))) " " }
                            }
                            td { (state_badge(Some(state))) }
                            td { (r.reviewer.as_deref().unwrap_or("")) @if let Some(m) = &r.message { ": " (m) } }
                            td {
                                @if state == "open" {
                                    form.inline method="post" action={"/ui/bypass-requests/" (r.id) "/approve"} {
                                        (csrf_field(viewer)) (reviewer_field(viewer, "reviewer"))
                                        input type="text" name="message" placeholder="note (optional)";
                                        button type="submit" { "Approve" }
                                    }
                                    form.inline method="post" action={"/ui/bypass-requests/" (r.id) "/reject"} {
                                        (csrf_field(viewer)) (reviewer_field(viewer, "reviewer"))
                                        input type="text" name="message" placeholder="why (required)" required;
                                        button.danger type="submit" { "Reject" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Bypasses" }
        @if bypasses.is_empty() { p { "No bypasses." } } @else {
            table {
                thead { tr { th { "When" } th { "Repository" } th { "Who" } th { "Reason" } th { "Refs" } th { "Secrets" } } }
                tbody {
                    @for b in bypasses {
                        tr {
                            td { (when(b.at)) } td { (b.repo) } td { (b.user_name) }
                            td { (b.reason) @if let Some(c) = &b.comment { ": " (c) } }
                            td { (chart::shorten(&b.refs, 60)) }
                            td { @for fp in b.fingerprints.split_whitespace() { (secret_link(fp, short_fp(fp))) " " } }
                        }
                    }
                }
            }
        }
        h2 { "Waivers" }
        (waiver_table(viewer, waivers, now))
        (waiver_form(viewer, None))
    };
    layout(viewer, "Bypasses & waivers", "/ui/exceptions", &body)
}

/// The stylesheet (served at `/ui/style.css`: the pages allow no inline style).
pub const STYLE: PreEscaped<&str> = PreEscaped(
    "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}\
header{display:flex;gap:24px;align-items:center;background:#1d232a;color:#fff;padding:10px 24px}\
header a{color:#cfd8e3;text-decoration:none;margin-right:16px}header a.current{color:#fff;font-weight:600}\
.brand{font-weight:700;letter-spacing:.5px}form.logout{margin-left:auto;display:flex;gap:8px;align-items:center}\
main{padding:16px 24px;max-width:1400px}h1{font-size:22px;margin:8px 0 16px}h2{font-size:16px;margin:24px 0 8px}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}\
th{background:#eef1f4;font-weight:600}code{font-size:12px}a{color:#245b96}\
.badge,.sev{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px}\
.badge.bad{background:#f6d5d1;color:#7c1f14}.badge.good{background:#d6efd8;color:#1c5a23}.badge.neutral{background:#e6e8eb}\
.sev.critical{background:#7c1f14;color:#fff}.sev.high{background:#c0392b;color:#fff}.sev.medium{background:#f0b429}.sev.low{background:#d9dde2}\
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:12px 16px;min-width:150px;display:flex;flex-direction:column;color:inherit;text-decoration:none}\
.figure{font-size:26px;font-weight:700}.figure.bad{color:#b03a2e}\
svg.chart{background:#fff;border:1px solid #e3e6ea;width:100%;max-width:760px}svg .axis{font-size:10px;fill:#555}svg .label{font-size:11px;fill:#1d232a}\
.filters,.action,.add form{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:8px 0}\
form.inline{display:inline-flex;gap:4px;margin:2px 0}.notice{background:#d6efd8;padding:8px 12px;border-radius:4px}.error{background:#f6d5d1;padding:8px 12px;border-radius:4px}\
button{cursor:pointer}button.danger{background:#b03a2e;color:#fff;border:0;padding:4px 10px;border-radius:3px}\
dl.facts{display:grid;grid-template-columns:140px 1fr;gap:4px 12px}dt{font-weight:600}dd{margin:0}\
body.login main{max-width:360px;margin:10vh auto}body.login form{display:flex;flex-direction:column;gap:10px}\
body.login label{display:flex;flex-direction:column}.hint{color:#555;font-size:12px}.more{color:#555;font-size:12px}",
);
