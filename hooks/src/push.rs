//! The ref updates a pre-receive hook reads on standard input: `<old> <new> <ref>` per line.

use gix::ObjectId;

/// One ref update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref's value before the push (zero id: the ref is created).
    pub old: ObjectId,
    /// The ref's value after the push (zero id: the ref is deleted).
    pub new: ObjectId,
    /// The full ref name, e.g. `refs/heads/main`.
    pub name: String,
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
}

/// Why standard input is not a list of ref updates.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// A line is not `<old> <new> <ref>`.
    #[error("line {line}: expected `<old-id> <new-id> <ref>`, got {text:?}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line, with control characters replaced and cut to 120 characters.
        text: String,
    },
    /// An id is not a hex object id of the repository's hash length.
    #[error("line {line}: {id:?} is not a {kind} object id")]
    BadId {
        /// 1-based line number.
        line: usize,
        /// The offending id (sanitised).
        id: String,
        /// The repository's hash kind.
        kind: gix::hash::Kind,
    },
}

fn sanitize(text: &str) -> String {
    text.chars().take(120).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Parses pre-receive input for a repository using `kind` object ids.
///
/// # Errors
///
/// The first malformed line.
pub fn parse_updates(input: &str, kind: gix::hash::Kind) -> Result<Vec<RefUpdate>, ParseError> {
    let mut updates = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::Malformed { line: line_no, text: sanitize(line) });
        };
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(ParseError::Malformed { line: line_no, text: sanitize(line) });
        }
        let parse = |id: &str| {
            let ok = id.len() == kind.len_in_hex() && id.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| ObjectId::from_hex(id.as_bytes()).ok())
                .flatten()
                .ok_or_else(|| ParseError::BadId { line: line_no, id: sanitize(id), kind })
        };
        updates.push(RefUpdate { old: parse(old)?, new: parse(new)?, name: name.to_owned() });
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
        let updates = parse_updates(&input, gix::hash::Kind::Sha1).expect("valid input");
        assert_eq!(updates.len(), 2);
        assert!(updates[0].is_create() && !updates[0].is_delete());
        assert!(updates[1].is_delete());
        assert_eq!(updates[1].name, "refs/tags/v1");
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let err =
            parse_updates(&format!("{A} {A} refs/heads/x\ngarbage\x1b[31m"), gix::hash::Kind::Sha1)
                .expect_err("malformed");
        let text = err.to_string();
        assert!(text.starts_with("line 2:") && !text.contains('\x1b'), "{text}");
        let err = parse_updates(&format!("{A} {A}0 refs/heads/x"), gix::hash::Kind::Sha1)
            .expect_err("sha1 ids are 40 hex");
        assert!(err.to_string().contains("not a"), "{err}");
        let sha256 = "2".repeat(64);
        assert!(parse_updates(&format!("{sha256} {sha256} refs/heads/x"), gix::hash::Kind::Sha256)
            .is_ok());
    }
}
