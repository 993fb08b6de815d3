//! The installation's fingerprint key: given, or generated once and kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use leakgate_rules::FingerprintKey;

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
        Err(_) if !path.exists() => generate(&path),
        Err(e) => Err(e),
    }
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

/// Writes a new random key, readable by its owner only; a concurrent first run wins cleanly.
fn generate(path: &Path) -> Result<FingerprintKey> {
    let dir = path.parent().context("key path has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = [0u8; FingerprintKey::LEN];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex::encode(bytes).as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new fingerprint key");
            Ok(FingerprintKey::new(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}
