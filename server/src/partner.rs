//! The partner-alert receiver: for organisations that issue their own tokens. GitHub's
//! secret scanning partner program (and GitLab's equivalent) `POST` the tokens they find in
//! public code as `[{"token", "type", "url", "source"}]`, signed with ECDSA P-256 / SHA-256
//! over the raw body: `Github-Public-Key-Identifier` and `Github-Public-Key-Signature`
//! (base64 of the DER signature), or the `Gitlab-` pair. The keys come from the sender's
//! public-keys endpoint (`{"public_keys": [{"key_identifier", "key"}]}`, PEM), cached, and
//! fetched again when an unknown identifier arrives (rotation), at most every 2 s.
//!
//! A verified token of a type listed in `[partner.types.<type>]` becomes a finding whose
//! revocation is queued like any other (provider `partner`): the configured internal endpoint
//! receives it. The payload's `type` only picks among endpoints the operator configured;
//! nothing else in it decides where a token goes. Types not configured are ignored, and the
//! sender gets a 2xx either way once the request is recorded.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use leakgate_rules::{Finding, Secret, Severity};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Sensitive;
use crate::http::AppState;

/// GitHub's published secret scanning partner keys.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// `[partner]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnerConfig {
    /// `[partner.github]`: GitHub's secret scanning partner program.
    pub github: PartnerSource,
    /// `[partner.gitlab]`: GitLab's partner API (its `keys_url` must be set).
    pub gitlab: PartnerSource,
    /// `[partner.types.<type>]`: the internal endpoint that revokes each token type.
    pub types: BTreeMap<String, PartnerType>,
    /// An unknown key identifier fetches the keys again at most this often, in seconds
    /// (default 60: GitHub allows 60 unauthenticated API calls an hour).
    pub refetch_seconds: Option<u64>,
}

impl PartnerConfig {
    /// Checks what would otherwise fail only when a report arrives.
    ///
    /// # Errors
    ///
    /// The key and what is wrong with it.
    pub fn validate(&self) -> Result<(), String> {
        let https = |key: &str, url: &str, allow_http: bool| {
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("{key}: {e}"))?;
            match parsed.scheme() {
                "https" => Ok(()),
                "http" if allow_http => Ok(()),
                _ => Err(format!("{key}: https only (allow_http permits http)")),
            }
        };
        for (name, t) in &self.types {
            https(&format!("partner.types.{name}.url"), &t.url, t.allow_http)?;
            if let Some(p) = &t.pattern {
                regex::Regex::new(p).map_err(|e| format!("partner.types.{name}.pattern: {e}"))?;
            }
        }
        for (sender, source) in [("github", &self.github), ("gitlab", &self.gitlab)] {
            if let Some(url) = &source.keys_url {
                https(&format!("partner.{sender}.keys_url"), url, source.allow_http)?;
            }
        }
        Ok(())
    }
}

/// `[partner.github]`, `[partner.gitlab]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnerSource {
    /// The sender's public-keys endpoint (GitHub: [`GITHUB_KEYS_URL`] when unset).
    pub keys_url: Option<String>,
    /// Permit `http://` for `keys_url` (tests; keys fetched in the clear can be forged).
    pub allow_http: bool,
}

/// `[partner.types.<type>]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnerType {
    /// The internal endpoint: `POST {"token": ...}`; 200/202/204 revoked, 404/410 unknown.
    pub url: String,
    /// A bearer credential for the endpoint.
    pub token: Option<Sensitive>,
    /// `token` read from a file.
    pub token_file: Option<PathBuf>,
    /// Permit a non-public address (an internal endpoint usually is one).
    pub allow_internal: bool,
    /// Permit plain `http://`.
    pub allow_http: bool,
    /// A regex the whole token must match (your token format): anything else that arrives
    /// under this type is ignored, never sent to the endpoint.
    pub pattern: Option<String>,
}

/// The two senders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Sender {
    Github,
    Gitlab,
}

impl Sender {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "github" => Some(Sender::Github),
            "gitlab" => Some(Sender::Gitlab),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Sender::Github => "github",
            Sender::Gitlab => "gitlab",
        }
    }

    fn headers(self) -> (&'static str, &'static str) {
        match self {
            Sender::Github => ("Github-Public-Key-Identifier", "Github-Public-Key-Signature"),
            Sender::Gitlab => ("Gitlab-Public-Key-Identifier", "Gitlab-Public-Key-Signature"),
        }
    }

    fn keys_url(self, config: &PartnerConfig) -> Option<String> {
        match self {
            Sender::Github => {
                Some(config.github.keys_url.clone().unwrap_or_else(|| GITHUB_KEYS_URL.into()))
            }
            Sender::Gitlab => config.gitlab.keys_url.clone(),
        }
    }
}

/// A sender's keys as last fetched, and when a fetch was last tried.
#[derive(Default)]
struct Fetched {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
    tried_at: Option<Instant>,
}

/// Keys kept this long before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(3600);

/// The senders' public keys, cached.
#[derive(Default)]
pub struct KeyCache {
    fetched: std::sync::Mutex<HashMap<Sender, Fetched>>,
}

impl KeyCache {
    /// The key `id` of `sender`: from the cache, or fetched (again) when the keys are old or
    /// the identifier is new, at most once per `refetch` (whatever unauthenticated requests
    /// name); a failed fetch keeps the keys known so far. No lock is held while fetching.
    /// `Ok(None)`: no such key.
    async fn key(
        &self,
        sender: Sender,
        url: &str,
        id: &str,
        refetch: Duration,
    ) -> Result<Option<VerifyingKey>, String> {
        let lock = || self.fetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let mut all = lock();
            let f = all.entry(sender).or_default();
            let fresh = f.fetched_at.is_some_and(|at| at.elapsed() < KEYS_FOR);
            if let Some(key) = f.keys.get(id).filter(|_| fresh) {
                return Ok(Some(*key));
            }
            if f.tried_at.is_some_and(|at| at.elapsed() < refetch) {
                return Ok(f.keys.get(id).copied());
            }
            f.tried_at = Some(Instant::now());
        }
        let result = fetch_keys(url).await;
        let mut all = lock();
        let f = all.entry(sender).or_default();
        match result {
            Ok(keys) => {
                f.keys = keys;
                f.fetched_at = Some(Instant::now());
                Ok(f.keys.get(id).copied())
            }
            Err(e) => match f.keys.get(id) {
                Some(key) => {
                    tracing::warn!(sender = sender.name(), "partner keys not refreshed: {e}");
                    Ok(Some(*key))
                }
                None => Err(e),
            },
        }
    }
}

/// `GET url`: `{"public_keys": [{"key_identifier", "key"}]}`; keys that do not parse as P-256
/// public keys are skipped.
async fn fetch_keys(url: &str) -> Result<HashMap<String, VerifyingKey>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("fetching the public keys: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("fetching the public keys: HTTP {}", response.status().as_u16()));
    }
    let body = response.bytes().await.map_err(|e| format!("reading the public keys: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "the public keys are not JSON".to_owned())?;
    let mut keys = HashMap::new();
    for entry in value["public_keys"].as_array().into_iter().flatten() {
        let (Some(id), Some(pem)) = (entry["key_identifier"].as_str(), entry["key"].as_str())
        else {
            continue;
        };
        if let Ok(key) = VerifyingKey::from_public_key_pem(pem) {
            keys.insert(id.to_owned(), key);
        }
    }
    Ok(keys)
}

/// Whether `signature` (base64 of an ASN.1 DER ECDSA signature) signs `body` under `key`.
fn verifies(key: &VerifyingKey, body: &[u8], signature: &str) -> bool {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    Signature::from_der(&der).is_ok_and(|sig| key.verify(body, &sig).is_ok())
}

/// One reported token (other fields ignored).
#[derive(Deserialize)]
struct Reported {
    token: Sensitive,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
}

fn refuse(code: actix_web::http::StatusCode, why: &str) -> HttpResponse {
    HttpResponse::build(code).json(json!({ "error": why }))
}

/// `POST /partner/{github|gitlab}`.
async fn receive(
    req: HttpRequest,
    sender: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let config = &state.config.partner;
    let Some(sender) = Sender::parse(&sender).filter(|_| !config.types.is_empty()) else {
        return HttpResponse::NotFound().finish();
    };
    let Some(url) = sender.keys_url(config) else {
        return HttpResponse::NotFound().finish();
    };
    let source = format!("partner-{}", sender.name());
    let (id_header, signature_header) = sender.headers();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(signature)) = (header(id_header), header(signature_header)) else {
        state.metrics.delivery(&source, "unsigned");
        return refuse(StatusCode::UNAUTHORIZED, "no signature");
    };
    let refetch = Duration::from_secs(config.refetch_seconds.unwrap_or(60));
    let key = match state.partner_keys.key(sender, &url, id, refetch).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            state.metrics.delivery(&source, "unknown_key");
            return refuse(StatusCode::UNAUTHORIZED, "unknown key identifier");
        }
        Err(e) => {
            tracing::warn!(sender = sender.name(), "partner keys unavailable: {e}");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "public keys unavailable");
        }
    };
    if !verifies(&key, &body, signature) {
        state.metrics.delivery(&source, "bad_signature");
        return refuse(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let reported: Vec<Reported> = match serde_json::from_slice(&body) {
        Ok(reported) => reported,
        Err(_) => {
            state.metrics.delivery(&source, "malformed");
            return refuse(StatusCode::BAD_REQUEST, "not an array of {token, type, url}");
        }
    };
    // The same signed report again (a retry, or a replay) records into the same scan.
    let report_key = crate::worker::report_key(&format!("partner:{}", sender.name()), &body);
    match record(&state, sender, &reported, report_key).await {
        Ok((accepted, ignored)) => {
            state.metrics.delivery(&source, "accepted");
            state.wake.notify_waiters();
            HttpResponse::Accepted().json(json!({ "accepted": accepted, "ignored": ignored }))
        }
        Err(e) => {
            tracing::error!(error = %e, "recording a partner alert failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "database error")
        }
    }
}

/// Records the configured types' tokens as findings and plans their revocation; returns
/// (accepted, ignored).
async fn record(
    state: &AppState,
    sender: Sender,
    reported: &[Reported],
    report_key: String,
) -> Result<(usize, usize), leakgate_store::Error> {
    let types = &state.config.partner.types;
    let mut findings = Vec::new();
    let mut ignored = 0;
    for r in reported {
        let token = r.token.expose().trim();
        let Some(kind) = types.get(&r.kind) else {
            ignored += 1;
            continue;
        };
        // The configured format, anchored: a value that is not one of your tokens goes
        // nowhere (the pattern was checked when the configuration loaded).
        let shaped = kind.pattern.as_deref().is_none_or(|p| {
            regex::Regex::new(&format!("^(?:{p})$")).is_ok_and(|re| re.is_match(token))
        });
        if token.is_empty() || !shaped {
            ignored += 1;
            continue;
        }
        let secret = Secret::new(token.as_bytes());
        let url = crate::token_revocation::clean_location(r.url.as_deref());
        findings.push(Finding {
            rule_id: format!("partner:{}", r.kind),
            provider: "partner".into(),
            severity: Severity::Critical,
            description: format!("a {} token reported by {}", r.kind, sender.name()),
            path: url,
            line: 1,
            column: 1,
            commit: None,
            redacted: secret.redacted(),
            fingerprint: state.key.fingerprint(&secret),
            checksum_valid: false,
            inline_allowed: false,
            revoke: Some("partner".into()),
            secret,
        });
    }
    let store = &state.store;
    let scan = leakgate_store::NewScan {
        repo: format!("partner:{}", sender.name()),
        refs: format!("{} tokens", reported.len()),
        before: None,
        after: None,
        pusher: None,
        source: format!("partner-{}", sender.name()),
        job_key: Some(report_key),
    };
    let (scan, ids) = crate::worker::record_received(store, &scan, &findings).await?;
    for (f, id) in findings.iter().zip(&ids) {
        let origin = crate::revoke::run::Origin {
            forge: None,
            repo: format!("partner:{}", sender.name()),
            installation_id: None,
            partner_type: f.rule_id.strip_prefix("partner:").map(str::to_owned),
        };
        crate::revoke::run::plan(
            store,
            &state.secret_key,
            &state.config.revoke,
            &origin,
            &[(f, Some(*id))],
        )
        .await?;
    }
    let detail = json!({
        "sender": sender.name(), "scan": scan, "accepted": findings.len(), "ignored": ignored,
        "fingerprints": findings.iter().map(|f| f.fingerprint.as_str()).collect::<Vec<_>>(),
    });
    store.audit("partner_alert", sender.name(), &detail.to_string()).await?;
    Ok((findings.len(), ignored))
}

/// Registers `POST /partner/{github|gitlab}` (bodies up to 1 MiB).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/partner/{sender}")
            .app_data(web::PayloadConfig::new(1 << 20))
            .route(web::post().to(receive)),
    );
}
