//! The partner-alert receiver with real P-256 keys (made and used by `openssl`): a signed
//! report is verified against the sender's published keys and its token revoked at the
//! internal endpoint configured for its type; a wrong key identifier, a bad signature, no
//! signature and a malformed body are refused; a rotated key is fetched when it first signs.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::json;

use crate::{assert_no_plaintext, Res, Service, TestResult, World};

/// The published keys and the tokens the internal endpoint received.
#[derive(Default)]
struct Partner {
    keys: Vec<(String, String)>,
    revoked: Vec<(String, String)>,
    key_fetches: u32,
}

type Shared = Arc<Mutex<Partner>>;

async fn keys(shared: web::Data<Shared>) -> HttpResponse {
    let mut p = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    p.key_fetches += 1;
    let keys: Vec<_> = p
        .keys
        .iter()
        .map(|(id, pem)| json!({"key_identifier": id, "key": pem, "is_current": true}))
        .collect();
    HttpResponse::Ok().json(json!({ "public_keys": keys }))
}

async fn revoke(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let token: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .revoked
        .push((auth.to_owned(), token["token"].as_str().unwrap_or("").to_owned()));
    HttpResponse::NoContent().finish()
}

fn openssl(dir: &Path, args: &[&str]) -> Res<Vec<u8>> {
    let out = Command::new("openssl").args(args).current_dir(dir).output()?;
    if !out.status.success() {
        return Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out.stdout)
}

/// A fresh P-256 key pair in `dir`: (private key file, public key PEM).
fn key_pair(dir: &Path, name: &str) -> Res<(String, String)> {
    let private = format!("{name}.pem");
    openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &private])?;
    let public = openssl(dir, &["ec", "-in", &private, "-pubout"])?;
    Ok((private, String::from_utf8(public)?))
}

/// base64 of the DER ECDSA signature of `body` under `private`.
fn sign(dir: &Path, private: &str, body: &[u8]) -> Res<String> {
    std::fs::write(dir.join("body"), body)?;
    let der = openssl(dir, &["dgst", "-sha256", "-sign", private, "body"])?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der))
}

/// GitHub's header pair.
fn github<'a>(id: &'a str, signature: &'a str) -> [(&'static str, &'a str); 2] {
    [("Github-Public-Key-Identifier", id), ("Github-Public-Key-Signature", signature)]
}

#[test]
fn signed_partner_reports_are_verified_and_their_tokens_revoked() -> TestResult {
    let world = World::new()?;
    let dir = world.dir.path();
    let (k1, k1_pub) = key_pair(dir, "k1")?;
    let (k2, k2_pub) = key_pair(dir, "k2")?;
    let shared: Shared = Arc::default();
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keys
        .push(("k1".into(), k1_pub));
    let data = web::Data::new(shared.clone());
    let partner = crate::LocalServer::start(1, move |cfg| {
        cfg.app_data(data.clone())
            .route("/keys", web::get().to(keys))
            .route("/revoke", web::post().to(revoke));
    });
    let extra = format!(
        "[revoke.partner]\npolicy = \"auto\"\n\
         [partner]\nrefetch_seconds = 1\n\
         [partner.github]\nkeys_url = \"{base}/keys\"\nallow_http = true\n\
         [partner.gitlab]\nkeys_url = \"{base}/keys\"\nallow_http = true\n\
         [partner.types.acme_api_token]\nurl = \"{base}/revoke\"\ntoken = \"internal-credential\"\n\
         pattern = \"acme_live_[0-9a-f]{{32}}\"\nallow_internal = true\nallow_http = true\n",
        base = partner.base
    );
    let service = Service::start(&world, &world.config(&extra)?)?;
    let post = |sender: &str, headers: &[(&str, &str)], body: &[u8]| -> Res<(u16, String)> {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        Ok(crate::http::request(&service.addr, "POST", &format!("/partner/{sender}"), &all, body)?)
    };
    let token = "acme_live_7f3a9c2e5b1d4f8a6c0e2b4d6f8a0c2e"; // leakgate:allow (test fixture)
    let report = json!([
        {"token": token, "type": "acme_api_token", "url": "https://github.com/someone/repo/blob/x/.env", "source": "content"},
        {"token": "other_thing_123456", "type": "someone_elses_token", "url": "https://github.com/x"},
        // The configured type, but not the configured format: ignored, sent nowhere.
        {"token": "acme_live_not-one-of-ours", "type": "acme_api_token", "url": "https://github.com/y"},
    ])
    .to_string();
    let good = sign(dir, &k1, report.as_bytes())?;
    // Unsigned, unknown key, bad signature: refused, nothing revoked.
    assert_eq!(post("github", &[], report.as_bytes())?.0, 401);
    assert_eq!(post("github", &github("nope", &good), report.as_bytes())?.0, 401);
    let other = sign(dir, &k1, b"[]")?;
    assert_eq!(post("github", &github("k1", &other), report.as_bytes())?.0, 401, "another body's");
    let tampered = report.replace("acme_live", "acme_livf");
    assert_eq!(post("github", &github("k1", &good), tampered.as_bytes())?.0, 401);
    let wrong_key = sign(dir, &k2, report.as_bytes())?;
    assert_eq!(post("github", &github("k1", &wrong_key), report.as_bytes())?.0, 401, "k2's");
    assert_eq!(post("github", &github("k1", "not base64!"), report.as_bytes())?.0, 401);
    assert!(shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner).revoked.is_empty());

    // Good: accepted; the configured type's token reaches the internal endpoint once, with
    // its credential; the other type is ignored.
    let (code, reply) = post("github", &github("k1", &good), report.as_bytes())?;
    assert_eq!(code, 202, "{reply}");
    assert!(reply.contains("\"accepted\":1") && reply.contains("\"ignored\":2"), "{reply}");
    let revoked =
        || shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner).revoked.clone();
    service.wait("the token at the internal endpoint", || !revoked().is_empty())?;
    assert_eq!(revoked(), vec![("Bearer internal-credential".to_owned(), token.to_owned())]);
    // The same report again (the sender retries): nothing twice.
    assert_eq!(post("github", &github("k1", &good), report.as_bytes())?.0, 202);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(revoked().len(), 1);
    // ... and it is one scan with one finding, not a second record of the same report.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime.block_on(leakgate_store::Store::connect(&world.database_url()))?;
    let (rows, _) = runtime.block_on(
        store.secrets(&leakgate_store::SecretFilter { limit: 10, ..Default::default() }),
    )?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].occurrences, 1, "a replayed report is not a second sighting");

    // Rotation: the sender publishes k2 and signs with it; leakgate fetches the keys again.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keys
        .push(("k2".into(), k2_pub));
    std::thread::sleep(Duration::from_millis(1100));
    let second_token = "acme_live_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"; // leakgate:allow (test fixture)
    let second =
        json!([{"token": second_token, "type": "acme_api_token", "url": "https://gitlab.com/x"}])
            .to_string();
    let by_k2 = sign(dir, &k2, second.as_bytes())?;
    let gitlab =
        [("Gitlab-Public-Key-Identifier", "k2"), ("Gitlab-Public-Key-Signature", by_k2.as_str())];
    let (code, reply) = post("gitlab", &gitlab, second.as_bytes())?;
    assert_eq!(code, 202, "{reply}");
    service.wait("the rotated key's token revoked", || revoked().len() == 2)?;
    // GitHub's header names do not verify a GitLab report, and malformed bodies are refused.
    let (code, _) = post("gitlab", &github("k2", &by_k2), second.as_bytes())?;
    assert_eq!(code, 401);
    let bad_body = b"{\"token\": 1}";
    let signed_bad = sign(dir, &k1, bad_body)?;
    assert_eq!(post("github", &github("k1", &signed_bad), bad_body)?.0, 400);
    assert_eq!(post("bitbucket", &github("k1", &by_k2), second.as_bytes())?.0, 404);
    assert_no_plaintext(&world, &[service.log()], token)?;
    Ok(())
}
