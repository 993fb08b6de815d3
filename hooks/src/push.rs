//! The ref updates a pre-receive hook reads on standard input: `<old> <new> <ref>` per line.

use gix::ObjectId;

/// One ref update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref's value before the push (zero id: the ref is created).
    pub old: ObjectId,
    /// The ref's value after the push (zero id: the ref is deleted).
    pub new: ObjectId,
    /// The full ref name, e.g. `refs/heads/main`, as bytes: git allows any byte above 0x7f.
    pub name: Vec<u8>,
}

impl RefUpdate {
    /// The ref is deleted: nothing to scan.
    pub fn is_delete(&self) -> bool {
        self.new.is_null()
    }

    /// The ref is created.
    pub fn is_create(&self) -> bool {
        self.old.is_null()
    }

    /// The ref name for people: printable ASCII and valid UTF-8 as is, every other byte as
    /// `\xNN`, so that what the pusher sees and what is recorded names the real ref.
    pub fn display_name(&self) -> String {
        escape(&self.name)
    }
}

/// Bytes as text: valid UTF-8 without control characters stays, anything else is `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                for b in c.to_string().bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Why standard input is not a list of ref updates. Nothing of the input is quoted: git
/// hands the hook ref names it refuses afterwards (a space, a control character, a newline
/// that splits a line in two), so the pusher shapes this input, and a ref name may be a key.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// A line is not `<old> <new> <ref>`.
    #[error("line {line}: expected `<old-id> <new-id> <ref>` ({len} bytes that are not)")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line's length in bytes.
        len: usize,
    },
    /// A ref name git refuses (`git check-ref-format`): empty, or with a space or a control
    /// character.
    #[error("line {line}: a ref name with a space or a control character, which git refuses")]
    RefusedName {
        /// 1-based line number.
        line: usize,
    },
    /// An id is not a hex object id of the repository's hash length.
    #[error("line {line}: an object id that is not {kind} hex")]
    BadId {
        /// 1-based line number.
        line: usize,
        /// The repository's hash kind.
        kind: gix::hash::Kind,
    },
}

/// Parses pre-receive input for a repository using `kind` object ids. The input is bytes:
/// ref names are not UTF-8 in general, and every line is read, however many there are.
///
/// # Errors
///
/// The first malformed line.
pub fn parse_updates(input: &[u8], kind: gix::hash::Kind) -> Result<Vec<RefUpdate>, ParseError> {
    let mut updates = Vec::new();
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::Malformed { line: line_no, len: line.len() });
        };
        // git refuses control characters and spaces in ref names (check-ref-format).
        if name.is_empty() || name.iter().any(|&b| b < 0x20 || b == 0x7f || b == b' ') {
            return Err(ParseError::RefusedName { line: line_no });
        }
        let parse = |id: &[u8]| {
            let ok = id.len() == kind.len_in_hex() && id.iter().all(u8::is_ascii_hexdigit);
            ok.then(|| ObjectId::from_hex(id).ok())
                .flatten()
                .ok_or(ParseError::BadId { line: line_no, kind })
        };
        updates.push(RefUpdate { old: parse(old)?, new: parse(new)?, name: name.to_vec() });
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn parses_creates_updates_and_deletes() {
        let input = format!("{Z} {A} refs/heads/new\n{A} {Z} refs/tags/v1\n\n");
        let updates = parse_updates(input.as_bytes(), gix::hash::Kind::Sha1).expect("valid input");
        assert_eq!(updates.len(), 2);
        assert!(updates[0].is_create() && !updates[0].is_delete());
        assert!(updates[1].is_delete());
        assert_eq!(updates[1].name, b"refs/tags/v1");
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let input = format!("{A} {A} refs/heads/x\ngarbage\x1b[31m");
        let err = parse_updates(input.as_bytes(), gix::hash::Kind::Sha1).expect_err("malformed");
        let text = err.to_string();
        assert!(text.starts_with("line 2:") && !text.contains('\x1b'), "{text}");
        let err = parse_updates(format!("{A} {A}0 refs/heads/x").as_bytes(), gix::hash::Kind::Sha1)
            .expect_err("sha1 ids are 40 hex");
        assert!(err.to_string().contains("not sha1 hex"), "{err}");
        // Nothing of a line is quoted: a ref name (or what a newline in one made a line) may
        // be a key.
        let key = "ghp_KeyInARefName0000000000000000000000"; // leakgate:allow (test fixture)
        for input in [
            format!("{A} {A} refs/heads/a {key}"),
            format!("{A} {A} refs/heads/a\n{key} {A} x"),
            format!("{A} {A} refs/heads/a\n{key}"),
        ] {
            let err = parse_updates(input.as_bytes(), gix::hash::Kind::Sha1).expect_err("refused");
            assert!(err.to_string().starts_with("line "), "{err}");
            assert!(!err.to_string().contains("KeyInARefName"), "{err}");
        }
        let sha256 = "2".repeat(64);
        let input = format!("{sha256} {sha256} refs/heads/x");
        assert!(parse_updates(input.as_bytes(), gix::hash::Kind::Sha256).is_ok());
    }

    #[test]
    fn ref_names_are_bytes_and_shown_escaped() {
        let mut input = format!("{Z} {A} refs/heads/caf").into_bytes();
        input.extend_from_slice(b"\xe9-\xff\n");
        let updates = parse_updates(&input, gix::hash::Kind::Sha1).expect("git allows 0x80+");
        assert_eq!(updates[0].name, b"refs/heads/caf\xe9-\xff");
        assert_eq!(updates[0].display_name(), "refs/heads/caf\\xe9-\\xff");
        assert_eq!(escape("refs/heads/é".as_bytes()), "refs/heads/é");
    }
}
