//! Helpers shared by the end-to-end suites.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A checksum-valid (fake) GitHub token with `prefix`, made at run time so that no token sits
/// in the repository: `seed` varies the 30-character body.
pub fn github_token(prefix: &str, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let body: String = (0..30)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            BASE62[(state % 62) as usize] as char
        })
        .collect();
    let mut crc = crc32fast::hash(body.as_bytes());
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{prefix}{body}{}", String::from_utf8_lossy(&check))
}

/// The names of the SQLite files (`leakgate.db`, its `-wal` and `-shm`) in `dir` that hold
/// `secret` in plain bytes.
///
/// The files are read by a child process (`cat`), never opened here: closing any descriptor
/// of a file drops every POSIX lock this process holds on it, so a test that reads the
/// database while it keeps SQLite connections open (its own stores, not yet closed) would
/// take their locks away. The next process to open the database then takes itself for the
/// only user and rebuilds the WAL index under them, and a committed row goes missing from a
/// later read (seen as a flaky revocation count in the hook suite).
///
/// # Errors
///
/// The directory cannot be listed, or `cat` cannot run or fails.
#[allow(dead_code)] // the scan suite shares this module and keeps no database
pub fn database_files_holding(
    dir: &std::path::Path,
    secret: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut holding = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        if !name.starts_with("leakgate.db") {
            continue;
        }
        let out = std::process::Command::new("cat").arg(&path).output()?;
        if !out.status.success() {
            return Err(format!("cat {name}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        if out.stdout.windows(secret.len()).any(|w| w == secret.as_bytes()) {
            holding.push(name);
        }
    }
    Ok(holding)
}
