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
