//! The installation's fingerprint key: given, or generated once and kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use leakgate_rules::FingerprintKey;
use leakgate_store::SecretKey;

/// Environment variable holding the key as hex.
pub const KEY_ENV: &str = "LEAKGATE_FINGERPRINT_KEY";

/// leakgate's data directory (`$XDG_DATA_HOME/leakgate`, `~/.local/share/leakgate`), or
/// `LEAKGATE_DATA_DIR`.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LEAKGATE_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("leakgate"))
        .context("no data directory: set LEAKGATE_DATA_DIR or HOME")
}

/// The fingerprint key: from `file`, else `LEAKGATE_FINGERPRINT_KEY` (hex), else the key in
/// the data directory, generated on first use.
pub fn fingerprint_key(file: Option<&Path>) -> Result<FingerprintKey> {
    if let Some(file) = file {
        return read_key_file(file);
    }
    if let Ok(hex_key) = std::env::var(KEY_ENV) {
        let bytes = hex::decode(hex_key.trim()).with_context(|| format!("{KEY_ENV} is not hex"))?;
        if bytes.len() < 16 {
            bail!("{KEY_ENV} is too short: use at least 16 bytes (32 hex characters)");
        }
        return Ok(FingerprintKey::new(&bytes));
    }
    let path = data_dir()?.join("fingerprint.key");
    match read_key_file(&path) {
        Ok(key) => Ok(key),
        Err(_) if !path.exists() => generate(&path).and_then(|()| read_key_file(&path)),
        Err(e) => Err(e),
    }
}

/// Environment variable holding the encryption key as 64 hex characters.
pub const ENCRYPTION_KEY_ENV: &str = "LEAKGATE_ENCRYPTION_KEY";

/// The key that encrypts secret material pending revocation: from `file`, else
/// `LEAKGATE_ENCRYPTION_KEY` (hex), else the key in the data directory, generated on first
/// use (one machine; replicas must share a configured key).
pub fn encryption_key(file: Option<&Path>) -> Result<SecretKey> {
    let read = |path: &Path| -> Result<SecretKey> {
        let text = zeroize::Zeroizing::new(
            fs::read_to_string(path)
                .with_context(|| format!("reading encryption key {}", path.display()))?,
        );
        SecretKey::from_hex(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    };
    if let Some(file) = file {
        return read(file);
    }
    if let Ok(text) = std::env::var(ENCRYPTION_KEY_ENV) {
        return SecretKey::from_hex(&text)
            .map_err(|e| anyhow::anyhow!("{ENCRYPTION_KEY_ENV}: {e}"));
    }
    let path = data_dir()?.join("encryption.key");
    if !path.exists() {
        generate(&path)?;
    }
    read(&path)
}

fn read_key_file(path: &Path) -> Result<FingerprintKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading fingerprint key {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("fingerprint key {} is not hex", path.display()))?;
    if bytes.len() < 16 {
        bail!("fingerprint key {} is too short (at least 16 bytes)", path.display());
    }
    Ok(FingerprintKey::new(&bytes))
}

/// Writes a new random 32-byte key (hex), readable by its owner only, atomically: the key is
/// written and synced under a temporary name, then linked to `path`, so a crash never leaves
/// a partial or empty key (a leftover empty file from an older version is replaced). A
/// concurrent first run wins cleanly: the link fails and its key is kept.
fn generate(path: &Path) -> Result<()> {
    let dir = path.parent().context("key path has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        tracing::warn!(path = %path.display(), "replacing an empty key file (an interrupted first start)");
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        hex::encode(nonce)
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(zeroize::Zeroizing::new(hex::encode(bytes.as_ref())).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
            tracing::info!(path = %path.display(), "generated a new key");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_whole_and_an_empty_leftover_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys").join("fingerprint.key");
        generate(&path).expect("generated");
        let first = fs::read_to_string(&path).expect("read");
        assert_eq!(first.len(), 64);
        generate(&path).expect("a second run keeps the first key");
        assert_eq!(fs::read_to_string(&path).expect("read"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::write(&path, "").expect("an empty leftover");
        generate(&path).expect("replaced");
        assert_eq!(fs::read_to_string(&path).expect("read").len(), 64);
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file stays");
    }
}
