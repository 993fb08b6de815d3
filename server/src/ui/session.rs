//! The dashboard's login cookie and form tokens, derived from the operator token: a session
//! is `v1.<expiry>.<name>.<mac>`, MAC'd with a key derived from `[server] admin_token`, so any
//! replica verifies it, nothing is stored, and rotating the token ends every session. Each
//! session's form token (CSRF) is a MAC of the session value.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a login lasts.
pub const LIFETIME_SECS: u64 = 12 * 3600;

/// The cookie's name: `__Host-`, so that only this host over https (or localhost) sets it,
/// with `Path=/` and no `Domain`.
pub const COOKIE: &str = "__Host-leakgate_session";

/// A signed-in operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The name they signed in with (recorded as reviewer and approver).
    pub name: String,
    /// The token each of their forms carries.
    pub csrf: String,
}

fn mac(token: &[u8], purpose: &str, message: &str) -> Vec<u8> {
    let mut key = Hmac::<Sha256>::new_from_slice(token).expect("HMAC takes any key length");
    key.update(b"leakgate ui v1 ");
    key.update(purpose.as_bytes());
    let derived = key.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&derived).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `name` may sign in: 1 to 64 characters, no control characters and no invisible
/// or direction-changing ones (a name must not pass for another reviewer's in the audit).
pub fn valid_name(name: &str) -> bool {
    let invisible = |c: char| {
        matches!(c, '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}'
            | '\u{17b5}' | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}')
    };
    let n = name.chars().count();
    (1..=64).contains(&n)
        && !name.chars().any(|c| c.is_control() || invisible(c))
        && !name.trim().is_empty()
}

/// A session cookie value for `name`, valid until `now + LIFETIME_SECS`.
pub fn issue(token: &[u8], name: &str, now_secs: u64) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name.as_bytes());
    let body = format!("v1.{}.{b64}", now_secs + LIFETIME_SECS);
    let tag = hex::encode(mac(token, "session", &body));
    format!("{body}.{tag}")
}

/// The session a cookie value carries, if it is genuine and not expired.
pub fn verify(token: &[u8], value: &str, now_secs: u64) -> Option<Session> {
    let (body, tag) = value.rsplit_once('.')?;
    let expected = hex::encode(mac(token, "session", body));
    if !crate::signature::same_secret(tag.as_bytes(), expected.as_bytes()) {
        return None;
    }
    let mut parts = body.splitn(3, '.');
    let (Some("v1"), Some(expiry), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if expiry.parse::<u64>().ok()? <= now_secs {
        return None;
    }
    let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(name).ok()?;
    let name = String::from_utf8(name).ok().filter(|n| valid_name(n))?;
    let csrf = hex::encode(&mac(token, "csrf", value)[..16]);
    Some(Session { name, csrf })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_verifies_until_it_expires_and_only_under_its_token() {
        let cookie = issue(b"operator-token", "sec-lead", 1_000);
        let session = verify(b"operator-token", &cookie, 1_000).expect("fresh");
        assert_eq!(session.name, "sec-lead");
        assert_eq!(session.csrf.len(), 32);
        assert!(verify(b"operator-token", &cookie, 1_000 + LIFETIME_SECS).is_none(), "expired");
        assert!(verify(b"rotated-token", &cookie, 1_000).is_none(), "another token");
        // Another name or expiry under the same MAC does not verify.
        let forged = cookie.replacen(&format!("v1.{}", 1_000 + LIFETIME_SECS), "v1.99999999999", 1);
        assert!(verify(b"operator-token", &forged, 1_000).is_none());
        let other = issue(b"operator-token", "mallory", 1_000);
        let (_, other_tag) = other.rsplit_once('.').unwrap();
        let (body, _) = cookie.rsplit_once('.').unwrap();
        assert!(verify(b"operator-token", &format!("{body}.{other_tag}"), 1_000).is_none());
        assert!(verify(b"operator-token", "v1.garbage", 1_000).is_none());
        assert!(verify(b"operator-token", "", 1_000).is_none());
        // Each session has its own form token.
        assert_ne!(verify(b"operator-token", &other, 1_000).unwrap().csrf, session.csrf);
    }

    #[test]
    fn names_are_short_and_printable() {
        assert!(valid_name("Ada Lovelace"));
        assert!(!valid_name(""));
        assert!(!valid_name("  "));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name(&"x".repeat(65)));
        assert!(!valid_name("sec\u{200b}-lead"), "zero-width space");
        assert!(!valid_name("\u{202e}dael-ces"), "right-to-left override");
        assert!(valid_name("Zoë Ångström"));
    }
}
