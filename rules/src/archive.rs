//! Archives pushed as files: gzip streams and zip members (`.gz`, `.tar.gz`, `.zip`, `.jar`,
//! `.whl`, `.docx`, ...), inflated within a budget and scanned as text. A key in a committed
//! archive leaks as surely as one in a source file, and deflated no rule sees it (review of
//! session 28). A tar inside gzip needs nothing more: its members are stored as they are.

use std::io::Read;

use flate2::{Decompress, FlushDecompress, Status};

/// What an input is, by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A gzip stream (RFC 1952), deflate inside.
    Gzip,
    /// A zip file read from its first local header (PKWARE's APPNOTE), member by member.
    Zip,
}

/// The archive `head` starts, if any.
pub(crate) fn kind(head: &[u8]) -> Option<Kind> {
    match head {
        [0x1f, 0x8b, 0x08, ..] => Some(Kind::Gzip),
        [b'P', b'K', 3, 4, ..] => Some(Kind::Zip),
        _ => None,
    }
}

/// Bytes the members of one archive may expand to, in all: a budget (a zip bomb expands a
/// thousandfold), scanned at the engine's speed in well under the hook's time.
pub(crate) const MAX_EXPANDED: usize = 64 << 20;

/// Archives inside archives read (a `.jar` in a `.zip`), the outer one included.
pub(crate) const MAX_DEPTH: u8 = 2;

/// The members of archive `bytes` of `kind`, inflated into `out`, at most `budget` bytes in
/// all; `false` when not all of it could be read (the budget ran out, a member is encrypted
/// or cut short, or a compression other than deflate): what was read is kept.
pub(crate) fn expand(kind: Kind, bytes: &[u8], budget: usize, out: &mut Vec<Vec<u8>>) -> bool {
    match kind {
        Kind::Gzip => {
            let mut member = Vec::new();
            let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
            let read =
                flate2::read::MultiGzDecoder::new(bytes).take(limit).read_to_end(&mut member);
            let whole = read.is_ok() && member.len() <= budget;
            member.truncate(budget);
            out.push(member);
            whole
        }
        Kind::Zip => zip_members(bytes, budget, out),
    }
}

fn zip_members(bytes: &[u8], mut budget: usize, out: &mut Vec<Vec<u8>>) -> bool {
    let u16_at =
        |i: usize| bytes.get(i..i + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .and_then(|b| usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok())
    };
    let mut at = 0;
    let mut whole = true;
    while bytes.get(at..at + 4) == Some(b"PK\x03\x04") {
        let (Some(flags), Some(method), Some(size), Some(name_len), Some(extra_len)) =
            (u16_at(at + 6), u16_at(at + 8), u32_at(at + 18), u16_at(at + 26), u16_at(at + 28))
        else {
            return false;
        };
        let data = at + 30 + name_len + extra_len;
        // Sizes after the data (a stream written on the fly): known only once it is read.
        let described = flags & 8 != 0;
        let stored_end = data.checked_add(size).filter(|&end| end <= bytes.len());
        if data > bytes.len() || budget == 0 {
            return false;
        }
        let next = if flags & 1 != 0 {
            // Encrypted: unreadable here, as for anyone without the password.
            whole = false;
            match stored_end {
                Some(end) if !described => end,
                _ => return false,
            }
        } else if method == 8 {
            let (member, used, complete) = inflate(&bytes[data..], budget);
            budget -= member.len().min(budget);
            whole &= complete;
            out.push(member);
            if !complete {
                return false;
            }
            data + used
        } else if method == 0 && !described {
            let Some(end) = stored_end else { return false };
            let member = &bytes[data..end];
            let take = member.len().min(budget);
            whole &= take == member.len();
            budget -= take;
            out.push(member[..take].to_vec());
            end
        } else {
            // Another compression (bzip2, LZMA, zstd: rare in what is pushed).
            whole = false;
            match stored_end {
                Some(end) if !described => end,
                _ => return false,
            }
        };
        at = next;
        if described {
            // The data descriptor: its signature is optional; CRC and two sizes (zip64: 8
            // bytes each).
            if bytes.get(at..at + 4) == Some(b"PK\x07\x08") {
                at += 4;
            }
            at += 12;
            if bytes.get(at..at + 4) != Some(b"PK\x03\x04")
                && bytes.get(at + 8..at + 12) == Some(b"PK\x03\x04")
            {
                at += 8;
            }
        }
    }
    whole
}

/// A raw deflate stream at the start of `input`, inflated to at most `budget` bytes: the
/// bytes, how much of `input` it took, and whether it ended within the budget.
fn inflate(input: &[u8], budget: usize) -> (Vec<u8>, usize, bool) {
    let mut inflater = Decompress::new(false);
    let mut out = Vec::new();
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX).min(input.len());
        if out.len() >= budget {
            out.truncate(budget);
            return (out, consumed, false);
        }
        let room = (budget - out.len()).min(1 << 20);
        out.reserve_exact(room);
        let produced = out.len();
        match inflater.decompress_vec(&input[consumed..], &mut out, FlushDecompress::None) {
            Ok(Status::StreamEnd) => {
                let used = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                return (out, used.min(input.len()), true);
            }
            Ok(_) => {
                let moved = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX) > consumed;
                if !moved && out.len() == produced {
                    // No progress: the stream is cut short.
                    return (out, consumed, false);
                }
            }
            Err(_) => return (out, consumed, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    /// A zip of `members` (name, data, deflated?), with data descriptors when `described`.
    fn zip(members: &[(&str, &[u8], bool)], described: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data, deflate) in members {
            let body = if *deflate { deflated(data) } else { data.to_vec() };
            let flags: u16 = if described { 8 } else { 0 };
            let size = if described { 0 } else { body.len() as u32 };
            out.extend(b"PK\x03\x04");
            out.extend(20u16.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(if *deflate { 8u16 } else { 0u16 }.to_le_bytes());
            out.extend([0u8; 8]); // time, date, CRC
            out.extend(size.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(&body);
            if described {
                out.extend(b"PK\x07\x08");
                out.extend([0u8; 4]);
                out.extend((body.len() as u32).to_le_bytes());
                out.extend((data.len() as u32).to_le_bytes());
            }
        }
        out.extend(b"PK\x01\x02 the central directory");
        out
    }

    #[test]
    fn zip_and_gzip_members_are_inflated_within_the_budget() {
        let text = b"token = secret value\n".repeat(100);
        for described in [false, true] {
            let archive =
                zip(&[("a.txt", &text, true), ("b.txt", b"stored as is", false)], described);
            assert_eq!(kind(&archive), Some(Kind::Zip));
            let mut out = Vec::new();
            let whole = expand(Kind::Zip, &archive, MAX_EXPANDED, &mut out);
            assert_eq!(out.len(), if described { 1 } else { 2 }, "described: {described}");
            assert_eq!(out[0], text);
            // A stored member of unknown size cannot be found past: said, not guessed.
            assert_eq!(whole, !described);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).expect("in memory");
        let gz = gz.finish().expect("in memory");
        assert_eq!(kind(&gz), Some(Kind::Gzip));
        let mut out = Vec::new();
        assert!(expand(Kind::Gzip, &gz, MAX_EXPANDED, &mut out));
        assert_eq!(out, std::slice::from_ref(&text));
        // A bomb stops at the budget, and says so.
        let bomb = zip(&[("z", &vec![b'0'; 1 << 20], true)], false);
        let mut out = Vec::new();
        assert!(!expand(Kind::Zip, &bomb, 4096, &mut out));
        assert_eq!(out.concat().len(), 4096);
        // Cut short, or garbage after the magic: what was read, and false.
        let mut out = Vec::new();
        assert!(!expand(
            Kind::Zip,
            &archive_cut(&zip(&[("a", &text, true)], false)),
            MAX_EXPANDED,
            &mut out
        ));
        assert!(!expand(Kind::Gzip, b"\x1f\x8b\x08garbage", MAX_EXPANDED, &mut Vec::new()));
    }

    fn archive_cut(archive: &[u8]) -> Vec<u8> {
        archive[..archive.len() / 2].to_vec()
    }
}
