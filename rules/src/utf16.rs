//! UTF-16 input: what Windows tools write (PowerShell 5's `>` and `Out-File`, regedit's `.reg`
//! exports, scripts saved by SQL Server Management Studio). Every ASCII character there is
//! followed (or preceded) by a NUL, so the input looks binary and no keyword appears in its
//! bytes: a key in such a file would pass a scan of the raw bytes. Input that starts with a
//! UTF-16 byte-order mark, or whose first 8 KiB read as UTF-16 text, is transcoded to UTF-8
//! as it streams and scanned as text, with every rule and every decoding layer.

use std::io::{self, Read};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_16BE, UTF_16LE};

use crate::engine::BINARY_SNIFF_LEN;

/// Fewest code units the heuristic judges (a key is longer than this).
const MIN_UNITS: usize = 8;
/// Raw bytes transcoded per read.
const RAW_CHUNK: usize = 64 * 1024;

/// The UTF-16 encoding `head` (the input's first bytes) is in, if any: a byte-order mark, or
/// (`nul`: a NUL in the first [`BINARY_SNIFF_LEN`] bytes, see [`crate::is_binary`]) those
/// bytes read as UTF-16 text in one byte order (no control characters but tab, line feed,
/// form feed and carriage return, no unpaired surrogates or noncharacters, at least half of
/// it ASCII).
pub(crate) fn detect(head: &[u8], nul: bool) -> Option<&'static Encoding> {
    match head {
        // UTF-32LE's mark starts with UTF-16LE's.
        [0xFF, 0xFE, 0, 0, ..] => return None,
        // A mark before UTF-8 with no NUL (plain ASCII included) is not UTF-16: a pusher
        // would put one before a config file to have it read as garbage.
        [0xFF, 0xFE, rest @ ..] => return marked(rest, nul).then_some(UTF_16LE),
        [0xFE, 0xFF, rest @ ..] => return marked(rest, nul).then_some(UTF_16BE),
        _ => {}
    }
    let sniff = &head[..head.len().min(BINARY_SNIFF_LEN) & !1];
    if !nul || sniff.len() < 2 * MIN_UNITS {
        return None;
    }
    [UTF_16LE, UTF_16BE].into_iter().find(|&e| reads_as_text(sniff, e == UTF_16LE))
}

/// Whether `head` (the input's first bytes) is UTF-32 text, and in which byte order (`true`:
/// little-endian): a byte-order mark, or (`nul`) the first [`BINARY_SNIFF_LEN`] bytes read as
/// UTF-32 text as [`detect`] reads UTF-16. Python writes it (`encoding="utf-32"`), some
/// Windows and Java tools too; every ASCII character has three NULs beside it, and a key in it
/// passed every rule (review of session 28).
pub(crate) fn detect_utf32(head: &[u8], nul: bool) -> Option<bool> {
    match head {
        [0xFF, 0xFE, 0, 0, ..] => return Some(true),
        [0, 0, 0xFE, 0xFF, ..] => return Some(false),
        _ => {}
    }
    let sniff = &head[..head.len().min(BINARY_SNIFF_LEN) & !3];
    if !nul || sniff.len() < 4 * MIN_UNITS {
        return None;
    }
    [true, false].into_iter().find(|&little| {
        text_like(sniff.chunks_exact(4).map(|unit| char::from_u32(utf32_unit(unit, little))))
    })
}

fn utf32_unit(unit: &[u8], little: bool) -> u32 {
    let bytes = [unit[0], unit[1], unit[2], unit[3]];
    if little {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    }
}

/// UTF-32 `bytes` as UTF-8 (a leading byte-order mark removed; what is no character, and a
/// last partial unit, as U+FFFD).
pub(crate) fn utf32_to_utf8(bytes: &[u8], little: bool) -> Vec<u8> {
    let units = bytes.chunks_exact(4);
    let partial = !units.remainder().is_empty();
    let mut out = String::with_capacity(bytes.len() / 4 + 4);
    for (i, unit) in units.enumerate() {
        match char::from_u32(utf32_unit(unit, little)) {
            Some('\u{FEFF}') if i == 0 => {}
            Some(c) => out.push(c),
            None => out.push(char::REPLACEMENT_CHARACTER),
        }
    }
    if partial {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out.into_bytes()
}

fn marked(rest: &[u8], nul: bool) -> bool {
    // UTF-16 with no NUL in its first 8 KiB (no ASCII there) is next to never valid UTF-8.
    // The sniff may end inside a character (`error_len` is `None` then).
    nul || std::str::from_utf8(&rest[..rest.len().min(BINARY_SNIFF_LEN)])
        .is_err_and(|e| e.error_len().is_some())
}

fn reads_as_text(sniff: &[u8], little: bool) -> bool {
    let mut units: Vec<u16> = sniff
        .chunks_exact(2)
        .map(|p| {
            if little {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        })
        .collect();
    // The sniff may end between the two halves of a surrogate pair.
    if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    text_like(char::decode_utf16(units).map(Result::ok))
}

/// Whether decoded characters (`None`: a unit that is no character) read as text: no
/// control characters but tab, line feed, form feed and carriage return, no noncharacters,
/// at least [`MIN_UNITS`] of them, at least half ASCII.
fn text_like(chars: impl Iterator<Item = Option<char>>) -> bool {
    let (mut total, mut ascii) = (0usize, 0usize);
    for c in chars {
        let Some(c) = c else { return false };
        total += 1;
        if c.is_ascii() {
            if c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\x0c' | '\r') {
                return false;
            }
            ascii += 1;
        } else if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') {
            return false;
        }
    }
    total >= MIN_UNITS && ascii * 2 >= total
}

/// Shortest UTF-16 string taken from binary input, in characters. Strings are scanned with
/// the rules binary input gets (mostly distinctive ones), whose shortest secrets are 20
/// characters; a longer minimum is a cheaper pass (see [`STRIDE`]).
pub(crate) const MIN_RUN: usize = 16;
/// Longest stretch of one string scanned at once, in characters; longer strings are scanned in
/// pieces that overlap by the longest rule window.
pub(crate) const PIECE: usize = 64 * 1024;

/// ASCII text bytes: printable, tab, line feed, carriage return.
const TEXT: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b >= 0x20 && b < 0x7F) || b == 9 || b == 10 || b == 13;
        b += 1;
    }
    t
};

fn is_text(b: u8) -> bool {
    TEXT[b as usize]
}

/// UTF-16 strings inside binary input (a .NET assembly's string heap, Windows resources, a
/// UTF-16 file after binary data): maximal stretches of `buf[from..end]` that alternate an
/// ASCII text byte and a NUL, in either byte order, with at least [`MIN_RUN`] characters.
/// Yields the stretch's byte range; its characters are the text bytes in it.
pub(crate) struct BinaryStrings<'a> {
    buf: &'a [u8],
    at: usize,
    end: usize,
}

impl<'a> BinaryStrings<'a> {
    pub(crate) fn new(buf: &'a [u8], from: usize, end: usize) -> Self {
        BinaryStrings { buf, at: from, end: end.min(buf.len()) }
    }
}

/// Probe spacing: every string of [`MIN_RUN`] characters (`2 * MIN_RUN` bytes) holds two
/// neighbouring bytes at a probe, a character and a NUL in some order.
const STRIDE: usize = 2 * MIN_RUN - 2;

impl Iterator for BinaryStrings<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = &self.buf[..self.end];
        let lower = self.at;
        let mut p = self.at;
        while p + 1 < buf.len() {
            // One NUL and one text byte, in either order; one branch per probe.
            let (a, b) = (buf[p], buf[p + 1]);
            if (a == 0) == (b == 0) || !is_text(a | b) {
                p += STRIDE;
                continue;
            }
            // A character followed by its NUL next to the probe, then back to the first.
            let unit = |i: usize| i + 1 < buf.len() && is_text(buf[i]) && buf[i + 1] == 0;
            let near = [p.checked_sub(1), Some(p), Some(p + 1)];
            let Some(mut i) = near.into_iter().flatten().find(|&i| i >= lower && unit(i)) else {
                p += STRIDE;
                continue;
            };
            while i >= lower + 2 && unit(i - 2) {
                i -= 2;
            }
            // A big-endian string is the same bytes from the NUL before its first character,
            // and ends with a character.
            let start = if i > lower && buf[i - 1] == 0 { i - 1 } else { i };
            let mut j = i;
            while unit(j) {
                j += 2;
            }
            let end = if j < buf.len() && is_text(buf[j]) { j + 1 } else { j };
            p = end.max(p + 1);
            if (end - start) / 2 >= MIN_RUN {
                self.at = p;
                return Some(start..end);
            }
        }
        self.at = buf.len();
        None
    }
}

/// Reads UTF-16 from `inner` (a leading byte-order mark removed) and gives UTF-8; what is not
/// UTF-16 (an unpaired surrogate, an odd last byte) becomes U+FFFD. Keeps the bytes it read
/// for [`Utf16Reader::take_raw`]: what is not UTF-16 in the same byte order (ASCII appended
/// by a tool that writes ANSI, text after a stray odd byte) reads as garbage here and is
/// scanned in those bytes.
pub(crate) struct Utf16Reader<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    seen: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    done: bool,
    consumed: u64,
}

impl<R: Read> Utf16Reader<R> {
    pub(crate) fn new(inner: R, encoding: &'static Encoding) -> Self {
        Utf16Reader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: vec![0; RAW_CHUNK],
            seen: Vec::new(),
            out: Vec::new(),
            at: 0,
            done: false,
            consumed: 0,
        }
    }

    /// Bytes of UTF-16 read so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Moves the bytes read since the last call to the end of `into`.
    pub(crate) fn take_raw(&mut self, into: &mut Vec<u8>) {
        into.append(&mut self.seen);
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            self.consumed += n as u64;
            let last = n == 0;
            let src = &self.raw[..n];
            self.seen.extend_from_slice(src);
            let room = self.decoder.max_utf8_buffer_length(src.len()).unwrap_or(3 * RAW_CHUNK);
            self.out.resize(room, 0);
            let (result, read, written, _) = self.decoder.decode_to_utf8(src, &mut self.out, last);
            // The room asked for holds all of it.
            debug_assert!(matches!(result, CoderResult::InputEmpty) && read == src.len());
            self.out.truncate(written);
            self.at = 0;
            self.done = last;
        }
        let n = dst.len().min(self.out.len() - self.at);
        dst[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(bytes: &[u8]) -> Option<&'static Encoding> {
        super::detect(bytes, crate::is_binary(bytes))
    }

    fn le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    fn transcoded(bytes: &[u8]) -> String {
        let encoding = detect(bytes).expect("UTF-16");
        let mut out = String::new();
        // One byte at a time from the source: pairs and surrogates split across reads.
        let trickle = bytes.chunks(1).flatten().copied().collect::<Vec<_>>();
        let mut reader = Utf16Reader::new(Trickle(&trickle), encoding);
        reader.read_to_string(&mut out).expect("UTF-8 out");
        assert_eq!(reader.consumed(), bytes.len() as u64);
        out
    }

    /// A reader that gives one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else { return Ok(0) };
            if dst.is_empty() {
                return Ok(0);
            }
            dst[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn marked_and_unmarked_utf16_is_recognised_in_both_byte_orders() {
        let text = "$env:TOKEN = \"abc\"\r\n# Schlüssel 鍵 😀\r\n";
        let marked: Vec<u8> = [&[0xFF, 0xFE][..], &le(text)].concat();
        assert_eq!(detect(&marked), Some(UTF_16LE));
        assert_eq!(transcoded(&marked), text, "the mark is removed");
        assert_eq!(detect(&le(text)), Some(UTF_16LE));
        assert_eq!(transcoded(&le(text)), text);
        let marked: Vec<u8> = [&[0xFE, 0xFF][..], &be(text)].concat();
        assert_eq!(detect(&marked), Some(UTF_16BE));
        assert_eq!(transcoded(&marked), text);
        assert_eq!(detect(&be(text)), Some(UTF_16BE));
        assert_eq!(transcoded(&be(text)), text);
    }

    #[test]
    fn binary_and_utf8_are_not_utf16() {
        assert_eq!(detect(b"plain text with no NUL at all, long enough"), None);
        // A NUL code unit, control bytes, UTF-32, a short input: binary as before.
        assert_eq!(detect(&le("key\0value and more text here")), None);
        assert_eq!(
            detect(&[0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0]),
            None
        );
        assert_eq!(detect(&[0xFF, 0xFE, 0, 0, b'a', 0, 0, 0]), None);
        assert_eq!(detect(&le("short")), None);
        // A mark before ASCII text: the text is scanned as it is.
        assert_eq!(detect(b"\xFF\xFEABLY_API_KEY=zbw1G5.ZznGYq:pe-XRqWm\n"), None);
        // So is a mark before UTF-8, also when the sniff ends inside a character; not a mark
        // before what is neither (Latin-1: read as UTF-16, its bytes are scanned too).
        let utf8 = [&[0xFF, 0xFE][..], "# Schlüssel für 鍵\nname=x".as_bytes()].concat();
        assert_eq!(detect(&utf8), None);
        assert_eq!(detect(b"\xFE\xFF# Schl\xC3\xBCssel \xE9\x8D"), None);
        assert_eq!(detect(b"\xFF\xFE# Schl\xFCssel"), Some(UTF_16LE));
        // Mostly non-ASCII without a mark is left alone (it holds no NUL to look binary).
        assert_eq!(detect(&le("鍵鍵鍵鍵鍵鍵鍵鍵鍵鍵 a")), None);
        // An unpaired surrogate is not text.
        let mut bad = le("a long enough line of text");
        bad.extend_from_slice(&0xDC00u16.to_le_bytes());
        bad.extend_from_slice(&le("more"));
        assert_eq!(detect(&bad), None);
    }

    #[test]
    fn a_sniff_ending_inside_a_surrogate_pair_still_reads_as_text() {
        let mut text = "x".repeat(BINARY_SNIFF_LEN / 2 - 1);
        text.push('😀');
        text.push_str("tail");
        let bytes = le(&text);
        assert_eq!(detect(&bytes), Some(UTF_16LE));
        assert_eq!(transcoded(&bytes), text);
    }

    fn strings(bytes: &[u8]) -> Vec<String> {
        BinaryStrings::new(bytes, 0, bytes.len())
            .map(|r| bytes[r].iter().filter(|&&b| b != 0).map(|&b| b as char).collect())
            .collect()
    }

    /// Every position in turn: the definition the probing search must agree with.
    fn naive(buf: &[u8], from: usize) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut i = from;
        while i + 1 < buf.len() {
            if !(is_text(buf[i]) && buf[i + 1] == 0) {
                i += 1;
                continue;
            }
            let start = if i > from && buf[i - 1] == 0 { i - 1 } else { i };
            let mut j = i;
            while j + 1 < buf.len() && is_text(buf[j]) && buf[j + 1] == 0 {
                j += 2;
            }
            let end = if j < buf.len() && is_text(buf[j]) { j + 1 } else { j };
            i = end.max(i + 1);
            if (end - start) / 2 >= MIN_RUN {
                out.push(start..end);
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn probing_finds_exactly_what_every_position_finds(
            parts in proptest::collection::vec((0u8..4, 0usize..40), 0..12),
            from in 0usize..8,
        ) {
            let mut buf = Vec::new();
            for (kind, len) in parts {
                match kind {
                    0 => buf.extend(le(&"k".repeat(len))),
                    1 => buf.extend(be(&"k".repeat(len))),
                    2 => buf.extend((0..len).map(|i| [0u8, 0x90, b'a', 0][i % 4])),
                    _ => buf.extend(std::iter::repeat_n(0u8, len)),
                }
            }
            let from = from.min(buf.len());
            let got: Vec<_> = BinaryStrings::new(&buf, from, buf.len()).collect();
            proptest::prop_assert_eq!(got, naive(&buf, from));
        }
    }

    #[test]
    fn strings_in_binary_data_are_found_in_both_byte_orders() {
        let mut bytes = b"\x00\x01\x02MZ\x90\x00".to_vec();
        bytes.extend(le("ConnectionString"));
        bytes.extend_from_slice(b"\x00\x00\x13\x37\xfe");
        bytes.extend(be("Password=Xq7!vR2"));
        bytes.extend_from_slice(b"\xff\xff");
        bytes.extend(le("short"));
        bytes.extend_from_slice(b"\x00\x05");
        bytes.extend(le("tail at the end!"));
        assert_eq!(strings(&bytes), ["ConnectionString", "Password=Xq7!vR2", "tail at the end!"]);
        assert!(strings(b"plain ASCII bytes, no NULs between them").is_empty());
        assert!(strings(&[0u8; 64]).is_empty());
    }

    #[test]
    fn utf32_is_recognised_in_both_byte_orders_and_transcoded() {
        let text = "$token = \"abc\"\r\n# Schlüssel 鍵 😀\n";
        let le: Vec<u8> = text.chars().flat_map(|c| u32::from(c).to_le_bytes()).collect();
        let be: Vec<u8> = text.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect();
        let sniff = |b: &[u8]| detect_utf32(b, crate::is_binary(b));
        assert_eq!(sniff(&le), Some(true));
        assert_eq!(sniff(&be), Some(false));
        let marked = [&[0xFF, 0xFE, 0, 0][..], &le].concat();
        assert_eq!(sniff(&marked), Some(true));
        assert_eq!(utf32_to_utf8(&marked, true), text.as_bytes());
        assert_eq!(utf32_to_utf8(&be, false), text.as_bytes());
        // UTF-16, binary data, plain text: not UTF-32.
        assert_eq!(sniff(&super::tests::le("plain UTF-16 text, long enough")), None);
        assert_eq!(sniff(b"plain text with no NUL in it at all"), None);
        assert_eq!(sniff(&[0u8; 64]), None);
        assert_eq!(
            utf32_to_utf8(&[b'a', 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, b'b'], true),
            "a\u{FFFD}\u{FFFD}".as_bytes()
        );
    }

    #[test]
    fn an_odd_last_byte_becomes_a_replacement_character() {
        let mut bytes = le("some UTF-16 text here");
        bytes.push(b'!');
        assert_eq!(transcoded(&bytes), "some UTF-16 text here\u{FFFD}");
    }
}
