//! Secret material for pending revocations, encrypted with XChaCha20-Poly1305.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{ms, now_ms, on_pool, Error, Store};

/// The encryption key for secret material: 32 bytes from configuration or the environment,
/// never stored in the database. `Debug` does not print it.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A key from 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        SecretKey(Zeroizing::new(bytes))
    }

    /// A key from 64 hex characters.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with the text (never the text itself).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the encryption key must be 64 hex characters (32 bytes)".to_owned());
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            bytes[i] = u8::from_str_radix(hex, 16).map_err(|_| "not hex".to_owned())?;
        }
        Ok(SecretKey::new(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }

    /// `message` encrypted under this key and bound to `context` (which must be given again
    /// to open it), as text: base64 of a random nonce and the ciphertext. For what the
    /// service must keep for a while and may hold a key a pusher put there (a job's ref name).
    ///
    /// # Errors
    ///
    /// No randomness for the nonce.
    pub fn seal(&self, context: &str, message: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: message, aad: context.as_bytes() })
            .map_err(|_| "encryption failed".to_owned())?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(BASE64.encode(sealed))
    }

    /// What [`SecretKey::seal`] sealed with `context`, wiped from memory when dropped; `None`
    /// when the text is not sealed under this key and context.
    pub fn open(&self, context: &str, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = BASE64.decode(sealed.trim()).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload { msg: ciphertext, aad: context.as_bytes() },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// A keyed digest of `message` for `context` (HMAC-SHA256 under a key derived from this
    /// one), hex: equal messages give equal digests, and nobody without the key can test a
    /// guess against one. For names that must be compared but not kept (an idempotency key).
    pub fn digest(&self, context: &str, message: &[u8]) -> String {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(&*self.0).expect("any key length");
        derive.update(b"leakgate digest key\0");
        derive.update(context.as_bytes());
        let derived = derive.finalize().into_bytes();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("any key length");
        mac.update(message);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Store {
    /// Stores `secret` encrypted under `key`, bound to `fingerprint` (replacing earlier
    /// material for it).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn put_secret(
        &self,
        key: &SecretKey,
        fingerprint: &str,
        secret: &[u8],
    ) -> Result<(), Error> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::Other(sqlx::Error::Protocol(format!("no randomness: {e}"))))?;
        let ciphertext = key
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload { msg: secret, aad: fingerprint.as_bytes() },
            )
            .map_err(|_| Error::Other(sqlx::Error::Protocol("encryption failed".to_owned())))?;
        let q = "INSERT INTO secret_material (fingerprint, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (fingerprint) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
                 created_at = excluded.created_at";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(fingerprint)
                .bind(nonce.to_vec())
                .bind(ciphertext)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The decrypted secret for `fingerprint`, wiped from memory when dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is none, [`Error::Decrypt`] under a wrong key.
    pub async fn get_secret(
        &self,
        key: &SecretKey,
        fingerprint: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let q = "SELECT nonce, ciphertext FROM secret_material WHERE fingerprint = $1";
        let (nonce, ciphertext): (Vec<u8>, Vec<u8>) =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
                .bind(fingerprint)
                .fetch_one(pool)
                .await?);
        if nonce.len() != 24 {
            return Err(Error::Decrypt { fingerprint: fingerprint.to_owned() });
        }
        key.cipher()
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload { msg: &ciphertext, aad: fingerprint.as_bytes() },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::Decrypt { fingerprint: fingerprint.to_owned() })
    }

    /// Whether material is kept for `fingerprint` (without decrypting it).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn has_secret(&self, fingerprint: &str) -> Result<bool, Error> {
        let q = "SELECT count(*) FROM secret_material WHERE fingerprint = $1";
        let (n,): (i64,) = on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(fingerprint)
            .fetch_one(pool)
            .await?);
        Ok(n > 0)
    }

    /// Deletes the material for `fingerprint` (a revocation reached a final state).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn wipe_secret(&self, fingerprint: &str) -> Result<bool, Error> {
        let q = "DELETE FROM secret_material WHERE fingerprint = $1";
        let n = on_pool!(self, |pool, sql| sqlx::query(&sql(q))
            .bind(fingerprint)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Deletes material older than `max_age`; returns how many.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn expire_secrets(&self, max_age: std::time::Duration) -> Result<u64, Error> {
        let q = "DELETE FROM secret_material WHERE created_at < $1";
        let cutoff = now_ms() - ms(max_age);
        Ok(on_pool!(self, |pool, sql| sqlx::query(&sql(q))
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}
