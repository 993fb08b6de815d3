//! Offline checksums embedded in some token formats.
//!
//! A format with a checksum only matches when the checksum holds: random strings that happen
//! to share the prefix and alphabet are known non-secrets, and a confirmed checksum makes a
//! finding certain enough to revoke automatically.

use serde::{Deserialize, Serialize};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A checksum scheme a rule can require of its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checksum {
    /// GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`: CRC32 of the 30-character body, base62, 6
    /// characters.
    GithubCrc32,
    /// npm `npm_`: the same scheme as GitHub's.
    NpmCrc32,
    /// GitLab routable tokens (`glpat-….01.xx…`): CRC32 of everything before the last 7
    /// characters, lowercase base36, 7 characters.
    GitlabRoutableCrc32,
    /// Vercel `vcp_`/`vci_`/`vca_`/`vcr_`/`vck_`: 50 characters of `[A-Za-z0-9_-]` and a
    /// 6-character base62 CRC32. Vercel does not publish what the CRC covers; the body alone
    /// (GitHub's scheme) and the prefix with the body are both accepted.
    VercelCrc32,
    /// Bitcoin WIF private keys (`5…`, `K…`, `L…`): base58check, the version byte 0x80
    /// (mainnet), 32 key bytes and 0x01 when the public key is compressed, then the first 4
    /// bytes of the double SHA-256 of the rest.
    Base58checkWif,
}

impl Checksum {
    /// Whether `secret` carries a valid checksum of this scheme.
    pub fn verify(self, secret: &[u8]) -> bool {
        match self {
            Checksum::GithubCrc32 | Checksum::NpmCrc32 => verify_prefixed_base62(secret),
            Checksum::GitlabRoutableCrc32 => verify_gitlab_routable(secret),
            Checksum::VercelCrc32 => verify_vercel(secret),
            Checksum::Base58checkWif => verify_wif(secret),
        }
    }
}

/// `<prefix>_<30 body chars><6 checksum chars>`.
fn verify_prefixed_base62(secret: &[u8]) -> bool {
    let Some(underscore) = memchr::memchr(b'_', secret) else { return false };
    let rest = &secret[underscore + 1..];
    if rest.len() != 36 || !rest.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, check) = rest.split_at(30);
    encode(crc32fast::hash(body), BASE62, 6).as_bytes() == check
}

fn verify_vercel(secret: &[u8]) -> bool {
    let Some(underscore) = memchr::memchr(b'_', secret) else { return false };
    let rest = &secret[underscore + 1..];
    if rest.len() != 56 {
        return false;
    }
    let (body, check) = secret.split_at(secret.len() - 6);
    let body_only = &body[underscore + 1..];
    let valid = |covered: &[u8]| encode(crc32fast::hash(covered), BASE62, 6).as_bytes() == check;
    body_only.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && (valid(body_only) || valid(body))
}

fn verify_wif(secret: &[u8]) -> bool {
    let Ok(payload) = bs58::decode(secret).with_check(Some(0x80)).into_vec() else {
        return false;
    };
    // The version byte, 32 key bytes, and the compression flag when present.
    payload.len() == 33 || (payload.len() == 34 && payload[33] == 1)
}

fn verify_gitlab_routable(secret: &[u8]) -> bool {
    if secret.len() <= 7 {
        return false;
    }
    let (head, check) = secret.split_at(secret.len() - 7);
    encode(crc32fast::hash(head), BASE36, 7).as_bytes() == check
}

/// `value` in the given alphabet, left-padded with the alphabet's zero to `width`.
fn encode(mut value: u32, alphabet: &[u8], width: usize) -> String {
    let base = alphabet.len() as u32;
    let mut digits = Vec::with_capacity(width);
    while value > 0 {
        digits.push(alphabet[(value % base) as usize]);
        value /= base;
    }
    while digits.len() < width {
        digits.push(alphabet[0]);
    }
    digits.reverse();
    String::from_utf8(digits).expect("alphabet bytes are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_checksum_accepts_generated_and_rejects_altered_tokens() {
        let body = "qP5p9Ujp74VLetUQlGW1NeFZVDBoSi";
        let good = format!("ghp_{body}{}", encode(crc32fast::hash(body.as_bytes()), BASE62, 6));
        assert!(Checksum::GithubCrc32.verify(good.as_bytes()));
        let mut bad = good.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(!Checksum::GithubCrc32.verify(&bad));
        assert!(!Checksum::GithubCrc32.verify(b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert!(!Checksum::GithubCrc32.verify(b"ghp_short"));
    }

    #[test]
    fn gitlab_routable_checksum_covers_the_whole_head() {
        let head = "glpat-zX1uofUokjdYWuSgBFvO6wdGMyf0cZ-q0a7iZk01.01.14";
        let good = format!("{head}{}", encode(crc32fast::hash(head.as_bytes()), BASE36, 7));
        assert!(Checksum::GitlabRoutableCrc32.verify(good.as_bytes()));
        let altered = good.replacen("glpat-zX", "glpat-zY", 1);
        assert!(!Checksum::GitlabRoutableCrc32.verify(altered.as_bytes()));
    }

    #[test]
    fn vercel_checksum_covers_the_body_with_dashes_and_underscores() {
        let body = "k9NOg_mKHjNCwAXYQ8Z7P-UoUbqP5p9Ujp74VLetUQlGW1NeFZ";
        let good = format!("vcp_{body}{}", encode(crc32fast::hash(body.as_bytes()), BASE62, 6));
        assert!(Checksum::VercelCrc32.verify(good.as_bytes()));
        let head = format!("vck_{body}");
        let whole = format!("{head}{}", encode(crc32fast::hash(head.as_bytes()), BASE62, 6));
        assert!(Checksum::VercelCrc32.verify(whole.as_bytes()));
        let altered = good.replacen("k9N", "k8N", 1);
        assert!(!Checksum::VercelCrc32.verify(altered.as_bytes()));
        assert!(!Checksum::VercelCrc32.verify(&good.as_bytes()[..good.len() - 1]));
    }

    #[test]
    fn wif_checksum_holds_for_both_forms_and_not_for_an_altered_key() {
        // The private key 1 (0x00..01) in both WIF forms, encoded here rather than copied.
        let mut key = vec![0x80];
        key.extend([0; 31]);
        key.push(1);
        let uncompressed = bs58::encode(&key).with_check().into_string();
        key.push(1);
        let compressed = bs58::encode(&key).with_check().into_string();
        assert!(uncompressed.starts_with('5') && compressed.starts_with('K'));
        assert!(Checksum::Base58checkWif.verify(uncompressed.as_bytes()));
        assert!(Checksum::Base58checkWif.verify(compressed.as_bytes()));
        let mut altered = compressed.into_bytes();
        altered[20] = if altered[20] == b'a' { b'b' } else { b'a' };
        assert!(!Checksum::Base58checkWif.verify(&altered));
        // Testnet (version 0xef) is not a mainnet key.
        key[0] = 0xef;
        let testnet = bs58::encode(&key).with_check().into_string();
        assert!(!Checksum::Base58checkWif.verify(testnet.as_bytes()));
    }

    #[test]
    fn encode_pads_to_width() {
        assert_eq!(encode(0, BASE62, 6), "000000");
        assert_eq!(encode(61, BASE62, 6), "00000z");
        assert_eq!(encode(u32::MAX, BASE36, 7), "1z141z3");
    }
}
