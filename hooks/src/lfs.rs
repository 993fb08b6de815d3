//! Git LFS pointers. A file tracked by Git LFS reaches the server as a pointer (its content's
//! SHA-256 and size); the client uploads the content to the LFS store before it pushes
//! (git-lfs's pre-push hook), so when the hook runs, a server that keeps the store on its own
//! disk (git-lfs-transfer in the repository's `lfs/objects`, GitLab's `shared/lfs-objects`,
//! Gitea's `data/lfs`) holds what the pointer names. Teams track archives, databases and
//! keystores with LFS: without this a key in them never passes through the scan (review of
//! session 29).

use std::fs::File;
use std::io;
use std::path::Path;

/// A pointer file's size limit (git-lfs reads nothing larger as a pointer).
const MAX_POINTER: usize = 1024;

/// What a pointer names (git-lfs's pointer specification, v1).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pointer {
    /// The content's SHA-256, 64 lowercase hexadecimal characters.
    pub(crate) oid: String,
    /// The content's size in bytes.
    pub(crate) size: u64,
}

impl Pointer {
    /// The pointer `data` is, if it is one: `version <spec URL>`, then `oid sha256:<hex>` and
    /// `size <bytes>` among the key-value lines.
    pub(crate) fn parse(data: &[u8]) -> Option<Pointer> {
        if data.len() > MAX_POINTER {
            return None;
        }
        // git-lfs trims the blob before it parses it, and knows three version URLs.
        let text = std::str::from_utf8(data).ok()?.trim();
        let mut lines = text.lines();
        let version = lines.next()?.strip_prefix("version ")?.trim();
        if !matches!(
            version,
            "https://git-lfs.github.com/spec/v1"
                | "https://hawser.github.com/spec/v1"
                | "http://git-media.io/v/2"
        ) {
            return None;
        }
        let (mut oid, mut size) = (None, None);
        for line in lines.map(str::trim) {
            if let Some(hex) = line.strip_prefix("oid sha256:") {
                let valid = hex.len() == 64
                    && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                oid = valid.then(|| hex.to_owned());
            } else if let Some(n) = line.strip_prefix("size ") {
                size = n.parse().ok();
            }
        }
        Some(Pointer { oid: oid?, size: size? })
    }

    /// Opens the content in the store at `dir`: `aa/bb/<oid>` (git-lfs's own layout) or
    /// `aa/bb/<oid from its fifth character>` (GitLab's and Gitea's).
    pub(crate) fn open(&self, dir: &Path) -> io::Result<File> {
        let shard = dir.join(&self.oid[..2]).join(&self.oid[2..4]);
        File::open(shard.join(&self.oid)).or_else(|_| File::open(shard.join(&self.oid[4..])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn pointers_are_read_as_git_lfs_writes_them_and_nothing_else_is() {
        let pointer =
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n");
        assert_eq!(
            Pointer::parse(pointer.as_bytes()),
            Some(Pointer { oid: OID.to_owned(), size: 12345 })
        );
        // An extension line between them (sorted keys), CRLF line ends.
        let extended = format!(
            "version https://git-lfs.github.com/spec/v1\r\next-0-foo sha256:{OID}\r\noid sha256:{OID}\r\nsize 7\r\n"
        );
        assert_eq!(Pointer::parse(extended.as_bytes()).map(|p| p.size), Some(7));
        // What git-lfs also reads: blanks around it, the git-media version.
        let padded = format!("\n  version http://git-media.io/v/2\noid sha256:{OID}\nsize 3\n\n");
        assert_eq!(Pointer::parse(padded.as_bytes()).map(|p| p.size), Some(3));
        for not in [
            format!("version https://example.com/spec\noid sha256:{OID}\nsize 1\n"),
            format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 1\n",
                &OID[1..]
            ),
            format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 1\n",
                OID.to_uppercase()
            ),
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\n"),
            format!("# version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 1\n"),
            format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 1\n{}",
                "x".repeat(1024)
            ),
        ] {
            assert_eq!(Pointer::parse(not.as_bytes()), None, "{not}");
        }
    }

    #[test]
    fn the_content_is_found_in_either_layout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pointer = Pointer { oid: OID.to_owned(), size: 5 };
        assert!(pointer.open(dir.path()).is_err());
        let shard = dir.path().join(&OID[..2]).join(&OID[2..4]);
        std::fs::create_dir_all(&shard).expect("shard");
        std::fs::write(shard.join(&OID[4..]), b"gitlab").expect("write");
        assert!(pointer.open(dir.path()).is_ok());
        std::fs::write(shard.join(OID), b"git-lfs").expect("write");
        let mut text = String::new();
        io::Read::read_to_string(&mut pointer.open(dir.path()).expect("open"), &mut text)
            .expect("read");
        assert_eq!(text, "git-lfs");
    }
}
