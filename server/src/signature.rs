//! Webhook authentication, checked on the raw body before anything parses it.
//!
//! All comparisons are constant-time: HMAC tags through `hmac`'s `verify_slice`; shared
//! tokens (GitLab's, the operator API's) through [`same_secret`], which compares MACs of both
//! sides so that not even the token's length shows in the timing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was not authenticated (all answered with 401; the reason is logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("missing signature header")]
    Missing,
    /// The header is not of the expected form (`sha256=` + 64 hex digits, or 64 hex digits).
    #[error("malformed signature header")]
    Malformed,
    /// The signature does not match the body.
    #[error("signature does not match")]
    Mismatch,
}

/// Whether `given` equals `expected`, in a time that depends on neither: HMAC-SHA256 of both
/// under a key drawn once per process, compared in constant time (a plain constant-time
/// compare returns early on a length mismatch, which tells the length).
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        // Without randomness the key is zeros: still equal for equal inputs, and the length
        // is still hidden by the fixed-size tags.
        let _ = getrandom::fill(&mut key);
        key
    });
    let tag = |value: &[u8]| {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(value);
        mac.finalize().into_bytes()
    };
    bool::from(tag(given).ct_eq(&tag(expected)))
}

fn verify_hex_hmac(secret: &[u8], body: &[u8], hex_tag: &str) -> Result<(), SignatureError> {
    if hex_tag.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let tag = hex::decode(hex_tag).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
///
/// # Errors
///
/// [`SignatureError`].
pub fn verify_github(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_tag = header.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    verify_hex_hmac(secret, body, hex_tag)
}

/// Gitea / Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256 of the body>`.
///
/// # Errors
///
/// [`SignatureError`].
pub fn verify_gitea(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    verify_hex_hmac(secret, body, header.trim())
}

/// GitLab: `X-Gitlab-Token` equals the configured token.
///
/// # Errors
///
/// [`SignatureError`].
pub fn verify_gitlab(token: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if same_secret(header.as_bytes(), token) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` for `body` under `secret`, as GitHub sends it (for tests and load tools).
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", sign_hex(secret, body))
}

/// The hex HMAC-SHA256 of `body` under `secret`, as Gitea sends it.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented test vector ("Validating webhook deliveries"): secret
    /// "It's a Secret to Everybody", payload "Hello, World!".
    #[test]
    fn github_documented_vector() {
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            verify_github(b"It's a Secret to Everybody", b"Hello, World!", Some(header)),
            Ok(())
        );
        assert_eq!(sign_github(b"It's a Secret to Everybody", b"Hello, World!"), header);
    }

    #[test]
    fn wrong_missing_truncated_and_malformed_signatures_fail() {
        let secret = b"s3cret";
        let good = sign_github(secret, b"body");
        assert_eq!(verify_github(secret, b"body", Some(&good)), Ok(()));
        assert_eq!(verify_github(secret, b"bodx", Some(&good)), Err(SignatureError::Mismatch));
        assert_eq!(verify_github(b"other", b"body", Some(&good)), Err(SignatureError::Mismatch));
        assert_eq!(verify_github(secret, b"body", None), Err(SignatureError::Missing));
        assert_eq!(
            verify_github(secret, b"body", Some(&good[..good.len() - 2])),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_github(secret, b"body", Some(&good[7..])),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_github(secret, b"body", Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        let gitea = sign_hex(secret, b"body");
        assert_eq!(verify_gitea(secret, b"body", Some(&gitea)), Ok(()));
        assert_eq!(verify_gitea(secret, b"body", Some(&good)), Err(SignatureError::Malformed));
        assert_eq!(verify_gitlab(b"tok", Some("tok")), Ok(()));
        assert_eq!(verify_gitlab(b"tok", Some("tok2")), Err(SignatureError::Mismatch));
        assert_eq!(verify_gitlab(b"tok", None), Err(SignatureError::Missing));
    }
}
