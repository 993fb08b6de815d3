//! Archives and compressed files pushed as files: gzip, bzip2, xz and zstd streams, zip
//! members and tar members (`.gz`, `.tar.xz`, `.tar.zst`, `.bz2`, `.zip`, `.jar`, `.whl`,
//! `.docx`, ...), expanded within a budget and scanned as inputs of their own. A key in a
//! committed archive leaks as surely as one in a source file, and compressed no rule sees it
//! (reviews of sessions 28 and 29). Every decoder is pure Rust and decodes only.

use std::io::Read;

use flate2::{Decompress, FlushDecompress, Status};

/// What an input is, by its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A gzip stream (RFC 1952), deflate inside; several members are one stream.
    Gzip,
    /// A bzip2 stream (`BZh`); streams one after another are one.
    Bzip2,
    /// An xz stream (`.xz`, `.txz`: LZMA2 with filters), streams and padding after it read too.
    Xz,
    /// Zstandard frames (RFC 8878), one after another; skippable frames skipped.
    Zstd,
    /// A PDF: its Flate-compressed streams (page contents, where the text of a page is;
    /// object streams), each an input of its own. Other streams (images, fonts) are not text
    /// and are passed over; a PDF is never cut short for them.
    Pdf,
    /// A private key in binary DER (`.der`, `.pk8`: Android's platform signing keys, keys
    /// `openssl pkcs8 -outform DER` writes): one SEQUENCE the whole input long holding a
    /// version and then a key, PKCS#1, PKCS#8 or SEC1. Its member is its base64, which the
    /// base64 DER rule (`private-key-der-base64`) reads as it reads a config value.
    Der,
    /// A PNG: its compressed text chunks (`zTXt`, `iTXt`: what tools write their settings and
    /// metadata into). `tEXt` is in the file's own bytes.
    Png,
    /// A zip file (PKWARE's APPNOTE), read by its central directory when it has one (a stub
    /// may come before it: an executable jar, a self-extracting file), else member by member
    /// from its first local header.
    Zip,
    /// A POSIX tar (ustar): members stored as they are, read one by one (a `.zip` inside a
    /// `.tar.gz` is found, and each member is text or binary as its own bytes say).
    Tar,
}

/// The archive `bytes` is, if any. A zip with something before it is looked for only in
/// binary input (the end of a zip's central directory is within its last 64 KiB).
pub(crate) fn kind(bytes: &[u8], binary: impl FnOnce() -> bool) -> Option<Kind> {
    let found = match bytes {
        [0x1f, 0x8b, 0x08, ..] => Some(Kind::Gzip),
        // The block magic (pi's digits in BCD) after the level, or the end-of-stream magic (an
        // empty stream, which `cat empty.bz2 key.bz2` puts first): not text starting `BZh`.
        [b'B', b'Z', b'h', b'1'..=b'9', 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, ..]
        | [b'B', b'Z', b'h', b'1'..=b'9', 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, ..] => {
            Some(Kind::Bzip2)
        }
        [0xFD, b'7', b'z', b'X', b'Z', 0, ..] => Some(Kind::Xz),
        // A frame, or a skippable frame first (which `zstd -d` passes over).
        [0x28, 0xB5, 0x2F, 0xFD, ..] => Some(Kind::Zstd),
        [m, 0x2A, 0x4D, 0x18, ..] if m & 0xF0 == 0x50 => Some(Kind::Zstd),
        [b'P', b'K', 3, 4, ..] => Some(Kind::Zip),
        _ if bytes.get(257..262) == Some(b"ustar") => Some(Kind::Tar),
        // The record at the very end (no comment), or, in binary input, anywhere it may be.
        _ if bytes.len() >= 22 && bytes[bytes.len() - 22..].starts_with(b"PK\x05\x06") => {
            Some(Kind::Zip)
        }
        _ => None,
    };
    if found.is_some() {
        return found;
    }
    // A zip after something else (a script before a jar, a self-extracting stub, a PNG with a
    // zip appended) before what that something else is: the archive holds more.
    if binary() && end_of_central_directory(bytes).is_some() {
        return Some(Kind::Zip);
    }
    if der_private_key(bytes) {
        return Some(Kind::Der);
    }
    match bytes {
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => Some(Kind::Png),
        // Last: an archive that begins with a PDF is read as the archive (review of session
        // 29: a zip whose first member is a stored PDF lost its other members). The header
        // may follow up to 1 KiB of something else (PDF 1.7, 7.5.2).
        _ if memchr::memmem::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() => {
            Some(Kind::Pdf)
        }
        _ => None,
    }
}

/// Bytes one archive may expand to, in all: a budget (a zip bomb expands a thousandfold),
/// scanned at the engine's speed within the hook's time. Members are inflated one at a
/// time, so memory holds one member at most.
pub(crate) const MAX_EXPANDED: usize = 128 << 20;

/// Members of one archive read at most (a zip of millions of empty entries).
const MAX_MEMBERS: usize = 100_000;

/// Archives inside archives read, the outer one included (`.ear` > `.war` > `.jar`, a `.zip`
/// in a `.tar.gz`); one deeper is not read, and the input is cut short.
pub(crate) const MAX_DEPTH: u8 = 4;

/// Gives each member of archive `bytes` of `kind`, inflated, to `each` (which returns
/// whether to go on), at most `budget` bytes in all; `false` when not all of it could be read
/// (the budget ran out, too many members, a member encrypted, cut short or compressed
/// otherwise than by deflate): what was read was given.
pub(crate) fn expand(
    kind: Kind,
    bytes: &[u8],
    budget: usize,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    match kind {
        Kind::Gzip => gzip(bytes, budget, each),
        Kind::Bzip2 | Kind::Xz | Kind::Zstd => {
            let mut out = Vec::new();
            let codec = match kind {
                Kind::Bzip2 => Codec::Bzip2,
                Kind::Xz => Codec::Xz,
                _ => Codec::Zstd,
            };
            let whole = decode(codec, bytes, budget, &mut out);
            if !out.is_empty() {
                each(&out);
            }
            whole
        }
        Kind::Zip => {
            // An Office document's text, its runs joined, after the part itself.
            let mut text = Vec::new();
            let mut each =
                |member: &[u8]| each(member) && (!office_text(member, &mut text) || each(&text));
            match end_of_central_directory(bytes) {
                Some(end) => zip_central(bytes, end, budget, &mut each),
                None => zip_local(bytes, budget, &mut each),
            }
        }
        Kind::Tar => tar(bytes, each),
        Kind::Pdf => pdf(bytes, budget, each),
        Kind::Der => {
            use base64::Engine;
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            each(text.as_bytes());
            true
        }
        Kind::Png => png(bytes, budget, each),
    }
}

/// Whether `bytes` is a private key in DER: a SEQUENCE whose length is the input's (a line
/// end after it allowed), then `INTEGER 0` (PKCS#1, PKCS#8) or `INTEGER 1` and an OCTET
/// STRING (SEC1), then what those structures hold next (an INTEGER modulus, an algorithm
/// SEQUENCE). A certificate starts with a SEQUENCE in a SEQUENCE; PKCS#12 with version 3.
fn der_private_key(bytes: &[u8]) -> bool {
    let (len, header) = match bytes {
        [0x30, 0x82, a, b, ..] => (usize::from(*a) << 8 | usize::from(*b), 4),
        [0x30, 0x81, a, ..] => (usize::from(*a), 3),
        [0x30, a, ..] if *a < 0x80 => (usize::from(*a), 2),
        _ => return false,
    };
    let body = &bytes[header.min(bytes.len())..];
    let rest = bytes.len() - header.min(bytes.len());
    if len < 32 || !(rest == len || (rest > len && bytes[header + len..].trim_ascii().is_empty())) {
        return false;
    }
    matches!(
        body,
        [0x02, 0x01, 0x00, 0x02, ..] | [0x02, 0x01, 0x00, 0x30, ..] | [0x02, 0x01, 0x01, 0x04, ..]
    )
}

/// The text of an Office Open XML part (`word/document.xml`, a slide): Word splits a
/// paragraph's text into runs (`<w:r><w:t>tok</w:t></w:r><w:r><w:t>en</w:t></w:r>` after an
/// edit, a spelling mark, a change of font), so a key typed into a document may be in no one
/// run whole (review of session 29). Each paragraph's runs are joined into one line of `out`
/// (cleared first). Whether `xml` holds such runs.
fn office_text(xml: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if memchr::memmem::find(xml, b"<w:t").is_none() && memchr::memmem::find(xml, b"<a:t").is_none()
    {
        return false;
    }
    let mut runs = false;
    let mut at = 0;
    while let Some(open) = memchr::memchr(b'<', &xml[at..]) {
        let tag = at + open + 1;
        let Some(close) = memchr::memchr(b'>', &xml[tag..]) else { break };
        let body = &xml[tag..tag + close];
        at = tag + close + 1;
        let name = body.split(|&b| b == b' ' || b == b'/').next().unwrap_or_default();
        match name {
            b"w:t" | b"a:t" if !body.ends_with(b"/") => {
                let end = memchr::memchr(b'<', &xml[at..]).map_or(xml.len(), |i| at + i);
                out.extend_from_slice(&xml[at..end]);
                at = end;
                runs = true;
            }
            b"w:tab" => out.push(b'\t'),
            b"w:br" | b"a:br" => out.push(b'\n'),
            // `</w:p>`: the name is empty before the `/`.
            b"" if body == b"/w:p" || body == b"/a:p" => out.push(b'\n'),
            _ => {}
        }
    }
    runs
}

/// The members inside compressed data a text file keeps base64-encoded (see
/// `decode::compressed`): each archive's members, archives within it expanded too (a
/// `.tar.gz`: gzip, then tar), and each member that is no archive given to `each` (which
/// returns whether to go on). `zlib`: whether `bytes` may be a bare zlib stream (its
/// two-byte header is too weak a sign inside an archive's members). `budget`: bytes
/// expanded at most, what was expanded subtracted; a caller finds it spent when the data
/// expands to more. `false` when not all of it was read (nested deeper than [`MAX_DEPTH`],
/// encrypted, corrupt or cut short, a format the readers refuse); what could be read was
/// given.
pub(crate) fn encoded_members(
    bytes: &[u8],
    zlib: bool,
    budget: &mut usize,
    depth: u8,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    let archive = match kind(bytes, || false) {
        Some(k @ (Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd | Kind::Zip | Kind::Tar)) => {
            Some(k)
        }
        _ => None,
    };
    if archive.is_none() && !zlib {
        each(bytes);
        return true;
    }
    if depth >= MAX_DEPTH {
        return false;
    }
    let (mut whole, mut go_on) = (true, true);
    let mut member = |m: &[u8], budget: &mut usize| {
        *budget = budget.saturating_sub(m.len());
        whole &= encoded_members(m, false, budget, depth + 1, &mut |leaf| {
            go_on = each(leaf);
            go_on
        });
        go_on
    };
    match archive {
        Some(kind) => {
            let read = expand(kind, bytes, *budget, &mut |m| member(m, budget));
            read && whole
        }
        None => {
            let mut out = Vec::new();
            match inflate_zlib(bytes, *budget, &mut out) {
                Some((_, complete)) => {
                    member(&out, budget);
                    complete && whole
                }
                None => true,
            }
        }
    }
}

/// A zlib stream (RFC 1950) at the start of `data`, inflated into `out`: how much of `data`
/// it took, and whether it ended within `budget`; `None` when `data` is no zlib stream.
fn inflate_zlib(data: &[u8], budget: usize, out: &mut Vec<u8>) -> Option<(usize, bool)> {
    let [cmf, flg, ..] = *data else { return None };
    // Deflate, a valid check, no preset dictionary.
    if cmf & 0x0F != 8 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 || flg & 0x20 != 0 {
        return None;
    }
    let (used, complete) = inflate(&data[2..], budget, out);
    Some((used + 2, complete))
}

/// A PDF's Flate streams, found by their `stream` keyword after a dictionary whose filters
/// include `/FlateDecode`: each decoded through its filters in order (ASCIIHex and ASCII85
/// before it, Flate again after it). A stream whose filters name Flate and do not decode
/// (corrupt, or a filter not read here, such as LZW) leaves the PDF not read whole: a pusher
/// could otherwise make the stream holding a key unreadable on purpose. Predictors
/// (`/DecodeParms`, used by image and cross-reference streams) are not applied.
fn pdf(bytes: &[u8], mut budget: usize, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut buf = Vec::new();
    let mut at = 0;
    let mut members = 0;
    let mut whole = true;
    let finder = memchr::memmem::Finder::new(b"stream");
    while let Some(i) = finder.find(&bytes[at..]) {
        let keyword = at + i;
        at = keyword + 6;
        // `endstream`, or a word that ends in `stream`.
        if keyword > 0 && bytes[keyword - 1].is_ascii_alphanumeric() {
            continue;
        }
        // The end of line after the keyword: CR LF or LF (or a lone CR, which readers accept),
        // blanks before it.
        let blanks = bytes[at..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        let data = match bytes.get(at + blanks..at + blanks + 2) {
            Some([b'\r', b'\n']) => at + blanks + 2,
            Some([b'\n' | b'\r', _]) => at + blanks + 1,
            _ => continue,
        };
        let Some(filters) = pdf_filters(&bytes[keyword.saturating_sub(PDF_DICTIONARY)..keyword])
        else {
            continue;
        };
        members += 1;
        if members > MAX_MEMBERS || budget == 0 {
            return false;
        }
        let end =
            memchr::memmem::find(&bytes[data..], b"endstream").map_or(bytes.len(), |e| data + e);
        match pdf_decode(&bytes[data..end], &filters, budget, &mut buf) {
            Some(complete) => whole &= complete,
            None => whole = false,
        }
        budget -= buf.len().min(budget);
        if !buf.is_empty() && !each(&buf) {
            return whole;
        }
        at = end;
    }
    whole
}

/// Bytes before a `stream` keyword where its dictionary is looked for.
const PDF_DICTIONARY: usize = 16 << 10;

/// A stream filter, by its name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PdfFilter {
    Flate,
    AsciiHex,
    Ascii85,
    Other,
}

/// The filters of the stream dictionary that ends `before` (it starts after the last `obj`
/// keyword), in order, when they include Flate. Names are read with their `#xx` escapes
/// decoded (`/FlateDecod#65`).
fn pdf_filters(before: &[u8]) -> Option<Vec<PdfFilter>> {
    let from = memchr::memmem::rfind_iter(before, b"obj")
        .find(|&i| i == 0 || before[i - 1].is_ascii_whitespace())
        .map_or(0, |i| i + 3);
    let dictionary = &before[from..];
    let at = memchr::memmem::find(dictionary, b"/Filter")? + 7;
    let value = &dictionary[at..];
    let value = value.trim_ascii_start();
    let names: &[u8] = match value.first() {
        Some(b'[') => &value[1..memchr::memchr(b']', value).unwrap_or(value.len())],
        Some(b'/') => {
            let end = value[1..]
                .iter()
                .position(|b| b.is_ascii_whitespace() || b"/<>[]()".contains(b))
                .map_or(value.len(), |e| e + 1);
            &value[..end]
        }
        _ => return None,
    };
    let filters: Vec<PdfFilter> = names
        .split(|&b| b == b'/')
        .map(<[u8]>::trim_ascii)
        .filter(|n| !n.is_empty())
        .map(|name| match pdf_name(name).as_slice() {
            b"FlateDecode" | b"Fl" => PdfFilter::Flate,
            b"ASCIIHexDecode" | b"AHx" => PdfFilter::AsciiHex,
            b"ASCII85Decode" | b"A85" => PdfFilter::Ascii85,
            _ => PdfFilter::Other,
        })
        .collect();
    filters.contains(&PdfFilter::Flate).then_some(filters)
}

/// A PDF name with its `#xx` escapes decoded.
fn pdf_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let hex = name.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (name[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'#', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `data` through `filters` in order, into `out`: whether it ended within `budget`; `None`
/// when a filter does not decode it.
fn pdf_decode(
    data: &[u8],
    filters: &[PdfFilter],
    budget: usize,
    out: &mut Vec<u8>,
) -> Option<bool> {
    let mut current = data.to_vec();
    let mut complete = true;
    for filter in filters {
        current = match filter {
            PdfFilter::Flate => {
                let (_, whole) = inflate_zlib(&current, budget, out)?;
                complete &= whole;
                std::mem::take(out)
            }
            PdfFilter::AsciiHex => ascii_hex(&current)?,
            PdfFilter::Ascii85 => ascii85(&current)?,
            PdfFilter::Other => return None,
        };
    }
    *out = current;
    Some(complete)
}

/// ASCIIHexDecode: hex digits up to `>`, blanks ignored, an odd last digit followed by 0.
fn ascii_hex(data: &[u8]) -> Option<Vec<u8>> {
    let mut digits = Vec::with_capacity(data.len());
    for &b in data {
        match b {
            b'>' => break,
            _ if b.is_ascii_whitespace() => {}
            _ => digits.push(char::from(b).to_digit(16)? as u8),
        }
    }
    if digits.len() % 2 == 1 {
        digits.push(0);
    }
    Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// ASCII85Decode: groups of five characters `!` to `u` up to `~>`, `z` for four zeros,
/// blanks ignored, a last short group padded with `u`.
fn ascii85(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 5 * 4 + 4);
    let mut group = [0u8; 5];
    let mut n = 0;
    let data = data.strip_prefix(b"<~").unwrap_or(data);
    for &b in data {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend([0; 4]),
            b'!'..=b'u' => {
                group[n] = b - b'!';
                n += 1;
                if n == 5 {
                    let value = group
                        .iter()
                        .try_fold(0u32, |v, &d| v.checked_mul(85)?.checked_add(u32::from(d)))?;
                    out.extend(value.to_be_bytes());
                    n = 0;
                }
            }
            _ if b.is_ascii_whitespace() => {}
            _ => return None,
        }
    }
    if n > 0 {
        group[n..].fill(b'u' - b'!');
        let value =
            group.iter().try_fold(0u32, |v, &d| v.checked_mul(85)?.checked_add(u32::from(d)))?;
        out.extend(&value.to_be_bytes()[..n - 1]);
    }
    Some(out)
}

/// A PNG's compressed text chunks, read chunk by chunk to the end.
fn png(bytes: &[u8], mut budget: usize, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut buf = Vec::new();
    let mut at = 8;
    while let (Some(len), Some(kind)) = (u32_be_at(bytes, at), bytes.get(at + 4..at + 8)) {
        let Some(data) = bytes.get(at + 8..(at + 8).saturating_add(len)) else { return false };
        at += 12 + len;
        // zTXt: keyword, NUL, method 0, zlib. iTXt: keyword, NUL, compressed flag, method 0,
        // language tag, NUL, translated keyword, NUL, text (zlib when flagged).
        let text = match kind {
            b"zTXt" => data.iter().position(|&b| b == 0).and_then(|nul| data.get(nul + 2..)),
            b"iTXt" => data.iter().position(|&b| b == 0).and_then(|nul| {
                let rest = data.get(nul + 1..)?;
                let [1, 0, rest @ ..] = rest else { return None };
                let language = rest.iter().position(|&b| b == 0)?;
                let rest = &rest[language + 1..];
                let translated = rest.iter().position(|&b| b == 0)?;
                Some(&rest[translated + 1..])
            }),
            b"IEND" => break,
            _ => None,
        };
        let Some(text) = text else { continue };
        let Some((_, complete)) = inflate_zlib(text, budget, &mut buf) else { return false };
        budget -= buf.len().min(budget);
        if !buf.is_empty() && !each(&buf) {
            return true;
        }
        if !complete {
            return false;
        }
    }
    true
}

fn u32_be_at(bytes: &[u8], i: usize) -> Option<usize> {
    bytes
        .get(i..i + 4)
        .and_then(|b| usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok())
}

fn gzip(bytes: &[u8], budget: usize, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut out = Vec::new();
    let mut rest = bytes;
    let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    // Member after member (`cat a.gz b.gz`); what follows the last (zeros a tape pads with,
    // anything) is read by `gzip -d` with a warning, and is scanned as the input's own bytes.
    while rest.starts_with(&[0x1f, 0x8b, 0x08]) && out.len() <= budget {
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        let left = limit - out.len() as u64;
        if (&mut decoder).take(left).read_to_end(&mut out).is_err() {
            each(&out[..out.len().min(budget)]);
            return false;
        }
        let after = decoder.into_inner();
        if after.len() == rest.len() {
            break;
        }
        rest = after;
    }
    let whole = out.len() <= budget;
    each(&out[..out.len().min(budget)]);
    whole
}

fn u16_at(bytes: &[u8], i: usize) -> Option<usize> {
    bytes.get(i..i + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(bytes: &[u8], i: usize) -> Option<usize> {
    bytes
        .get(i..i + 4)
        .and_then(|b| usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok())
}

/// Where the end-of-central-directory record is (within the last 64 KiB and 22 bytes).
fn end_of_central_directory(bytes: &[u8]) -> Option<usize> {
    let from = bytes.len().saturating_sub(22 + 0xFFFF);
    memchr::memmem::rfind(&bytes[from..], b"PK\x05\x06")
        .map(|i| from + i)
        .filter(|&at| at + 22 <= bytes.len())
}

/// One member's data (`data`, compressed by `method`, `flags` of its header), given to
/// `each` inflated: whether it was read whole, and whether to go on.
fn member(
    data: &[u8],
    method: usize,
    flags: usize,
    budget: &mut usize,
    buf: &mut Vec<u8>,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> (bool, bool) {
    if flags & 1 != 0 {
        // Encrypted: unreadable here, as for anyone without the password.
        return (false, true);
    }
    let complete = match method {
        0 => {
            let take = data.len().min(*budget);
            *budget -= take;
            let go_on = take == 0 || each(&data[..take]);
            return (take == data.len(), go_on);
        }
        8 => inflate(data, *budget, buf).1,
        12 => decode(Codec::Bzip2, data, *budget, buf),
        14 => decode(Codec::ZipLzma, data, *budget, buf),
        93 => decode(Codec::Zstd, data, *budget, buf),
        95 => decode(Codec::Xz, data, *budget, buf),
        // Another compression (PPMd, implode, deflate64: next to never written today).
        _ => return (false, true),
    };
    *budget -= buf.len().min(*budget);
    let go_on = buf.is_empty() || each(buf);
    (complete, go_on)
}

/// Compressions read besides deflate (zip methods 12, 14, 93 and 95, and files of their own).
#[derive(Clone, Copy)]
enum Codec {
    Bzip2,
    Xz,
    Zstd,
    /// LZMA as zip stores it: a version, the properties' length, then the properties (a
    /// byte and the dictionary size), then the stream, ended by its end marker.
    ZipLzma,
}

/// Memory a decoder's dictionary or window may take, in KiB: what `xz -9` and `zstd --long`
/// need (64 and 128 MiB); a header asking for more is not believed (a few bytes that would
/// allocate gigabytes), and the input is cut short.
const MAX_WINDOW_KIB: u32 = 128 << 10;

/// `data` compressed by `codec`, decoded into `out` (cleared first) to at most `budget`
/// bytes: whether it was decoded whole within the budget.
fn decode(codec: Codec, data: &[u8], budget: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    let read = match codec {
        Codec::Bzip2 => bzip2::bufread::MultiBzDecoder::new(data).take(limit).read_to_end(out),
        Codec::Xz => lzma_rust2::XzReader::new_mem_limit(data, true, MAX_WINDOW_KIB)
            .take(limit)
            .read_to_end(out),
        Codec::Zstd => zstd(data, limit, out),
        Codec::ZipLzma => {
            let [_, _, 5, 0, props, d0, d1, d2, d3, stream @ ..] = data else { return false };
            let dictionary = u32::from_le_bytes([*d0, *d1, *d2, *d3]);
            if !lzma_rust2::lzma_get_memory_usage_by_props(dictionary, *props)
                .is_ok_and(|kib| kib <= MAX_WINDOW_KIB)
            {
                return false;
            }
            lzma_rust2::LzmaReader::new_with_props(stream, u64::MAX, *props, dictionary, None)
                .and_then(|r| r.take(limit).read_to_end(out))
        }
    };
    let whole = read.is_ok() && out.len() <= budget;
    out.truncate(budget);
    whole
}

/// Zstandard frames one after another (`cat a.zst b.zst`), skippable frames passed over;
/// what follows the last is not read (as `zstd -d` warns and stops).
fn zstd(mut rest: &[u8], limit: u64, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let start = out.len();
    while ((out.len() - start) as u64) < limit {
        match rest {
            [0x28, 0xB5, 0x2F, 0xFD, ..] => {
                let mut frame = ruzstd::decoding::FrameDecoder::new();
                frame.set_max_window_size(u64::from(MAX_WINDOW_KIB) << 10);
                let decoder =
                    ruzstd::decoding::StreamingDecoder::new_with_decoder(&mut rest, frame)
                        .map_err(std::io::Error::other)?;
                decoder.take(limit - (out.len() - start) as u64).read_to_end(out)?;
            }
            [m, 0x2A, 0x4D, 0x18, s0, s1, s2, s3, ..] if m & 0xF0 == 0x50 => {
                let size = u32::from_le_bytes([*s0, *s1, *s2, *s3]) as usize;
                let Some(after) = rest.get(8usize.saturating_add(size)..) else { break };
                rest = after;
            }
            _ => break,
        }
    }
    Ok(out.len() - start)
}

/// A zip read by its central directory (what `unzip` and Python's `zipfile` read: a local
/// header that says otherwise is not believed), its offsets shifted by whatever comes before
/// the zip.
fn zip_central(
    bytes: &[u8],
    end: usize,
    mut budget: usize,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    let (Some(entries), Some(size), Some(offset)) =
        (u16_at(bytes, end + 10), u32_at(bytes, end + 12), u32_at(bytes, end + 16))
    else {
        return false;
    };
    if offset == 0xFFFF_FFFF || entries == 0xFFFF {
        // Zip64's directory: read from the local headers instead.
        return zip_local(bytes, budget, each);
    }
    let Some(start) = end.checked_sub(size) else { return false };
    let Some(prefix) = start.checked_sub(offset) else { return false };
    let mut buf = Vec::new();
    let mut whole = true;
    let mut at = start;
    for n in 0..entries {
        if n == MAX_MEMBERS || budget == 0 {
            return false;
        }
        if bytes.get(at..at + 4) != Some(b"PK\x01\x02") {
            return false;
        }
        let field = |i: usize| u16_at(bytes, at + i);
        let (
            Some(flags),
            Some(method),
            Some(csize),
            Some(name),
            Some(extra),
            Some(comment),
            Some(local),
        ) = (
            field(8),
            field(10),
            u32_at(bytes, at + 20),
            field(28),
            field(30),
            field(32),
            u32_at(bytes, at + 42),
        )
        else {
            return false;
        };
        at += 46 + name + extra + comment;
        if csize == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
            whole = false; // a zip64 member
            continue;
        }
        let local = prefix + local;
        if bytes.get(local..local + 4) != Some(b"PK\x03\x04") {
            return false;
        }
        let (Some(local_name), Some(local_extra)) =
            (u16_at(bytes, local + 26), u16_at(bytes, local + 28))
        else {
            return false;
        };
        let data = local + 30 + local_name + local_extra;
        let Some(data) = bytes.get(data..data.saturating_add(csize)) else { return false };
        let (complete, go_on) = member(data, method, flags, &mut budget, &mut buf, each);
        whole &= complete;
        if !go_on {
            return whole;
        }
    }
    whole
}

/// A zip without a central directory (cut short, or written to a stream and never
/// finished), read from its first local header on.
fn zip_local(bytes: &[u8], mut budget: usize, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut buf = Vec::new();
    let mut at = 0;
    let mut whole = true;
    let mut members = 0;
    while bytes.get(at..at + 4) == Some(b"PK\x03\x04") {
        members += 1;
        if members > MAX_MEMBERS || budget == 0 {
            return false;
        }
        let field = |i: usize| u16_at(bytes, at + i);
        let (Some(flags), Some(method), Some(size), Some(name_len), Some(extra_len)) =
            (field(6), field(8), u32_at(bytes, at + 18), field(26), field(28))
        else {
            return false;
        };
        let data = at + 30 + name_len + extra_len;
        // Sizes after the data (a stream written on the fly): known only once it is read.
        let described = flags & 8 != 0;
        if data > bytes.len() {
            return false;
        }
        let next = if method == 8 && flags & 1 == 0 {
            let (used, complete) = inflate(&bytes[data..], budget, &mut buf);
            budget -= buf.len().min(budget);
            whole &= complete;
            if !buf.is_empty() && !each(&buf) {
                return whole;
            }
            if !complete {
                return false;
            }
            data + used
        } else {
            let Some(end) = data.checked_add(size).filter(|&end| end <= bytes.len() && !described)
            else {
                return false;
            };
            let (complete, go_on) =
                member(&bytes[data..end], method, flags, &mut budget, &mut buf, each);
            whole &= complete;
            if !go_on {
                return whole;
            }
            end
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

/// A tar's regular files, each given as it is stored.
fn tar(bytes: &[u8], each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut at = 0;
    for _ in 0..MAX_MEMBERS {
        let Some(header) = bytes.get(at..at + 512) else { return at == bytes.len() };
        if header.iter().all(|&b| b == 0) {
            return true; // the end of the archive
        }
        if &header[257..262] != b"ustar" {
            return false;
        }
        // Octal, NUL- or space-terminated (base-256 sizes, over 8 GiB, are not read).
        let mut digits = header[124..136]
            .iter()
            .skip_while(|&&b| b == b' ')
            .take_while(|b| (b'0'..=b'7').contains(b));
        let Some(size) =
            digits.try_fold(0usize, |n, &d| n.checked_mul(8)?.checked_add(usize::from(d - b'0')))
        else {
            return false;
        };
        let data = at + 512;
        let end = data.saturating_add(size).min(bytes.len());
        if matches!(header[156], b'0' | 0 | b'7') && !each(&bytes[data..end]) {
            return true;
        }
        if end < data.saturating_add(size) {
            return false;
        }
        at = data + size.div_ceil(512) * 512;
    }
    false
}

/// A raw deflate stream at the start of `input`, inflated into `out` (cleared first) to at
/// most `budget` bytes: how much of `input` it took, and whether it ended within the budget.
fn inflate(input: &[u8], budget: usize, out: &mut Vec<u8>) -> (usize, bool) {
    out.clear();
    let mut inflater = Decompress::new(false);
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX).min(input.len());
        if out.len() >= budget {
            out.truncate(budget);
            return (consumed, false);
        }
        if out.len() == out.capacity() {
            // Grows as it fills: a member's memory is what it holds (an empty one, none).
            out.reserve((budget - out.len()).min(out.capacity().max(4096)));
        }
        let produced = out.len();
        match inflater.decompress_vec(&input[consumed..], out, FlushDecompress::None) {
            Ok(Status::StreamEnd) => {
                let used = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                out.truncate(budget);
                return (used.min(input.len()), true);
            }
            Ok(_) => {
                let moved = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX) > consumed;
                if !moved && out.len() == produced && out.len() < out.capacity() {
                    // No progress with room to spare: the stream is cut short.
                    return (consumed, false);
                }
            }
            Err(_) => return (consumed, false),
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

    fn bzip2ed(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    fn xzed(data: &[u8]) -> Vec<u8> {
        let options = lzma_rust2::XzOptions::with_preset(1);
        let mut e = lzma_rust2::XzWriter::new(Vec::new(), options).expect("in memory");
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    fn zstded(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    /// LZMA as zip stores it (APPNOTE 5.8.8): version, properties' length, properties, the
    /// stream with its end marker.
    fn zip_lzma(data: &[u8]) -> Vec<u8> {
        let options = lzma_rust2::LzmaOptions::with_preset(1);
        let mut e =
            lzma_rust2::LzmaWriter::new_no_header(Vec::new(), &options, true).expect("in memory");
        let props = e.props();
        e.write_all(data).expect("in memory");
        let stream = e.finish().expect("in memory");
        let mut out = vec![20, 0, 5, 0, props];
        out.extend(options.dict_size.to_le_bytes());
        out.extend(stream);
        out
    }

    /// `data` compressed as zip's `method` says.
    fn compressed(method: u16, data: &[u8]) -> Vec<u8> {
        match method {
            0 => data.to_vec(),
            8 => deflated(data),
            12 => bzip2ed(data),
            14 => zip_lzma(data),
            93 => zstded(data),
            95 => xzed(data),
            _ => unreachable!("no test uses method {method}"),
        }
    }

    /// A zip of `members` (name, data, compression method), with data descriptors when `described`,
    /// and a central directory after `prefix` bytes of something else (a script before a
    /// jar) when `prefix` is `Some`; the local headers say `lie` sizes when set.
    fn zip_with(
        members: &[(&str, &[u8], u16)],
        described: bool,
        prefix: Option<&[u8]>,
        lie: bool,
    ) -> Vec<u8> {
        let mut out = prefix.unwrap_or_default().to_vec();
        let start = out.len();
        let mut central = Vec::new();
        for &(name, data, method) in members {
            let body = compressed(method, data);
            let offset = (out.len() - start) as u32;
            // Bit 1 of an LZMA member: its stream ends with the end marker.
            let flags: u16 = if described { 8 } else { 0 } | if method == 14 { 2 } else { 0 };
            let size = if described || lie { 0 } else { body.len() as u32 };
            out.extend(b"PK\x03\x04");
            out.extend(20u16.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(if lie { 0u16 } else { method }.to_le_bytes());
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
            central.extend(b"PK\x01\x02");
            central.extend([20, 0, 20, 0]);
            central.extend(flags.to_le_bytes());
            central.extend(method.to_le_bytes());
            central.extend([0u8; 8]);
            central.extend((body.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0u8; 12]); // extra, comment, disk, attributes
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        if prefix.is_none() {
            out.extend(b"PK\x01\x02 a central directory cut off");
            return out;
        }
        let directory = (out.len() - start) as u32;
        out.extend(&central);
        out.extend(b"PK\x05\x06");
        out.extend([0u8; 4]);
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(directory.to_le_bytes());
        out.extend([0u8; 2]);
        out
    }

    fn zip(members: &[(&str, &[u8], u16)], described: bool) -> Vec<u8> {
        zip_with(members, described, None, false)
    }

    #[test]
    fn zips_are_read_by_their_central_directory_and_tars_member_by_member() {
        let text = b"token = secret value\n".repeat(10);
        let stub = b"#!/bin/sh\nexec java -jar \"$0\" \"$@\"\n\0";
        for (prefix, lie, described) in [
            (&b""[..], false, false),
            (stub, false, false),
            (stub, true, false),
            (b"", false, true),
        ] {
            let archive = zip_with(
                &[("a.txt", &text, 8), ("b.txt", b"stored", 0)],
                described,
                Some(prefix),
                lie,
            );
            assert_eq!(kind(&archive, || true), Some(Kind::Zip), "{prefix:?}");
            let (out, whole) = members(Kind::Zip, &archive, MAX_EXPANDED);
            assert!(whole, "{prefix:?} {lie}");
            assert_eq!(out, [text.clone(), b"stored".to_vec()], "{prefix:?} {lie}");
        }
        // A tar: its regular files, one by one.
        let mut tar = Vec::new();
        for (name, data) in [("a.txt", &text[..]), ("b.zip", b"PK\x03\x04...")] {
            let mut header = [0u8; 512];
            header[..name.len()].copy_from_slice(name.as_bytes());
            header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
            header[156] = b'0';
            header[257..262].copy_from_slice(b"ustar");
            tar.extend(header);
            tar.extend(data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.extend([0u8; 1024]);
        assert_eq!(kind(&tar, || true), Some(Kind::Tar));
        let (out, whole) = members(Kind::Tar, &tar, MAX_EXPANDED);
        assert!(whole);
        assert_eq!(out, [text.clone(), b"PK\x03\x04...".to_vec()]);
        // Many empty members hold no memory each, and past the limit say so.
        let many: Vec<(String, Vec<u8>)> =
            (0..MAX_MEMBERS + 1).map(|i| (format!("{i}"), Vec::new())).collect();
        let refs: Vec<(&str, &[u8], u16)> =
            many.iter().map(|(n, d)| (n.as_str(), &d[..], 8)).collect();
        let (out, whole) = members(Kind::Zip, &zip(&refs, false), MAX_EXPANDED);
        assert!(!whole);
        assert!(out.is_empty());
    }

    fn members(kind: Kind, bytes: &[u8], budget: usize) -> (Vec<Vec<u8>>, bool) {
        let mut out = Vec::new();
        let whole = expand(kind, bytes, budget, &mut |m| {
            out.push(m.to_vec());
            true
        });
        (out, whole)
    }

    #[test]
    fn zip_and_gzip_members_are_inflated_within_the_budget() {
        let text = b"token = secret value\n".repeat(100);
        for described in [false, true] {
            let archive = zip(&[("a.txt", &text, 8), ("b.txt", b"stored as is", 0)], described);
            assert_eq!(kind(&archive, || true), Some(Kind::Zip));
            let (out, whole) = members(Kind::Zip, &archive, MAX_EXPANDED);
            assert_eq!(out.len(), if described { 1 } else { 2 }, "described: {described}");
            assert_eq!(out[0], text);
            // A stored member of unknown size cannot be found past: said, not guessed.
            assert_eq!(whole, !described);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).expect("in memory");
        let gz = gz.finish().expect("in memory");
        assert_eq!(kind(&gz, || true), Some(Kind::Gzip));
        // Two members are one stream; zeros after the last are no error.
        let mut two = [gz.clone(), gz.clone()].concat();
        two.extend([0u8; 512]);
        let (out, whole) = members(Kind::Gzip, &two, MAX_EXPANDED);
        assert!(whole);
        assert_eq!(out, [[text.clone(), text.clone()].concat()]);
        // A bomb stops at the budget, and says so.
        let bomb = zip(&[("z", &vec![b'0'; 1 << 20], 8)], false);
        let (out, whole) = members(Kind::Zip, &bomb, 4096);
        assert!(!whole);
        assert_eq!(out.concat().len(), 4096);
        // Cut short, or garbage after the magic: what was read, and false.
        let cut = archive_cut(&zip(&[("a", &text, 8)], false));
        assert!(!members(Kind::Zip, &cut, MAX_EXPANDED).1);
        assert!(!members(Kind::Gzip, b"\x1f\x8b\x08garbage", MAX_EXPANDED).1);
    }

    #[test]
    fn bzip2_xz_and_zstd_are_decoded_as_files_and_as_zip_members() {
        let text = b"token = secret value\n".repeat(100);
        for (expected, packed) in
            [(Kind::Bzip2, bzip2ed(&text)), (Kind::Xz, xzed(&text)), (Kind::Zstd, zstded(&text))]
        {
            assert_eq!(kind(&packed, || true), Some(expected));
            // Streams one after another are one file, as their tools read them.
            let two = [packed.clone(), packed.clone()].concat();
            assert_eq!(
                members(expected, &two, MAX_EXPANDED),
                (vec![text.repeat(2)], true),
                "{expected:?}"
            );
            // Cut short, over budget or corrupt: what was read, and false; never a panic.
            assert!(!members(expected, &archive_cut(&packed), MAX_EXPANDED).1, "{expected:?}");
            let (out, whole) = members(expected, &packed, 100);
            assert!(!whole && out.concat().len() <= 100, "{expected:?}");
            let mut corrupt = packed.clone();
            let middle = corrupt.len() / 2;
            corrupt[middle..].iter_mut().for_each(|b| *b ^= 0x5A);
            assert!(!members(expected, &corrupt, MAX_EXPANDED).1, "{expected:?}");
        }
        // Zstandard: a skippable frame between two frames is passed over.
        let mut frames = zstded(b"first ");
        frames.extend([0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        frames.extend(zstded(b"second"));
        assert_eq!(
            members(Kind::Zstd, &frames, MAX_EXPANDED),
            (vec![b"first second".to_vec()], true)
        );
        // Text that only starts like bzip2 is text.
        assert_eq!(kind(b"BZh91 is not a bzip2 file", || false), None);
        // Zip members compressed by bzip2, LZMA, zstd and xz.
        let archive = zip_with(
            &[("a", &text, 12), ("b", &text, 14), ("c", &text, 93), ("d", &text, 95)],
            false,
            Some(b""),
            false,
        );
        assert_eq!(members(Kind::Zip, &archive, MAX_EXPANDED), (vec![text.clone(); 4], true));
        // A header asking for a window of gigabytes is not believed: cut short, no allocation.
        let huge_window = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xF8, 0, 0, 0, 0];
        assert_eq!(members(Kind::Zstd, &huge_window, MAX_EXPANDED), (vec![], false));
        let mut lzma = zip_lzma(&text);
        lzma[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut buf = Vec::new();
        assert!(!decode(Codec::ZipLzma, &lzma, MAX_EXPANDED, &mut buf));
    }

    fn zlibbed(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    #[test]
    fn pdf_flate_streams_and_png_text_chunks_are_inflated() {
        let page = b"BT /F1 9 Tf 72 700 Td (token = secret value) Tj ET\n";
        let font = b"\x00\x01 not text";
        let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        for (n, (dictionary, data)) in [
            ("<< /Length 44 /Filter /FlateDecode >>", zlibbed(page)),
            ("<< /Subtype /Image /Filter /DCTDecode >>", b"\xff\xd8\xff\xe0 a JPEG".to_vec()),
            ("<< /Filter [/FlateDecode] /Length 9 >>", zlibbed(font)),
        ]
        .into_iter()
        .enumerate()
        {
            pdf.extend(format!("{n} 0 obj\n{dictionary}\nstream\r\n").as_bytes());
            pdf.extend(data);
            pdf.extend(b"\nendstream\nendobj\n");
        }
        pdf.extend(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
        assert_eq!(kind(&pdf, || true), Some(Kind::Pdf));
        assert_eq!(
            members(Kind::Pdf, &pdf, MAX_EXPANDED),
            (vec![page.to_vec(), font.to_vec()], true)
        );
        // A PNG: zTXt and compressed iTXt inflated; plain iTXt and tEXt are in its bytes.
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend(kind);
            out.extend(data);
            out.extend([0u8; 4]); // CRC, not checked (no reader needs it to read the text)
            out
        };
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0u8; 13]));
        png.extend(chunk(b"zTXt", &[b"Comment\0\0".as_slice(), &zlibbed(b"first")].concat()));
        png.extend(chunk(b"iTXt", b"Comment\0\0\0en\0\0plain"));
        png.extend(chunk(
            b"iTXt",
            &[b"XML:com.adobe.xmp\0\x01\0\0\0".as_slice(), &zlibbed(b"second")].concat(),
        ));
        png.extend(chunk(b"IEND", b""));
        assert_eq!(kind(&png, || true), Some(Kind::Png));
        assert_eq!(
            members(Kind::Png, &png, MAX_EXPANDED),
            (vec![b"first".to_vec(), b"second".to_vec()], true)
        );
        // A compressed chunk that does not inflate is not passed as read.
        let mut bad = png[..png.len() - 12].to_vec();
        bad.extend(chunk(b"zTXt", b"Comment\0\0\x78\x9cgarbage"));
        assert!(!members(Kind::Png, &bad, MAX_EXPANDED).1);
    }

    #[test]
    fn an_office_document_gives_its_paragraphs_with_their_runs_joined() {
        let xml = br#"<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t xml:space="preserve">token: tok</w:t></w:r><w:proofErr w:type="spellStart"/><w:r><w:rPr><w:b/></w:rPr><w:t>en</w:t></w:r><w:r><w:tab/><w:t>end</w:t></w:r></w:p><w:p><w:pPr/><w:r><w:t>next</w:t></w:r></w:p></w:body></w:document>"#;
        let mut out = Vec::new();
        assert!(office_text(xml, &mut out));
        assert_eq!(out, b"token: token\tend\nnext\n");
        assert!(!office_text(b"<root><t>plain XML</t></root>", &mut out));
        let archive = zip_with(&[("word/document.xml", xml, 8)], false, Some(b""), false);
        let (members, whole) = members(Kind::Zip, &archive, MAX_EXPANDED);
        assert!(whole);
        assert_eq!(members, [xml.to_vec(), b"token: token\tend\nnext\n".to_vec()]);
    }

    #[test]
    fn pdf_streams_are_decoded_through_their_filters_as_readers_decode_them() {
        let page = b"BT (token = secret value) Tj ET";
        let a85 = |data: &[u8]| {
            // Python's base64.a85encode, framed as PDF writes it.
            let mut out = b"<~".to_vec();
            for chunk in data.chunks(4) {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                let mut v = u32::from_be_bytes(word);
                let mut digits = [0u8; 5];
                for d in digits.iter_mut().rev() {
                    *d = (v % 85) as u8 + b'!';
                    v /= 85;
                }
                out.extend(&digits[..chunk.len() + 1]);
            }
            out.extend(b"~>");
            out
        };
        let hex: Vec<u8> =
            zlibbed(page).iter().flat_map(|b| format!("{b:02X} ").into_bytes()).collect();
        let cases: [(&str, &str, Vec<u8>); 6] = [
            ("escaped name", "<< /Filter /FlateDecod#65 >>", zlibbed(page)),
            ("CR only", "<< /Filter /FlateDecode >>", zlibbed(page)),
            ("obj in a key", "<< /Filter /FlateDecode /Nobj 1 >>", zlibbed(page)),
            ("ASCII85", "<< /Filter [/ASCII85Decode /FlateDecode] >>", a85(&zlibbed(page))),
            ("ASCIIHex", "<< /Filter [/AHx /Fl] >>", [&hex[..], b">"].concat()),
            ("Flate twice", "<< /Filter [/FlateDecode /FlateDecode] >>", zlibbed(&zlibbed(page))),
        ];
        for (name, dictionary, data) in cases {
            let eol: &[u8] = if name == "CR only" { b"\r" } else { b"  \r\n" };
            let pdf = [
                &b"%PDF-1.4\n1 0 obj\n"[..],
                dictionary.as_bytes(),
                b"\nstream",
                eol,
                &data,
                b"\nendstream\nendobj\n%%EOF\n",
            ]
            .concat();
            assert_eq!(
                members(Kind::Pdf, &pdf, MAX_EXPANDED),
                (vec![page.to_vec()], true),
                "{name}"
            );
        }
        // Flate that does not inflate, or a filter not read: not read whole.
        let bad =
            b"%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\nx\x9cnot deflate\nendstream\n";
        assert!(!members(Kind::Pdf, bad, MAX_EXPANDED).1);
        let lzw = b"%PDF-1.4\n1 0 obj\n<< /Filter [/LZWDecode /FlateDecode] >>\nstream\n\x80\x0b\nendstream\n";
        assert!(!members(Kind::Pdf, lzw, MAX_EXPANDED).1);
        // A zip whose first member is a PDF is a zip (review of session 29); so are bzip2
        // with an empty stream first and zstd with a skippable frame first.
        let pdf_first =
            zip_with(&[("a.pdf", b"%PDF-1.4 ...", 0), ("b.txt", page, 8)], false, Some(b""), false);
        assert_eq!(kind(&pdf_first, || true), Some(Kind::Zip));
        let empty_first = [bzip2ed(b""), bzip2ed(page)].concat();
        assert_eq!(kind(&empty_first, || true), Some(Kind::Bzip2));
        assert_eq!(members(Kind::Bzip2, &empty_first, MAX_EXPANDED), (vec![page.to_vec()], true));
        let skippable_first =
            [&[0x5A, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 9][..], &zstded(page)].concat();
        assert_eq!(kind(&skippable_first, || true), Some(Kind::Zstd));
        assert_eq!(
            members(Kind::Zstd, &skippable_first, MAX_EXPANDED),
            (vec![page.to_vec()], true)
        );
    }

    fn archive_cut(archive: &[u8]) -> Vec<u8> {
        archive[..archive.len() / 2].to_vec()
    }
}
