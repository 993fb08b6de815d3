//! The secret value, its redacted form and its keyed fingerprint.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A secret found in scanned input.
///
/// `Debug` and `Display` print only the redacted form; the bytes are wiped when the value is
/// dropped. The plaintext is reachable only through [`Secret::expose`], which callers use for
/// an explicit `--reveal` or to encrypt material for a pending revocation.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Copies `bytes` into a new secret.
    pub fn new(bytes: &[u8]) -> Self {
        Secret(Zeroizing::new(bytes.to_vec()))
    }

    /// The plaintext. Never log it: use [`Secret::redacted`] for anything a person reads.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length of the secret in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty (a rule's capture group matched nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The redacted form: at most the first 4 characters, never more than a third of the
    /// secret, then `…`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Redacts `bytes`: at most 4 leading characters, and never more than a third of them.
pub fn redact(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let chars = text.chars().count();
    let keep = (chars / 3).min(4);
    let mut out: String =
        text.chars().take(keep).map(|c| if c.is_control() { '?' } else { c }).collect();
    out.push('…');
    out
}

/// The installation key under which secrets are fingerprinted.
///
/// A fingerprint is HMAC-SHA256(key, secret): stable for one installation, so the same leak
/// is recognised across scans, and useless to anyone without the key for confirming a guess.
#[derive(Clone)]
pub struct FingerprintKey(Zeroizing<Vec<u8>>);

impl FingerprintKey {
    /// Length of a generated key in bytes.
    pub const LEN: usize = 32;

    /// Wraps key material (any length; 32 random bytes recommended).
    pub fn new(key: &[u8]) -> Self {
        FingerprintKey(Zeroizing::new(key.to_vec()))
    }

    /// The fingerprint of `secret` under this key.
    pub fn fingerprint(&self, secret: &Secret) -> Fingerprint {
        // `new_from_slice` only fails for fixed-size keys; HMAC accepts any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(secret.expose());
        Fingerprint(hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(<redacted>)")
    }
}

/// Hex HMAC-SHA256 of a secret under the installation's [`FingerprintKey`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_at_most_four_chars_and_a_third() {
        assert_eq!(redact(b"ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "ghp_…");
        assert_eq!(redact(b"abcdefghi"), "abc…");
        assert_eq!(redact(b"ab"), "…");
        assert_eq!(redact("ßßßßßßßßßßßßßß".as_bytes()), "ßßßß…");
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let secret = Secret::new(b"sk_live_4eC39HqLyjWDarjtT1zdp7dc"); // leakgate:allow (test fixture)
        assert_eq!(format!("{secret:?}"), "Secret(sk_l…)");
        assert_eq!(secret.to_string(), "sk_l…");
        assert!(!format!("{secret:?}{secret}").contains("4eC39"));
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let secret = Secret::new(b"hunter2hunter2");
        let a = FingerprintKey::new(b"key-a").fingerprint(&secret);
        let b = FingerprintKey::new(b"key-b").fingerprint(&secret);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a, FingerprintKey::new(b"key-a").fingerprint(&secret));
    }
}
