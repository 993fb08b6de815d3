//! Decoding layers: secrets kept in an encoded form are decoded and scanned again.
//!
//! Three layers, each bounded, each giving a [`Decoded`] buffer whose every byte maps back to
//! the offset of the encoded text it came from (so a finding is located where the encoded
//! text is):
//!
//! - **String literals** ([`literal_chain`]): JSON and C-style escapes (`\"`, `\n`, `\uXXXX`,
//!   `\xHH`) inside one quoted string, and chains of literals joined by `+`, `.`, `&`, `..`,
//!   by whitespace (implicit concatenation) or, for arrays of lines such as a notebook's
//!   cell source, by a comma after a literal ending in `\n`. Found from a keyword hit whose
//!   line has a backslash or continues into another literal.
//! - **Percent-encoding** ([`percent`]): `%XX` on the line of a keyword hit.
//! - **Base64** ([`Base64Runs`], [`base64`]): runs of at least [`MIN_BASE64`] characters of
//!   the standard or URL-safe alphabet (at least [`MIN_BASE64_ON_HIT`] on a keyword hit's
//!   line), whose decoded text is printable
//!   (a Kubernetes `Secret`'s `data:` values, a `.dockerconfigjson`, `Basic` credentials).
//!   Runs wrapped over several lines of equal length are joined. These need no keyword: the
//!   keyword is inside the encoding.
//!
//! The decoded buffer carries the line around the encoded text (a base64 value keeps the
//! `DB_PASSWORD:` before it), so context rules work on it; only findings overlapping the
//! decoded part ([`Decoded::core`]) are kept.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Shortest base64 run decoded anywhere (30 bytes of plaintext: distinctive tokens are
/// longer; shorter values are decoded after a name, [`MIN_BASE64_ON_HIT`]). The run finder probes every this many bytes, so a longer minimum is a cheaper pass.
pub(crate) const MIN_BASE64: usize = 40;
/// Shortest base64 run decoded on the line of a keyword hit (`DB_PASSWORD: <base64>`).
pub(crate) const MIN_BASE64_ON_HIT: usize = 12;
/// Longest encoded text one layer decodes; longer runs are data (images, archives), not keys.
pub(crate) const MAX_ENCODED: usize = 64 * 1024;
/// Most string literals one chain joins.
const MAX_PARTS: usize = 512;
/// Context kept before and after the encoded text, from its line.
const CONTEXT: usize = 256;

/// Decoded text, the line context around it, and where each byte came from.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) bytes: Vec<u8>,
    /// For each byte of `bytes`, and one past the end, the offset in the scanned buffer of
    /// the encoded text it was decoded from.
    pub(crate) map: Vec<usize>,
    /// The decoded part of `bytes` (the rest is context copied as is).
    pub(crate) core: std::ops::Range<usize>,
    /// Only matches that start in `core` are this text's (pieces that overlap, where a match
    /// that starts before the core was the previous piece's); otherwise every match that
    /// overlaps it.
    pub(crate) starts_only: bool,
}

impl Decoded {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.map.clear();
        self.core = 0..0;
        self.starts_only = false;
    }

    pub(crate) fn push(&mut self, byte: u8, from: usize) {
        self.bytes.push(byte);
        self.map.push(from);
    }

    /// A character's UTF-8 bytes, each mapped to `from`.
    fn push_char(&mut self, c: char, from: usize) {
        let mut utf8 = [0u8; 4];
        for &u in c.encode_utf8(&mut utf8).as_bytes() {
            self.push(u, from);
        }
    }

    /// The value of the escape whose backslash is `buf[at]`.
    fn push_escape(&mut self, buf: &[u8], at: usize, value: Escape) {
        match value {
            Escape::Byte(v) => self.push(v, at),
            Escape::Char(c) => self.push_char(c, at),
            Escape::Nothing => {}
            Escape::Raw => {
                self.push(b'\\', at);
                self.push(buf[at + 1], at + 1);
            }
        }
    }

    fn copy(&mut self, buf: &[u8], range: std::ops::Range<usize>) {
        self.bytes.extend_from_slice(&buf[range.clone()]);
        self.map.extend(range);
    }

    pub(crate) fn finish(&mut self, end: usize) {
        self.map.push(end);
    }

    /// Appends the line's bytes after `end` (at most [`CONTEXT`]) as context, and finishes.
    fn close(&mut self, buf: &[u8], end: usize) {
        let after = context_end(buf, end).max(end);
        self.copy(buf, end..after);
        self.finish(after);
    }

    /// The buffer offsets `start..end` of decoded bytes `s..e`.
    pub(crate) fn source_span(&self, s: usize, e: usize) -> (usize, usize) {
        let start = self.map[s];
        let end = self.map[e].max(self.map[e.saturating_sub(1).max(s)] + 1);
        (start, end)
    }
}

/// The start of the line holding `pos`, at most [`CONTEXT`] bytes back.
fn context_start(buf: &[u8], pos: usize) -> usize {
    let back = pos.saturating_sub(CONTEXT);
    memchr::memrchr(b'\n', &buf[back..pos]).map_or(back, |i| back + i + 1)
}

/// The end of the line holding `pos` (its newline included), at most [`CONTEXT`] bytes on.
fn context_end(buf: &[u8], pos: usize) -> usize {
    let ahead = (pos + CONTEXT).min(buf.len());
    memchr::memchr(b'\n', &buf[pos..ahead]).map_or(ahead, |i| pos + i + 1)
}

// ---------------------------------------------------------------------------------------
// String literals

/// Whether the line `line` (a keyword hit's) may hold an escaped or joined string literal.
pub(crate) fn literal_candidate(buf: &[u8], line: std::ops::Range<usize>) -> bool {
    let text = &buf[line.clone()];
    // An escaped quote, or an escape inside the text (not only `\n` before the closing
    // quote, as in every format string).
    for i in memchr::memchr_iter(b'\\', text) {
        match text.get(i + 1) {
            Some(b'"' | b'\'' | b'u' | b'x' | b'U' | b'0'..=b'7') => return true,
            Some(b'n' | b'r') if !matches!(text.get(i + 2), Some(b'"' | b'\'' | b'\\') | None) => {
                return true
            }
            _ => {}
        }
    }
    // A literal joined to another on the line (`"..." + "..."`, Lua's `..`, two literals side
    // by side as in C and Python), by the grammar `chain` reads.
    if memchr::memchr2_iter(b'"', b'\'', text)
        .any(|i| join(buf, line.start + i + 1, false).is_some())
    {
        return true;
    }
    // A literal continued on the next line: `"..." +`, `"..."` then a quote or a join
    // operator, or a line of an array of lines (`"...\n",`).
    let trimmed = text.trim_ascii_end();
    let next = buf[line.end..].iter().take(256).find(|b| !b.is_ascii_whitespace());
    let quote_next = next.is_some_and(|b| matches!(b, b'"' | b'\''));
    match trimmed.last() {
        Some(b'+' | b'.' | b'&') => quote_next,
        Some(b'"' | b'\'') => quote_next || next.is_some_and(|b| matches!(b, b'+' | b'.' | b'&')),
        Some(b',') => quote_next && (trimmed.ends_with(b"\\n\",") || trimmed.ends_with(b"\\n',")),
        _ => false,
    }
}

/// Where lexing a line stands: the next byte to look at, and the starts known to fail.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    pub(crate) at: usize,
    dead: Dead,
    /// A literal longer than [`MAX_ENCODED`] being decoded piece by piece.
    long: Option<Long>,
}

/// A long literal's next piece: its quote, where the piece starts (on the literal's grid of
/// escapes) and where the literal closes.
#[derive(Debug)]
struct Long {
    quote: u8,
    from: usize,
    stop: usize,
}

/// Decoded bytes two pieces of a long literal share: more than any token.
const LITERAL_OVERLAP: usize = 8 * 1024;

/// Per quote (`"`, `'`), a span of start positions whose literal (or chain) is known not to
/// close. A span found at the buffer's end is provisional: the next chunk may close it.
#[derive(Debug, Default)]
struct Dead {
    spans: [std::ops::Range<usize>; 2],
    provisional: [bool; 2],
    /// The first start that failed at the buffer's end.
    pending: Option<usize>,
    /// A literal longer than [`MAX_ENCODED`] that closes: its quote's offset and its close's.
    long: Option<(usize, usize)>,
}

impl Dead {
    fn kind(quote: u8) -> usize {
        usize::from(quote == b'\'')
    }

    fn contains(&self, quote: u8, at: usize) -> bool {
        self.spans[Dead::kind(quote)].contains(&at)
    }

    fn set(&mut self, quote: u8, span: std::ops::Range<usize>, provisional: bool) {
        if provisional {
            self.pending = Some(self.pending.map_or(span.start, |p| p.min(span.start)));
        }
        self.spans[Dead::kind(quote)] = span;
        self.provisional[Dead::kind(quote)] = provisional;
    }
}

/// A [`Cursor`]'s progress kept across the windows of one input, in absolute offsets: a line
/// longer than the window around a hit is lexed from several hits, and each goes on where the
/// last stopped.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lexed {
    at: u64,
    dead: [std::ops::Range<u64>; 2],
    provisional: [bool; 2],
}

impl Lexed {
    /// The buffer is about to change (the next step of a stream): spans found at its end no
    /// longer hold, and lexing goes back to `relex`, the first literal the end cut, if any.
    pub(crate) fn next_buffer(&mut self, relex: Option<u64>) {
        for kind in 0..2 {
            if std::mem::take(&mut self.provisional[kind]) {
                self.dead[kind] = 0..0;
            }
        }
        if let Some(relex) = relex {
            self.at = self.at.min(relex);
        }
    }
}

impl Cursor {
    #[cfg(test)]
    pub(crate) fn new(at: usize) -> Self {
        Cursor { at, dead: Dead::default(), long: None }
    }

    /// A cursor at `line_start` of a buffer whose first byte is at absolute offset `base`, or
    /// where `lexed` stopped if that is further on (what lies before was lexed, and decoded,
    /// already), knowing the starts `lexed` found to fail.
    pub(crate) fn resume(line_start: usize, lexed: &Lexed, base: u64) -> Self {
        let rel = |o: u64| usize::try_from(o.saturating_sub(base)).unwrap_or(usize::MAX);
        let spans = lexed.dead.clone().map(|d| rel(d.start)..rel(d.end));
        let dead = Dead { spans, provisional: lexed.provisional, pending: None, long: None };
        Cursor { at: line_start.max(rel(lexed.at)), dead, long: None }
    }

    /// The first literal start that ran into the end of the buffer: only a longer buffer
    /// decides whether it closes.
    pub(crate) fn pending(&self) -> Option<usize> {
        self.dead.pending
    }

    /// Where this cursor stands, for the next [`Cursor::resume`] (in the same buffer; see
    /// [`Lexed::next_buffer`] for the next one), at most `line_end`: where lexing jumped past
    /// the window (a chain, a literal or a known failure reaching beyond it), the next window
    /// lexes those bytes again from its own start (a quote there may start a literal this
    /// reading took for the inside of another).
    pub(crate) fn save(&self, base: u64, line_end: usize) -> Lexed {
        let abs = |o: usize| base + o as u64;
        Lexed {
            at: abs(self.at.min(line_end)),
            dead: self.dead.spans.clone().map(|d| abs(d.start)..abs(d.end)),
            provisional: self.dead.provisional,
        }
    }
}

/// The next chain of string literals on `line`, starting the search at `cursor.at`, that has
/// an escape or more than one part, decoded into `out` with its line context; the cursor
/// moves past it. Chains that follow it within [`CONTEXT`] bytes are decoded into the same
/// text, the bytes between them copied (a line of short escaped strings, as minified code
/// has, is one decoded text, not one per string with its context each). The returned offset
/// is where the last chain ends in `buf` (it may lie on a later line). Every byte read, for
/// chains that fail too, is taken from `budget`; none when it runs out. A literal that does
/// not close settles every later quote of its kind up to where it stopped (see [`literal`]),
/// so a line of quotes that never close is read about once, not once per quote.
pub(crate) fn next_literal_chain(
    buf: &[u8],
    line: std::ops::Range<usize>,
    cursor: &mut Cursor,
    out: &mut Decoded,
    budget: &mut usize,
) -> Option<usize> {
    // Where the decoded text's last chain ends, once it has one.
    let mut joined: Option<(usize, usize)> = None;
    loop {
        if joined.is_none() && *budget > 0 {
            if let Some(end) = long_piece(buf, cursor, out, budget) {
                return Some(end);
            }
        }
        if let Some((first, end)) = joined {
            // Only a chain close after the last one, within one decoded text's reach.
            let near = (end + CONTEXT).min(line.end).min(first + MAX_ENCODED);
            if cursor.at >= near || *budget == 0 || cursor.long.is_some() {
                out.core.end = out.bytes.len();
                out.close(buf, end);
                cursor.at = cursor.at.max(end);
                return Some(end);
            }
        } else if cursor.at >= line.end || *budget == 0 {
            return None;
        }
        let i = cursor.at;
        let b = buf[i];
        if b != b'"' && b != b'\'' {
            cursor.at += 1;
            continue;
        }
        if let Some((start, stop)) = cursor.dead.long.filter(|l| l.0 <= i) {
            // A long literal found as a later part of a chain, reached now.
            cursor.dead.long = None;
            if start == i {
                cursor.long = Some(Long { quote: b, from: i + 1, stop });
                continue;
            }
        }
        if cursor.dead.contains(b, i) {
            // Known to fail; past both kinds' known failures at once where they overlap.
            let [double, single] = &cursor.dead.spans;
            cursor.at = if double.contains(&i) && single.contains(&i) {
                double.end.min(single.end)
            } else {
                i + 1
            };
            *budget = budget.saturating_sub(1);
            continue;
        }
        let mark = out.bytes.len();
        match joined {
            None => {
                out.clear();
                out.copy(buf, context_start(buf, i)..i);
            }
            Some((_, end)) => out.copy(buf, end..i),
        }
        let core_start = out.bytes.len();
        let mut reach = i;
        let found = chain(buf, i, out, &mut reach, &mut cursor.dead);
        *budget = budget.saturating_sub(reach - i + 1);
        match found {
            // Binary test vectors (`"\x00\x01..."`) are not text a key hides in.
            Some(chain) if chain.changed && printable(&out.bytes[core_start..], 10) => {
                cursor.at = chain.end;
                match &mut joined {
                    None => {
                        out.core = core_start..out.bytes.len();
                        joined = Some((i, chain.end));
                    }
                    Some((_, end)) => *end = chain.end,
                }
            }
            found => {
                out.bytes.truncate(mark);
                out.map.truncate(mark);
                cursor.at = found.map_or(i + 1, |chain| chain.end);
                if let Some((start, stop)) = cursor.dead.long.filter(|l| l.0 == i) {
                    // Longer than one decoding: decoded in pieces (see `long_piece`).
                    cursor.dead.long = None;
                    cursor.long = Some(Long { quote: buf[start], from: start + 1, stop });
                    cursor.at = start;
                }
            }
        }
    }
}

/// The next piece of the long literal the cursor is in, if any: decoded into `out` with
/// context, at most [`MAX_ENCODED`] bytes of it, overlapping the previous piece by
/// [`LITERAL_OVERLAP`] and reporting only what starts in it (`starts_only`), as base64 lines
/// longer than a decoding are. Returns where the piece ends (after the literal's close for
/// the last one); pieces without an escape are skipped (the plain pass sees them), and after
/// the last one the cursor is past the literal.
fn long_piece(
    buf: &[u8],
    cursor: &mut Cursor,
    out: &mut Decoded,
    budget: &mut usize,
) -> Option<usize> {
    while let Some(long) = &mut cursor.long {
        if *budget == 0 {
            return None;
        }
        let from = long.from;
        out.clear();
        out.copy(buf, context_start(buf, from)..from);
        let core_start = out.bytes.len();
        let mut reach = from;
        // A piece is `MAX_ENCODED` decoded bytes, however many it reads (line continuations
        // decode to nothing), and the next one starts `LITERAL_OVERLAP` decoded bytes back.
        let out_limit = core_start + MAX_ENCODED;
        let run = unescape(buf, from, long.stop, long.quote, out, &mut reach, out_limit);
        *budget = budget.saturating_sub(reach - from + 1);
        let last = run.end >= long.stop;
        let end = if last { long.stop + 1 } else { run.end };
        if last {
            cursor.long = None;
            cursor.at = end;
        } else {
            // Each decoded byte maps to where its escape (or itself) starts: on the grid.
            long.from = out.map[out.bytes.len() - LITERAL_OVERLAP].max(from + 1);
        }
        if run.escaped && printable(&out.bytes[core_start..], 10) {
            out.core = core_start..out.bytes.len();
            out.starts_only = true;
            out.close(buf, end);
            return Some(end);
        }
    }
    None
}

struct Chain {
    end: usize,
    /// An escape was decoded or several literals were joined.
    changed: bool,
}

/// Literals joined from the quote at `start`, their contents appended to `out`; `reach` is
/// moved to the furthest byte read.
fn chain(
    buf: &[u8],
    start: usize,
    out: &mut Decoded,
    reach: &mut usize,
    dead: &mut Dead,
) -> Option<Chain> {
    let mut at = start;
    let mut parts = 0;
    let mut changed = false;
    // The chain up to its last literal that closed, and whether that much changed anything.
    let mut good = Chain { end: start, changed: false };
    loop {
        let mark = out.bytes.len();
        let Some((end, escaped)) = literal(buf, at, out, reach, dead) else {
            if parts == 0 {
                return None;
            }
            // A part that does not close ends the chain before it: what was joined so far is
            // decoded (`"<escaped key>" '` once hid the key behind the stray quote).
            out.bytes.truncate(mark);
            out.map.truncate(mark);
            return Some(good);
        };
        parts += 1;
        changed |= escaped;
        good = Chain { end, changed };
        let ends_line = out.bytes.last() == Some(&b'\n');
        match join(buf, end, ends_line) {
            Some(next) if parts < MAX_PARTS && next - start < MAX_ENCODED => {
                at = next;
                changed = true;
            }
            _ => return Some(good),
        }
    }
}

/// After a literal ending at `end`: the quote of the next literal joined to it.
fn join(buf: &[u8], end: usize, ends_line: bool) -> Option<usize> {
    let mut i = skip_space(buf, end);
    let mut op = false;
    match buf.get(i) {
        Some(b'+' | b'&') => {
            i += 1;
            op = true;
        }
        Some(b'.') => {
            i += if buf.get(i + 1) == Some(&b'.') { 2 } else { 1 };
            op = true;
        }
        Some(b',') if ends_line => {
            i += 1;
            op = true;
        }
        _ => {}
    }
    let j = skip_space(buf, i);
    // Implicit concatenation (no operator) only across whitespace that held a line break or
    // a blank, as in C and Python; two quotes back to back are one literal's end and an
    // unrelated start only in broken input.
    let spaced = j > end;
    match buf.get(j) {
        Some(b'"' | b'\'') if op || spaced => Some(j),
        _ => None,
    }
}

fn skip_space(buf: &[u8], mut i: usize) -> usize {
    let mut newlines = 0;
    while let Some(&b) = buf.get(i) {
        match b {
            b' ' | b'\t' | b'\r' => {}
            b'\\' if buf.get(i + 1) == Some(&b'\n') => i += 1, // shell/C line continuation
            b'\n' if newlines < 2 => newlines += 1,
            _ => break,
        }
        i += 1;
    }
    i
}

/// One quoted literal at `start`: its decoded content appended to `out`; the offset after
/// its closing quote and whether it held an escape. `None` when it does not close on its
/// line. `reach` is moved to the furthest byte read.
///
/// `dead` holds, per quote, the starts already known to fail. A quote of the same kind
/// inside a literal that failed was escaped there (a quote is never part of a longer
/// escape), so the literal it starts is read from the very next byte exactly as the failed
/// one was: it fails at the same line end. Past [`MAX_ENCODED`] a literal is not read, but
/// the failed one's reading is followed to its line's end to find where those later starts
/// would close, and only the starts too far from that close are settled; a literal that
/// does close there is left in `dead.long`, to be decoded in pieces.
fn literal(
    buf: &[u8],
    start: usize,
    out: &mut Decoded,
    reach: &mut usize,
    dead: &mut Dead,
) -> Option<(usize, bool)> {
    let quote = buf[start];
    if dead.contains(quote, start) {
        return None;
    }
    let limit = (start + MAX_ENCODED).min(buf.len());
    let run = unescape(buf, start + 1, limit, quote, out, reach, usize::MAX);
    match run.stopped {
        Some(b) if b == quote => return Some((run.end + 1, run.escaped)),
        Some(_) => {
            dead.set(quote, start..run.end, false);
            return None;
        }
        None => {}
    }
    if run.end >= buf.len() {
        // The buffer ends inside the literal: so do the later ones.
        dead.set(quote, start..buf.len(), true);
        return None;
    }
    // Cut at `MAX_ENCODED`: the same reading goes on, without decoding, to the close or line
    // end every later start of this kind shares; a start within `MAX_ENCODED` of a close is
    // a literal to read.
    let stop = skip_literal(buf, run.resume, quote);
    // A later start `j` closes at `stop` when `stop < j + MAX_ENCODED`.
    let settled = match buf.get(stop) {
        Some(&b) if b == quote => {
            dead.long = Some((start, stop));
            (stop + 1).saturating_sub(MAX_ENCODED)
        }
        _ => stop,
    };
    *reach = (*reach).max(stop.min(buf.len() - 1));
    dead.set(quote, start..settled.max(start + 1), stop >= buf.len());
    None
}

/// What [`unescape`] read.
struct Run {
    /// Where it stopped: at the quote or line end that stopped it, or at the limit.
    end: usize,
    /// The quote or line end it stopped at; `None` at the limit.
    stopped: Option<u8>,
    /// Whether an escape changed the text (a `\n` just before the closing quote does not).
    escaped: bool,
    /// Where a reading without the limit would go on (a backslash just before the limit was
    /// read as a byte; without it, it escapes the next one).
    resume: usize,
}

/// Decodes the inside of a literal quoted with `quote` from `from` (on its grid of escapes)
/// into `out`, up to the closing quote, a line end or `limit`, or until `out` holds
/// `out_limit` bytes; `reach` is moved to the furthest byte read.
fn unescape(
    buf: &[u8],
    from: usize,
    limit: usize,
    quote: u8,
    out: &mut Decoded,
    reach: &mut usize,
    out_limit: usize,
) -> Run {
    let mut i = from;
    let mut escaped = false;
    let mut last = i;
    while i < limit && out.bytes.len() < out_limit {
        last = i;
        let b = buf[i];
        *reach = (*reach).max(i);
        if b == quote || b == b'\n' {
            return Run { end: i, stopped: Some(b), escaped, resume: i };
        }
        match b {
            b'\\' if i + 1 < limit => {
                let (len, value) = escape(&buf[i + 1..limit]);
                // `"...\n"` alone (a format string, a line of text) changes nothing a rule
                // could see; escapes inside the text do.
                let rest = &buf[i + 1 + len..limit];
                let trailing = matches!(buf[i + 1], b'n' | b'r')
                    && (rest.first() == Some(&quote)
                        || rest.starts_with(b"\\n") && rest.get(2) == Some(&quote));
                escaped |= !trailing;
                out.push_escape(buf, i, value);
                i += 1 + len;
            }
            _ => {
                out.push(b, i);
                i += 1;
            }
        }
    }
    let resume = if i > from && buf[last] == b'\\' && last + 1 == limit { last } else { i };
    Run { end: i, stopped: None, escaped, resume }
}

/// From `i`, inside a literal quoted with `quote`, on a grid of escapes: the offset of its
/// closing quote, of the line end, or the buffer's end.
fn skip_literal(buf: &[u8], mut i: usize, quote: u8) -> usize {
    while i < buf.len() {
        match buf[i] {
            b if b == quote => return i,
            b'\n' => return i,
            // An escape's first byte after the backslash is never a quote nor a line end
            // that ends the literal (`\\\n` continues it), and the bytes of a longer escape
            // (hex digits) never are.
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    buf.len()
}

#[derive(Clone, Copy)]
enum Escape {
    Byte(u8),
    Char(char),
    /// A line continuation.
    Nothing,
    /// Not an escape this layer knows: kept as written.
    Raw,
}

/// The escape after a backslash: its length (after the backslash) and value.
fn escape(rest: &[u8]) -> (usize, Escape) {
    let hex = |s: &[u8]| {
        // (`from_str_radix` takes a leading `+`, which no escape has.)
        let digits = s.iter().all(u8::is_ascii_hexdigit);
        digits.then(|| u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()).flatten()
    };
    match rest[0] {
        b'n' => (1, Escape::Byte(b'\n')),
        b'r' => (1, Escape::Byte(b'\r')),
        b't' => (1, Escape::Byte(b'\t')),
        // C, Python, Ruby, PHP, Perl: one to three octal digits, at most `\377`.
        b'0'..=b'7' => {
            let value = |n: usize| rest[..n].iter().fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
            let mut n = rest.iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
            if value(n) > 0xff {
                n -= 1;
            }
            (n, Escape::Byte(value(n) as u8))
        }
        b'"' | b'\'' | b'\\' | b'/' | b'`' => (1, Escape::Byte(rest[0])),
        b'\n' => (1, Escape::Nothing),
        // C reads every hex digit that follows: `\x0067` is `g` there (two digits elsewhere,
        // where `\x00` is a NUL, which no key holds).
        b'x' if rest.get(1..3) == Some(b"00") => {
            let n = rest[1..].iter().take(16).take_while(|b| b.is_ascii_hexdigit()).count();
            match hex(&rest[1..1 + n]).filter(|&v| v <= 0xff) {
                Some(v) => (n + 1, Escape::Byte(v as u8)),
                None => (3, Escape::Byte(0)),
            }
        }
        b'x' if rest.len() >= 3 => match hex(&rest[1..3]) {
            Some(v) => (3, Escape::Byte(v as u8)),
            None => (1, Escape::Raw),
        },
        // JavaScript, Rust, Swift: `\u{67}` (JavaScript takes any number of leading zeros).
        b'u' if rest.get(1) == Some(&b'{') => {
            let n = rest[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
            let value = rest[2..2 + n].iter().fold(0u32, |v, &d| {
                let d = (d as char).to_digit(16).unwrap_or(0);
                v.saturating_mul(16).saturating_add(d).min(0x11_0000)
            });
            match char::from_u32(value).filter(|_| n > 0 && rest.get(2 + n) == Some(&b'}')) {
                Some(c) => (n + 3, Escape::Char(c)),
                None => (1, Escape::Raw),
            }
        }
        // Java takes any number of `u`s: `\uu0067`.
        b'u' => {
            let us = rest.iter().take_while(|&&b| b == b'u').count();
            match rest.get(us..us + 4).and_then(hex).and_then(char::from_u32) {
                Some(c) => (us + 4, Escape::Char(c)),
                None => (1, Escape::Raw),
            }
        }
        // Python, C: `\U00000067`.
        b'U' if rest.len() >= 9 => match hex(&rest[1..9]).and_then(char::from_u32) {
            Some(c) => (9, Escape::Char(c)),
            None => (1, Escape::Raw),
        },
        // Python: `\N{LATIN SMALL LETTER G}`, for the characters keys are written with.
        b'N' if rest.get(1) == Some(&b'{') => {
            let close = rest.iter().take(40).position(|&b| b == b'}');
            match close.and_then(|c| Some((c + 1, unicode_name(&rest[2..c])?))) {
                Some((len, c)) => (len, Escape::Char(c)),
                None => (1, Escape::Raw),
            }
        }
        _ => (1, Escape::Raw),
    }
}

/// Whether the backslash at `at` writes a character that no string needs escaped: a letter,
/// a digit or punctuation as `\x67`, `\u0067`, `\u{67}`, `\U00000067` or `\147`, or the
/// slashes of a URL as JSON may write them (`https:\/\/`). Escaping one character of a
/// keyword (`"\x67hp_..."`) hides the keyword from the gate, so the literal layer runs on
/// such lines whether a keyword hit them or not. Quotes, backslashes and `<>&` (which JSON
/// encoders escape for HTML) are not counted, nor control characters.
pub(crate) fn hiding_escape(buf: &[u8], at: usize) -> bool {
    if buf[at] == b':' {
        return buf[at + 1..].starts_with(br"\/\/");
    }
    let rest = &buf[at + 1..];
    match rest.first() {
        Some(b'/') => return at > 0 && buf[at - 1] == b':' && rest.starts_with(b"/\\/"),
        Some(b'x' | b'u' | b'U' | b'N' | b'0' | b'1' | b'4'..=b'7') => {}
        _ => return false,
    }
    let value = match escape(rest) {
        (_, Escape::Byte(v)) => u32::from(v),
        (_, Escape::Char(c)) => u32::from(c),
        _ => return false,
    };
    (0x21..0x7f).contains(&value)
        && !matches!(value as u8, b'"' | b'\'' | b'\\' | b'<' | b'>' | b'&')
}

/// Whether the backslash at `at` is a two-digit octal escape of a plain character (`\55`
/// is `-`, `\72` is `:`): a first digit of 4 to 7 (with a third digit it would pass `\377`,
/// so it has none), as [`hiding_escape`] judges the character.
pub(crate) fn short_octal_escape(buf: &[u8], at: usize) -> bool {
    matches!(buf.get(at + 1..at + 3), Some([b'4'..=b'7', b'0'..=b'7'])) && hiding_escape(buf, at)
}

/// The escapes in `range` decoded in place into `out`, whatever literals they belong to (the
/// whole range is the core). For a window that may start inside a literal, where lexing
/// cannot tell a closing quote from an opening one (the line began too far back).
pub(crate) fn escapes_in_place(buf: &[u8], range: std::ops::Range<usize>, out: &mut Decoded) {
    out.clear();
    let mut i = range.start;
    while i < range.end {
        if buf[i] != b'\\' || i + 1 == range.end {
            out.push(buf[i], i);
            i += 1;
            continue;
        }
        let (len, value) = escape(&buf[i + 1..range.end]);
        out.push_escape(buf, i, value);
        i += 1 + len;
    }
    out.core = 0..out.bytes.len();
    out.finish(range.end);
}

/// The ASCII letter, digit or key punctuation a Unicode character name (any case) names.
fn unicode_name(name: &[u8]) -> Option<char> {
    let name = std::str::from_utf8(name).ok()?.to_ascii_uppercase();
    let single = |rest: &str| {
        let mut chars = rest.chars();
        chars.next().filter(|c| c.is_ascii_uppercase() && chars.next().is_none())
    };
    if let Some(rest) = name.strip_prefix("LATIN SMALL LETTER ") {
        return single(rest).map(|c| c.to_ascii_lowercase());
    }
    if let Some(rest) = name.strip_prefix("LATIN CAPITAL LETTER ") {
        return single(rest);
    }
    const DIGITS: [&str; 10] =
        ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];
    if let Some(rest) = name.strip_prefix("DIGIT ") {
        let d = DIGITS.iter().position(|&d| d == rest)?;
        return char::from_digit(d as u32, 10);
    }
    let punctuation = [
        ("LOW LINE", '_'),
        ("HYPHEN-MINUS", '-'),
        ("FULL STOP", '.'),
        ("COLON", ':'),
        ("SOLIDUS", '/'),
        ("EQUALS SIGN", '='),
        ("PLUS SIGN", '+'),
        ("COMMERCIAL AT", '@'),
    ];
    punctuation.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

// ---------------------------------------------------------------------------------------
// Character references (XML, HTML)

/// Named character references to printable ASCII: the five XML predefines and HTML5's for
/// punctuation (which hide a keyword as numeric ones do: `ghp&lowbar;...`).
const NAMED: [(&[u8], char); 31] = [
    (b"quot;", '"'),
    (b"apos;", '\''),
    (b"amp;", '&'),
    (b"lt;", '<'),
    (b"gt;", '>'),
    (b"lowbar;", '_'),
    (b"UnderBar;", '_'),
    (b"colon;", ':'),
    (b"sol;", '/'),
    (b"bsol;", '\\'),
    (b"period;", '.'),
    (b"equals;", '='),
    (b"plus;", '+'),
    (b"commat;", '@'),
    (b"num;", '#'),
    (b"dollar;", '$'),
    (b"percnt;", '%'),
    (b"excl;", '!'),
    (b"quest;", '?'),
    (b"semi;", ';'),
    (b"comma;", ','),
    (b"ast;", '*'),
    (b"midast;", '*'),
    (b"lpar;", '('),
    (b"rpar;", ')'),
    (b"lsqb;", '['),
    (b"rsqb;", ']'),
    (b"lcub;", '{'),
    (b"rcub;", '}'),
    (b"verbar;", '|'),
    (b"grave;", '`'),
];

/// The character reference after an `&` (`#103;`, `#x67;`, `quot;`, `lowbar;`, ...): its
/// length and value. Numeric ones read as HTML reads them: any number of digits (leading
/// zeros too), the `;` optional (`&#103hp_` is `ghp_` to a browser).
fn reference(rest: &[u8]) -> Option<(usize, char)> {
    if let Some((name, c)) = NAMED.iter().find(|(name, _)| rest.starts_with(name)) {
        return Some((name.len(), *c));
    }
    let (digits, radix) = match rest {
        [b'#', b'x' | b'X', tail @ ..] => (tail, 16),
        [b'#', tail @ ..] => (tail, 10),
        _ => return None,
    };
    let len = digits.iter().take_while(|b| (**b as char).is_digit(radix)).count();
    if len == 0 {
        return None;
    }
    let value = digits[..len].iter().fold(0u32, |v, &d| {
        let d = (d as char).to_digit(radix).unwrap_or(0);
        v.saturating_mul(radix).saturating_add(d).min(0x11_0000)
    });
    let semicolon = usize::from(digits.get(len) == Some(&b';'));
    Some((rest.len() - digits.len() + len + semicolon, char::from_u32(value)?))
}

/// Whether the `&` at `at` starts a character reference to a plain character (`&#103;`,
/// `&#x67;`, `&lowbar;`): as with escapes (see [`hiding_escape`]), one such reference hides
/// a keyword from the gate (XML parsers read `value="&#103;hp_..."` as a key).
pub(crate) fn hiding_entity(buf: &[u8], at: usize) -> bool {
    // (The whole rest: any number of leading zeros, `&#0000...0103;`, is read as HTML reads
    // it; each reference is read once per trigger.)
    match reference(&buf[at + 1..]) {
        // A line end too: a PEM key in an XML attribute has them written `&#10;` (Python's
        // `ElementTree` writes a newline in an attribute so), and its rules need them.
        Some((_, c)) => {
            (c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '<' | '>' | '&'))
                || matches!(c, '\n' | '\r')
        }
        None => false,
    }
}

/// `line` with its character references decoded into `out` (the whole line is the core).
pub(crate) fn entities(buf: &[u8], line: std::ops::Range<usize>, out: &mut Decoded) {
    out.clear();
    let mut i = line.start;
    while i < line.end {
        let found = (buf[i] == b'&').then(|| reference(&buf[i + 1..line.end])).flatten();
        match found {
            Some((len, c)) => {
                out.push_char(c, i);
                i += 1 + len;
            }
            None => {
                out.push(buf[i], i);
                i += 1;
            }
        }
    }
    out.core = 0..out.bytes.len();
    out.finish(line.end);
}

// ---------------------------------------------------------------------------------------
// Line continuations and quoted-printable soft breaks

/// Bytes of lines a continuation or soft-break window joins at most: more than any key
/// split over a few lines needs, and bounded however long the chain.
pub(crate) const JOINED_LINES: usize = 16 * 1024;

/// Whether the backslash at `at` ends its line (`\` then LF or CRLF): a line continuation in
/// shell, Dockerfiles and C, and inside the strings of YAML, TOML, JavaScript and Python,
/// whose readers join the lines (review of session 28: a key split there went through).
pub(crate) fn line_continuation(buf: &[u8], at: usize) -> bool {
    continued_line_end(buf, at).is_some()
}

/// Whether the continuation backslash at `at` may split a token: a character a key is made
/// of on each side of the join (`ghp_AB\` then `CD...`). A join after a quote, a blank or
/// an operator (`"\` opening a multi-line string in Rust tests, `--flag \` in shell, a C
/// macro's ` \`) joins words a rule reads apart anyway: cargo's history has tens of
/// thousands, and decoding them all cost 7% of its scan.
pub(crate) fn splits_token(buf: &[u8], at: usize) -> bool {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"_-+/=.:~%".contains(&b);
    let before = at.checked_sub(1).is_some_and(|i| token(buf[i]));
    before && continued_line_end(buf, at).and_then(|next| buf.get(next)).is_some_and(|&b| token(b))
}

/// Where the line a continuation backslash at `at` ends resumes: past the blanks after it
/// (Docker's parser and C compilers allow them), the line end (LF or CRLF), and the next
/// line's leading blanks. `None` when the backslash does not end its line.
fn continued_line_end(buf: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while i < buf.len() && i < at + 64 && matches!(buf[i], b' ' | b'\t') {
        i += 1;
    }
    if buf.get(i) == Some(&b'\r') {
        i += 1;
    }
    if buf.get(i) != Some(&b'\n') {
        return None;
    }
    i += 1;
    while i < buf.len() && matches!(buf[i], b' ' | b'\t') {
        i += 1;
    }
    Some(i)
}

/// The lines joined by `marker` (`\\` or `=`) ending a line (blanks after it aside), from the
/// line that starts at `line_start` to the end of the last line the chain joins (at most
/// [`JOINED_LINES`] in all).
pub(crate) fn joined_lines(buf: &[u8], line_start: usize, marker: u8) -> std::ops::Range<usize> {
    let cap = (line_start + JOINED_LINES).min(buf.len());
    let mut end = line_start;
    loop {
        let Some(nl) = memchr::memchr(b'\n', &buf[end..cap]).map(|i| end + i) else {
            return line_start..cap;
        };
        let mut last = nl;
        while last > end && matches!(buf[last - 1], b' ' | b'\t' | b'\r') {
            last -= 1;
        }
        if last == end || buf[last - 1] != marker {
            return line_start..nl;
        }
        end = nl + 1;
    }
}

/// `range` with its line continuations joined into `out`: each backslash that ends a line
/// goes, with the line end and the blanks that start the next line (YAML and TOML drop them;
/// shell and C keep them, but a key split there has none). The whole range is the core.
pub(crate) fn continuations(buf: &[u8], range: std::ops::Range<usize>, out: &mut Decoded) {
    out.clear();
    let mut i = range.start;
    while i < range.end {
        if let Some(next) = (buf[i] == b'\\').then(|| continued_line_end(buf, i)).flatten() {
            i = next.min(range.end);
            continue;
        }
        out.push(buf[i], i);
        i += 1;
    }
    out.core = 0..out.bytes.len();
    out.finish(range.end);
}

/// Whether the line `line` (a keyword hit's) is quoted-printable text: an encoded `=`
/// (`=3D`, how every assignment in a quoted-printable mail reads; `=3d` too) or space
/// (`=20`), or a soft line break where mailers make them (a line of 70 to 78 characters
/// ending in one `=`: 76 by RFC 2045, 78 by Python's `email` policy; any line ending in `=`
/// would take base64 padding for one). In `token=3Dghp_...` no rule sees a key: the `D`
/// runs into it.
pub(crate) fn quoted_printable_line(buf: &[u8], line: std::ops::Range<usize>) -> bool {
    let text = &buf[line];
    let soft = text.trim_ascii_end();
    ((70..=78).contains(&soft.len()) && soft.ends_with(b"=") && !soft.ends_with(b"=="))
        || memchr::memchr_iter(b'=', text)
            .any(|i| matches!(text.get(i + 1..i + 3), Some(b"3D" | b"3d" | b"20")))
}

/// `range` decoded as quoted-printable into `out`: `=XX` is the byte `XX`, and `=` that ends
/// a line joins it to the next (a soft line break). The whole range is the core.
pub(crate) fn quoted_printable(buf: &[u8], range: std::ops::Range<usize>, out: &mut Decoded) {
    out.clear();
    let digit =
        |i: usize| buf.get(i).filter(|_| i < range.end).and_then(|&b| (b as char).to_digit(16));
    let mut i = range.start;
    while i < range.end {
        if buf[i] == b'=' {
            if let (Some(h), Some(l)) = (digit(i + 1), digit(i + 2)) {
                out.push((h * 16 + l) as u8, i);
                i += 3;
                continue;
            }
            // A soft break: `=`, blanks a mailer may have left, then the line end.
            let mut j = i + 1;
            while j < range.end && matches!(buf[j], b' ' | b'\t' | b'\r') {
                j += 1;
            }
            if j < range.end && buf[j] == b'\n' {
                i = j + 1;
                continue;
            }
        }
        out.push(buf[i], i);
        i += 1;
    }
    out.core = 0..out.bytes.len();
    out.finish(range.end);
}

// ---------------------------------------------------------------------------------------
// Percent-encoding

/// Whether the `%` at `at` starts an escape of a printable character (`%3A`, `%2F`, `%40`,
/// and those no URL needs encoded, which hide a keyword: `ghp%5F...`, `%67hp_...`) or of a
/// line end: `%20` in prose or `%d` in a format string are not worth decoding.
pub(crate) fn percent_escape(buf: &[u8], at: usize) -> bool {
    let digit = |i: usize| buf.get(i).and_then(|&b| (b as char).to_digit(16));
    match (digit(at + 1), digit(at + 2)) {
        (Some(h), Some(l)) => matches!(h * 16 + l, 0x21..=0x7e | 0x0a),
        _ => false,
    }
}

/// `line` with its `%XX` escapes decoded into `out` (the whole line is the core).
pub(crate) fn percent(buf: &[u8], line: std::ops::Range<usize>, out: &mut Decoded) {
    out.clear();
    let mut i = line.start;
    while i < line.end {
        let b = buf[i];
        if b == b'%' && i + 2 < line.end {
            let pair = &buf[i + 1..i + 3];
            if let Some(v) =
                std::str::from_utf8(pair).ok().and_then(|s| u8::from_str_radix(s, 16).ok())
            {
                out.push(v, i);
                i += 3;
                continue;
            }
        }
        out.push(b, i);
        i += 1;
    }
    out.core = 0..out.bytes.len();
    out.finish(line.end);
}

// ---------------------------------------------------------------------------------------
// Base64

const B64: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        c += 1;
    }
    t
};

/// 1 for bytes outside the base64 alphabets.
const OTHER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = !B64[c] as u8;
        c += 1;
    }
    t
};

/// Whether `byte` is in the standard or the URL-safe base64 alphabet.
pub(crate) fn is_base64(byte: u8) -> bool {
    B64[byte as usize]
}

/// Whether all 8 bytes are base64 characters: an OR of table entries, not `all()`, so no
/// branch per byte.
fn all_base64(window: &[u8]) -> bool {
    let window: &[u8; 8] = window.try_into().expect("8 bytes");
    window.iter().fold(0u8, |acc, &b| acc | OTHER[b as usize]) == 0
}

/// The engine for base64 `text`: the URL-safe alphabet when it has `-` or `_`.
fn engine_for(text: &[u8]) -> GeneralPurpose {
    let url = text.iter().any(|&b| b == b'-' || b == b'_');
    engine(if url { &base64::alphabet::URL_SAFE } else { &base64::alphabet::STANDARD })
}

fn engine(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Runs of base64 characters of at least `min` bytes in `buf[from..end]`. Every run that
/// long holds a whole 8-byte window at one of the positions `min - 7` apart, so only those
/// windows are tested (eight table loads, no branch per byte); a full one is extended both
/// ways. A run that began before `from` is skipped (it was the previous chunk's).
pub(crate) struct Base64Runs<'a> {
    buf: &'a [u8],
    at: usize,
    end: usize,
    min: usize,
    /// Also the run that reaches `end`, however short (see [`Base64Runs::open_end`]), once.
    open_end: bool,
    /// Where the last run yielded ends (the tail run starts no earlier).
    floor: usize,
}

impl<'a> Base64Runs<'a> {
    pub(crate) fn new(buf: &'a [u8], from: usize, end: usize, min: usize) -> Self {
        debug_assert!(min >= 8);
        let mut at = from;
        if from > 0 && B64[buf[from - 1] as usize] {
            while at < end && B64[buf[at] as usize] {
                at += 1;
            }
        }
        Base64Runs { buf, at, end, min, open_end: false, floor: at }
    }

    /// Also yields the run that reaches the search's end when it is shorter than `min`: in a
    /// stream that end is not the input's, and the run may go on in the next chunk.
    pub(crate) fn open_end(mut self) -> Self {
        self.open_end = true;
        self
    }
}

impl Iterator for Base64Runs<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = &self.buf[..self.end];
        let stride = self.min - 7;
        // Invariant: no run of `min` starts in `lower..at`, and `lower` is the input's start
        // or follows a non-base64 byte.
        let lower = self.at;
        let mut at = self.at;
        while at + 8 <= buf.len() {
            // The whole window at once, one branch: testing one byte first ends a third of
            // the probes early in source code, but mispredicts on each of them.
            if !all_base64(&buf[at..at + 8]) {
                at += stride;
                continue;
            }
            // A run of `min` holding this window extends `min - 8` bytes beyond it, at least
            // half of that to one side: 16 bytes for `min` >= 40 (two whole windows next to
            // it are base64 too), 12 for `min` >= 32 (one window). Identifiers of up to 23
            // characters, most of what passes the probe in source code, stop here without a
            // byte loop (on crate sources this halves the bytes extended over).
            let side = match self.min {
                40.. => 16,
                32..40 => 8,
                _ => 0,
            };
            let whole = |from: Option<usize>, to: usize| {
                from.is_some_and(|from| {
                    from >= lower
                        && to <= buf.len()
                        && (from..to).step_by(8).all(|w| all_base64(&buf[w..w + 8]))
                })
            };
            if side > 0 && !whole(at.checked_sub(side), at) && !whole(Some(at + 8), at + 8 + side) {
                at += stride;
                continue;
            }
            // Extend 8 bytes at a time while whole windows are base64 (long runs of hex or
            // data are common in test vectors), then byte by byte.
            let mut start = at;
            while start >= lower + 8 && all_base64(&buf[start - 8..start]) {
                start -= 8;
            }
            while start > lower && B64[buf[start - 1] as usize] {
                start -= 1;
            }
            let mut end = at + 8;
            while end + 8 <= buf.len() && all_base64(&buf[end..end + 8]) {
                end += 8;
            }
            while end < buf.len() && B64[buf[end] as usize] {
                end += 1;
            }
            at = end;
            if end - start >= self.min {
                self.at = at;
                self.floor = end;
                return Some(start..end);
            }
        }
        self.at = buf.len();
        if std::mem::take(&mut self.open_end) {
            let mut start = buf.len();
            while start > self.floor && B64[buf[start - 1] as usize] {
                start -= 1;
            }
            if start < buf.len() {
                return Some(start..buf.len());
            }
        }
        None
    }
}

/// Decodes the base64 run `run` of `buf` (continued over following lines when it is wrapped)
/// into `out` with its line context, and returns the end of what it decoded (the last line's
/// padding included): the runs of the lines it joined need no decoding of their own.
/// `None` when the run is not base64 of printable text.
pub(crate) fn base64(
    buf: &[u8],
    run: std::ops::Range<usize>,
    scratch: &mut Vec<u8>,
    out: &mut Decoded,
) -> Option<usize> {
    let text = &buf[run.clone()];
    // Hex of text (`key_hex = 6768705f…`): hex digits are no base64 of text (every fourth
    // character fails the test below), so a run of them is read as hex.
    if text.len() >= MIN_HEX && text.len() <= MAX_ENCODED && text.iter().all(u8::is_ascii_hexdigit)
    {
        return hex(buf, run, scratch, out);
    }
    // SQL's hex literals (`0x6768…`: `mysqldump --hex-blob`, SQL Server's `VARBINARY`
    // values) and C's: the digits after the prefix.
    if let Some(digits) = text.strip_prefix(b"0x").or_else(|| text.strip_prefix(b"0X")) {
        if digits.len() >= MIN_HEX
            && digits.len() <= MAX_ENCODED
            && digits.iter().all(u8::is_ascii_hexdigit)
        {
            return hex(buf, run.start + 2..run.end, scratch, out);
        }
    }
    // The first character of every 4 encodes the top 6 bits of a byte: for text (0x20-0x7e,
    // tab, CR, LF) that is `C`, `D` or `I`-`f`. Identifiers, paths and hashes fail this
    // within a few characters, without decoding.
    let quad = |b: &u8| matches!(b, b'C' | b'D' | b'I'..=b'Z' | b'a'..=b'f');
    // Text saved with a UTF-8 byte order mark (a Windows editor's `.env` in a Kubernetes
    // Secret) starts `77u/`: the test starts after it (review of session 30).
    let probe = text.strip_prefix(b"77u/").unwrap_or(text);
    let narrow = probe.iter().step_by(4).take(8).all(quad);
    // Base64 of UTF-16LE text (PowerShell's `-EncodedCommand`): every other group of three
    // bytes starts with a NUL, encoded as `A`.
    let wide = !narrow
        && probe.iter().step_by(4).take(8).enumerate().all(|(k, b)| {
            if k % 2 == 0 {
                quad(b)
            } else {
                *b == b'A'
            }
        });
    if text.len() < 8 || text.len() > MAX_ENCODED || !(narrow || wide) {
        return None;
    }
    let mut units = Vec::new();
    let mut text_of = |bytes: &mut Vec<u8>| -> bool {
        if wide {
            widen(bytes, &mut units);
        }
        printable(bytes, 10)
    };
    let standard = text.iter().any(|&b| b == b'+' || b == b'/');
    let url = text.iter().any(|&b| b == b'-' || b == b'_');
    if standard && url {
        return None;
    }
    let engine = engine_for(text);
    // A quick look at the first bytes before decoding everything.
    // The run alone first: a wrapped block of binary data (a PEM body, an image) is
    // rejected by its first line, not decoded whole once per line.
    scratch.clear();
    let first = text.len() - text.len() % 4;
    if engine.decode_vec(&text[..first], scratch).is_err() || !text_of(scratch) {
        return None;
    }
    // Segments: the run, then the wrapped continuation lines of the same width (the last may
    // be shorter), each decoded on its own (whole quads) and taken while it decodes to text:
    // a line after the block (`always-auth=true` after an `.npmrc`'s `_auth`, a MIME
    // boundary) ends the block instead of failing it whole (it lost the key the run held),
    // and no line is decoded twice (a block whose join failed was joined again from each of
    // its lines: quadratic; review of session 27).
    let joins = width_joins(run.len()) && pad_end(buf, run.end) == run.end;
    scratch.clear();
    let mut origin: Vec<usize> = Vec::new();
    let mut padded_end = run.end;
    let mut segment = Some(run.clone());
    let mut taken = 0;
    while let Some(seg) = segment.take() {
        let mut bytes = &buf[seg.clone()];
        if bytes.len() % 4 == 1 {
            bytes = &bytes[..bytes.len() - 1];
        }
        // Decoded onto what is taken, and taken back if it is no text.
        let before = scratch.len();
        if engine.decode_vec(bytes, scratch).is_err()
            || !(wide || printable(utf8_window(scratch, before), 10))
        {
            scratch.truncate(before);
            break;
        }
        origin.extend(seg.start..seg.start + bytes.len());
        taken += 1;
        padded_end = pad_end(buf, seg.end);
        let full = seg.len() == run.len() && padded_end == seg.end;
        if joins && full && taken < 1024 {
            segment = continuation(buf, seg.end);
        }
    }
    if taken == 0 || !text_of(scratch) {
        return None;
    }
    out.clear();
    out.copy(buf, context_start(buf, run.start)..run.start);
    let core_start = out.bytes.len();
    for (k, &b) in scratch.iter().enumerate() {
        // A character of UTF-16 text is located at its first code unit (see `widen`).
        let k = if wide { units.get(k).copied().unwrap_or(usize::MAX) } else { k };
        out.push(b, origin[(k.saturating_mul(4) / 3).min(origin.len() - 1)]);
    }
    out.core = core_start..out.bytes.len();
    out.close(buf, padded_end);
    Some(padded_end)
}

/// How base64 of compressed data starts: the compression's magic bytes encoded. gzip
/// (`H4sI`: a cloud-init part with `encoding: gz+b64`, Terraform's `base64gzip()`, a Helm
/// release, a ConfigMap's `binaryData`), zip, bzip2, xz and zstd; zlib in
/// [`compressed`]. Text starts otherwise (see [`base64`]'s test), so these runs are tried
/// only when that test fails.
const COMPRESSED: [&[u8]; 7] =
    [b"H4sI", b"UEsDB", b"QlpoO", b"/Td6WFo", b"_Td6WFo", b"KLUv/", b"KLUv_"];

/// Decoding budget one compressed block costs besides its bytes: its decoder's setup
/// (bzip2's and xz's allocate megabytes of tables per stream: 10 MB of tiny bzip2 blocks took
/// 7.5 s when only their bytes were charged; review of session 31).
const BLOCK_SETUP: usize = 1 << 10;
const HEAVY_BLOCK_SETUP: usize = 256 << 10;

/// Whether base64 run `text` may encode compressed data ([`COMPRESSED`], or zlib: `0x78`
/// and the flags of its four levels, whose third character also holds the next byte's top
/// bits): the decoding budget its decoder's setup costs, if it may.
pub(crate) fn compressed(text: &[u8]) -> Option<usize> {
    let zlib = matches!(
        text,
        [b'e', b'J', b'w'..=b'z', ..]
            | [b'e', b'N', b'o'..=b'r', ..]
            | [b'e', b'A', b'E'..=b'H', ..]
            | [b'e', b'F', b'4'..=b'7', ..]
    );
    if text.len() < MIN_BASE64 || !(zlib || COMPRESSED.iter().any(|m| text.starts_with(m))) {
        return None;
    }
    // bzip2 (`Q`) and xz (`/`, `_`).
    Some(if matches!(text[0], b'Q' | b'/' | b'_') { HEAVY_BLOCK_SETUP } else { BLOCK_SETUP })
}

/// Longest base64 of compressed data decoded whole (see [`base64_bytes`]).
pub(crate) const MAX_COMPRESSED: usize = 1 << 20;

/// Decodes the base64 block that starts with run `run` (its wrapped lines joined as
/// [`base64`] joins them) into `out` as bytes, whatever they are; returns the end of what it
/// decoded, and whether the block may go on past `buf` (nothing but blanks after it: in a
/// stream, the next chunk may hold more of it). Compressed data is read whole or not at all:
/// `Err(Some(end))` when the block is longer than `limit` characters (where it ends, as far
/// as it was read), `Err(None)` when its first line does not decode.
pub(crate) fn base64_bytes(
    buf: &[u8],
    run: std::ops::Range<usize>,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(usize, bool), Option<usize>> {
    let text = &buf[run.clone()];
    let engine = engine_for(text);
    let joins = width_joins(run.len()) && pad_end(buf, run.end) == run.end;
    out.clear();
    let (mut end, mut read) = (run.end, 0);
    let mut segment = Some(run.clone());
    while let Some(seg) = segment.take() {
        let mut bytes = &buf[seg.clone()];
        if bytes.len() % 4 == 1 {
            bytes = &bytes[..bytes.len() - 1];
        }
        read += bytes.len();
        if read > limit {
            return Err(Some(seg.end));
        }
        if engine.decode_vec(bytes, out).is_err() {
            break;
        }
        end = pad_end(buf, seg.end);
        if joins && seg.len() == run.len() && end == seg.end {
            segment = continuation(buf, seg.end);
        }
    }
    if out.is_empty() {
        Err(None)
    } else {
        Ok((end, buf[end..].iter().all(u8::is_ascii_whitespace)))
    }
}

/// Text a compressed base64 block `run_start..end` of `buf` held (one member of what it
/// decoded to), into `out` with the block's line context; every byte of it is located at the
/// block's start (compressed data has no place for a byte of its own).
pub(crate) fn compressed_text(
    buf: &[u8],
    run_start: usize,
    end: usize,
    text: &[u8],
    out: &mut Decoded,
) {
    out.clear();
    out.copy(buf, context_start(buf, run_start)..run_start);
    let core_start = out.bytes.len();
    out.bytes.extend_from_slice(text);
    out.map.extend(std::iter::repeat_n(run_start, text.len()));
    out.core = core_start..out.bytes.len();
    out.close(buf, end);
}

/// Whether `bytes` is text (see [`printable`]).
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    printable(bytes, 10)
}

/// `bytes` from `start`, widened back to the start of a UTF-8 character the boundary splits,
/// and without an incomplete character at the end: a line of a wrapped block judged as text
/// alone, where a line break of the encoding falls inside a character (an `é` split at the
/// end of a line made the line "binary", and the block stopped before its key; review of
/// session 27).
fn utf8_window(bytes: &[u8], start: usize) -> &[u8] {
    let mut from = start.min(bytes.len());
    while from > start.saturating_sub(3) && bytes.get(from).is_some_and(|b| b & 0xC0 == 0x80) {
        from -= 1;
    }
    let window = &bytes[from..];
    match std::str::from_utf8(window) {
        Err(e) if e.error_len().is_none() => &window[..e.valid_up_to()],
        _ => window,
    }
}

/// Whether a base64 line this wide may be one of a wrapped block: 40 columns and up (60 and
/// up until session 27), whole quads.
fn width_joins(width: usize) -> bool {
    width >= MIN_BASE64 && width % 4 == 0
}

/// Shortest run of hex digits read as hex (20 bytes of text).
const MIN_HEX: usize = 40;

/// Decodes the hex run `run` of `buf` into `out` with its line context, as [`base64`] does;
/// `None` unless it is hex of printable text. Hashes and ids (most hex runs) fail within
/// their first bytes.
fn hex(
    buf: &[u8],
    run: std::ops::Range<usize>,
    scratch: &mut Vec<u8>,
    out: &mut Decoded,
) -> Option<usize> {
    let text = &buf[run.clone()];
    let nibble = |b: u8| (b as char).to_digit(16).map_or(0, |d| d as u8);
    let byte = |p: &[u8]| nibble(p[0]) << 4 | nibble(p[1]);
    let is_text = |b: &u8| matches!(b, 0x20..=0x7e | b'\n' | b'\r' | b'\t');
    if !text.chunks_exact(2).take(8).map(byte).all(|b| is_text(&b)) {
        return None;
    }
    scratch.clear();
    scratch.extend(text.chunks_exact(2).map(byte));
    if !printable(scratch, 10) {
        return None;
    }
    out.clear();
    out.copy(buf, context_start(buf, run.start)..run.start);
    let core_start = out.bytes.len();
    for (k, &b) in scratch.iter().enumerate() {
        out.push(b, run.start + 2 * k);
    }
    out.core = core_start..out.bytes.len();
    out.close(buf, run.end);
    Some(run.end)
}

/// Transcodes UTF-16LE `bytes` to UTF-8 in place (what is not UTF-16 becomes U+FFFD); `at`
/// gets, for each UTF-8 byte, the offset in the UTF-16 bytes of the unit it came from.
fn widen(bytes: &mut Vec<u8>, at: &mut Vec<usize>) {
    let units = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
    let mut text = Vec::with_capacity(bytes.len() / 2);
    at.clear();
    let mut unit = 0;
    for c in char::decode_utf16(units) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut utf8 = [0u8; 4];
        let encoded = c.encode_utf8(&mut utf8);
        text.extend_from_slice(encoded.as_bytes());
        at.extend(std::iter::repeat_n(2 * unit, encoded.len()));
        unit += c.len_utf16();
    }
    *bytes = text;
}

/// `value`'s decoding when all of it is base64 (padding included) of printable text.
pub(crate) fn base64_text<'s>(value: &[u8], scratch: &'s mut Vec<u8>) -> Option<&'s [u8]> {
    let body = value.strip_suffix(b"==").or_else(|| value.strip_suffix(b"=")).unwrap_or(value);
    if body.len() < 8 || !body.iter().all(|&b| B64[b as usize]) {
        return None;
    }
    let engine = engine_for(body);
    scratch.clear();
    (engine.decode_vec(body, scratch).is_ok() && printable(scratch, 0))
        .then_some(scratch.as_slice())
}

/// The end of the base64 characters from `at`, at most `end`.
pub(crate) fn base64_end(buf: &[u8], at: usize, end: usize) -> usize {
    at + buf[at..end.max(at)].iter().take_while(|&&b| B64[b as usize]).count()
}

/// After a run ending at `end`: past its `=` padding.
fn pad_end(buf: &[u8], end: usize) -> usize {
    let pad = buf[end..].iter().take(2).take_while(|&&b| b == b'=').count();
    end + pad
}

/// The base64 run that starts the line after `end` (after indentation), if `end` is a line's end.
fn continuation(buf: &[u8], end: usize) -> Option<std::ops::Range<usize>> {
    let mut i = end;
    if buf.get(i) == Some(&b'\r') {
        i += 1;
    }
    if buf.get(i) != Some(&b'\n') {
        return None;
    }
    i += 1;
    while matches!(buf.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let start = i;
    while i < buf.len() && B64[buf[i] as usize] {
        i += 1;
    }
    (i > start).then_some(start..i)
}

/// Whether `bytes` is text: at most `bad_per_hundred` bytes in a hundred are neither
/// printable ASCII, whitespace nor part of valid UTF-8.
fn printable(bytes: &[u8], bad_per_hundred: usize) -> bool {
    let text = |b: &u8| matches!(b, 0x20..=0x7e | b'\n' | b'\r' | b'\t');
    let bad = match std::str::from_utf8(bytes) {
        Ok(s) => s.bytes().filter(|b| *b < 0x80 && !text(b)).count(),
        Err(_) => bytes.iter().filter(|b| !text(b)).count(),
    };
    bad * 100 <= bytes.len() * bad_per_hundred
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(text: &str) -> Vec<&str> {
        Base64Runs::new(text.as_bytes(), 0, text.len(), MIN_BASE64).map(|r| &text[r]).collect()
    }

    #[test]
    fn base64_runs_are_found_whole_and_only_when_long_enough() {
        let run = "Z2hwX0FCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla";
        assert_eq!(runs(&format!("a: {run}\nb: short")), [run]);
        // Every length from the minimum, at every offset against the probe stride.
        let long = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2";
        for len in MIN_BASE64..long.len() {
            for pad in 0..40 {
                let text = format!("{}{} x", "a ".repeat(pad), &long[..len]);
                assert_eq!(runs(&text), [&long[..len]], "len {len} pad {pad}");
            }
        }
        assert!(runs(&format!("x {}", &long[..MIN_BASE64 - 1])).is_empty());
        assert_eq!(runs(&format!("x {run}")), [run]);
        assert!(runs("the quick brown fox jumps over the lazy dog").is_empty());
        let text = "abc ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        // Starting inside a run skips it: it belongs to the chunk before.
        assert!(Base64Runs::new(text.as_bytes(), 6, text.len(), 20).next().is_none());
    }

    proptest::proptest! {
        /// The probing finder reports exactly the maximal runs a byte-by-byte scan finds.
        #[test]
        fn base64_runs_are_every_maximal_run_of_the_minimum(
            text in proptest::collection::vec(proptest::sample::select(b"aZ9_/ .".to_vec()), 0..400),
            weights in proptest::collection::vec(0usize..60, 1..12),
            min in proptest::sample::select(vec![12usize, 20, 32, 36, 40, 48]),
            from in 0usize..30,
        ) {
            // Long stretches of one class, so that runs of every length near `min` occur.
            let mut text = text;
            let mut at = 0;
            for w in weights {
                let end = (at + w).min(text.len());
                let fill = if w % 3 == 0 { b' ' } else { b'x' };
                text[at..end].fill(fill);
                at = end + w / 2;
                if at >= text.len() {
                    break;
                }
            }
            let from = from.min(text.len());
            let got: Vec<_> = Base64Runs::new(&text, from, text.len(), min).collect();
            let mut want = Vec::new();
            let mut i = from;
            // A run the start is inside belongs to the chunk before.
            if from > 0 && B64[text[from - 1] as usize] {
                while i < text.len() && B64[text[i] as usize] {
                    i += 1;
                }
            }
            while i < text.len() {
                if !B64[text[i] as usize] {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < text.len() && B64[text[i] as usize] {
                    i += 1;
                }
                if i - start >= min {
                    want.push(start..i);
                }
            }
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn base64_of_text_with_a_byte_order_mark_is_decoded() {
        use base64::Engine as _;
        let text = "\u{feff}DB_HOST=db.internal\nAPI_TOKEN=abcdef0123456789\n";
        let run = base64::engine::general_purpose::STANDARD.encode(text);
        assert!(run.starts_with("77u/"));
        let buf = format!("  env: {run}\n");
        let start = buf.find("77u/").expect("run");
        let (mut scratch, mut out) = (Vec::new(), Decoded::default());
        assert!(base64(
            buf.as_bytes(),
            start..start + run.trim_end_matches('=').len(),
            &mut scratch,
            &mut out
        )
        .is_some());
        assert!(String::from_utf8_lossy(&out.bytes).contains("API_TOKEN=abcdef"));
    }

    #[test]
    fn base64_decodes_printable_text_with_its_line() {
        let text = b"  DB_PASSWORD: c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy\n";
        let run = Base64Runs::new(text, 0, text.len(), 12).next().expect("a run");
        let mut out = Decoded::default();
        assert!(base64(text, run.clone(), &mut Vec::new(), &mut out).is_some());
        assert_eq!(out.bytes, b"  DB_PASSWORD: super-secret-password-42\n");
        assert_eq!(&out.bytes[out.core.clone()], b"super-secret-password-42");
        assert_eq!(out.source_span(out.core.start, out.core.end), (run.start, run.end));
        // Hex, one-case words and binary do not decode.
        for no in [
            "5d41402abc4b2a76b9719d911017c5925d41402a",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "AAECAwQFBgcICQoLDA0ODxAREhM",
        ] {
            let r = 0..no.len();
            assert!(base64(no.as_bytes(), r, &mut Vec::new(), &mut out).is_none(), "{no}");
        }
    }

    #[test]
    fn wrapped_base64_is_joined() {
        let plain = "ghp_token ".repeat(12);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&plain);
        // 76 (MIME), 64 (PEM) and 40 columns, the narrowest a run is found at.
        for width in [76, 64, 40] {
            let wrapped: Vec<&str> =
                encoded.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap()).collect();
            let text = format!("data: |\n    {}\n", wrapped.join("\n    "));
            let run =
                Base64Runs::new(text.as_bytes(), 0, text.len(), MIN_BASE64).next().expect("a run");
            let mut out = Decoded::default();
            // The end of the last line: the runs of the lines it joined are not decoded again.
            let last = text.trim_end().len();
            assert_eq!(base64(text.as_bytes(), run, &mut Vec::new(), &mut out), Some(last));
            assert_eq!(&out.bytes[out.core.clone()], plain.as_bytes(), "{width}");
        }
    }

    #[test]
    fn hex_of_text_is_decoded_and_hashes_are_not() {
        let plain = "token = ghp_0123456789abcdefghij";
        let encoded: String = plain.bytes().map(|b| format!("{b:02x}")).collect();
        let text = format!("key_hex: {encoded}\n");
        let start = text.find(&encoded).unwrap();
        let run = start..start + encoded.len();
        let mut out = Decoded::default();
        assert_eq!(base64(text.as_bytes(), run.clone(), &mut Vec::new(), &mut out), Some(run.end));
        assert_eq!(&out.bytes[out.core.clone()], plain.as_bytes());
        assert_eq!(out.source_span(out.core.start, out.core.end), (run.start, run.end));
        assert!(out.bytes.starts_with(b"key_hex: "), "the line is context");
        for no in [
            "5d41402abc4b2a76b9719d911017c5925d41402a",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "0000000000000000000000000000000000000000",
        ] {
            let r = 0..no.len();
            assert!(base64(no.as_bytes(), r, &mut Vec::new(), &mut out).is_none(), "{no}");
        }
    }

    /// Lexing literals that fail costs budget too, and a literal that fails settles the
    /// later quotes of its kind: a line of quotes that never close is read about once, not
    /// once per quote (the square of its length), whether it ends at a line end, at the end of
    /// the buffer, or runs past `MAX_ENCODED`.
    #[test]
    fn a_line_of_quotes_that_never_close_is_read_once() {
        for (line, close) in [
            ("token = ".to_owned() + &"\\'".repeat(4096) + "\n", None),
            ("token = ".to_owned() + &"\\'".repeat(4096), None),
            ("token = ".to_owned() + &"\\'".repeat(100_000) + "x\n", None),
            // Closed 150,000 bytes on: decoded in overlapping pieces, each read once.
            ("token = ".to_owned() + &"\\'".repeat(75_000) + "\\x41' tail\n", Some(150_013)),
        ] {
            let mut budget = usize::MAX;
            let mut out = Decoded::default();
            let mut cursor = Cursor::new(0);
            let mut pieces = Vec::new();
            while let Some(end) = next_literal_chain(
                line.as_bytes(),
                0..line.len(),
                &mut cursor,
                &mut out,
                &mut budget,
            ) {
                assert!(out.starts_only);
                let core = &out.bytes[out.core.clone()];
                pieces.push((end, core.len(), core.ends_with(b"''A"), out.map[out.core.start]));
            }
            let spent = usize::MAX - budget;
            match close {
                None => assert_eq!(pieces, []),
                Some(at) => {
                    // 75,000 escaped quotes and the `A`, in pieces of at most `MAX_ENCODED`
                    // decoded bytes, each starting `LITERAL_OVERLAP` decoded bytes (two bytes
                    // read each) before the previous one's end.
                    assert_eq!(pieces.last().map(|p| (p.0, p.2)), Some((at, true)), "{pieces:?}");
                    assert_eq!(pieces[0].3, 10, "{pieces:?}");
                    for pair in pieces.windows(2) {
                        assert_eq!(pair[1].3 + 2 * LITERAL_OVERLAP, pair[0].0, "{pieces:?}");
                    }
                    assert!(pieces.iter().all(|p| p.1 <= MAX_ENCODED), "{pieces:?}");
                }
            }
            assert!(spent < 4 * line.len(), "{} bytes: {spent}", line.len());
        }
        // A line that decodes is charged what it read, and leaves the rest.
        let line = "token = \"a\" + \"b\"";
        let mut budget = 100_000;
        assert!(next_literal_chain(
            line.as_bytes(),
            0..line.len(),
            &mut Cursor::new(0),
            &mut Decoded::default(),
            &mut budget
        )
        .is_some());
        assert!(budget > 100_000 - 2 * line.len(), "{budget}");
    }

    /// The first decoded chain on the line holding `at`.
    fn chain_of(text: &str, at: &str) -> Option<String> {
        let pos = text.find(at).expect("marker");
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
        let mut out = Decoded::default();
        next_literal_chain(
            text.as_bytes(),
            line_start..line_end,
            &mut Cursor::new(line_start),
            &mut out,
            &mut { usize::MAX },
        )?;
        Some(String::from_utf8(out.bytes[out.core.clone()].to_vec()).unwrap())
    }

    #[test]
    fn string_literals_are_unescaped_and_joined() {
        assert_eq!(
            chain_of(r#"    "token = \"abc\\ndef\"\n","#, "token").as_deref(),
            Some("token = \"abc\\ndef\"\n")
        );
        let java = "String k = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n    \"MIIEabc\\n\" +\n    \"-----END RSA PRIVATE KEY-----\";\n";
        assert_eq!(
            chain_of(java, "BEGIN").as_deref(),
            Some("-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----")
        );
        let notebook = "  \"source\": [\n    \"key = '''-----BEGIN KEY\\n\",\n    \"abc\\n\",\n    \"-----END KEY'''\"\n  ]";
        assert_eq!(
            chain_of(notebook, "BEGIN").as_deref(),
            Some("key = '''-----BEGIN KEY\nabc\n-----END KEY'''")
        );
        // A plain literal, or literals in a list, change nothing.
        assert_eq!(chain_of("x = \"token abc\"\n", "token"), None);
        assert_eq!(chain_of("[\"token\", \"b\"]\n", "token"), None);
        // Joined on one line, as `literal_candidate` sees them too (Lua's `..` included).
        for join in [" + ", " .. ", " ", " & "] {
            let line = format!("t = \"ghp_ab\"{join}\"cd\"\n");
            assert!(literal_candidate(line.as_bytes(), 0..line.len()), "{join:?}");
            assert_eq!(chain_of(&line, "ghp").as_deref(), Some("ghp_abcd"), "{join:?}");
        }
        assert!(!literal_candidate(b"f(\"a\", \"b\")\n", 0..10));
    }

    #[test]
    fn escapes_of_plain_characters_are_the_ones_that_hide_keywords() {
        let hides = |text: &str| hiding_escape(text.as_bytes(), text.find('\\').unwrap());
        for text in
            [r"\x67", r"\x5F", r"\u0070", r"\u{70}", r"\U00000070", r"\147", r"\041", r"s:\/\/"]
        {
            assert!(hides(text), "{text}");
        }
        for text in [
            r"\x1b[0m",
            r"\x00",
            r"\u00e9",
            r"\u003c",
            r"\x22",
            r"\x5c",
            r"\n",
            r"\0",
            r"\12",
            r"\1",
            r"\/",
            r"a\/b",
            r"\xZZ",
            r"\u{}",
            r"\u{110000}",
            r"\",
        ] {
            assert!(!hides(text), "{text}");
        }
        // Two-digit octal: `\55` and `\551` (`-`, then `1`) write `-`; `\40` is a space and
        // `\42` a quote, `\25` a control character, `\0` to `\3` start three-digit escapes.
        // C's hex escapes with leading zeros.
        assert!(hides(r"\x0067") && hides(r"\x00000067") && !hides(r"\x00") && !hides(r"\x001"));
        assert!(!hides(r"\x000100"));
        let short = |text: &[u8]| short_octal_escape(text, 0);
        assert!(short(br"\55x") && short(br"\551") && short(br"\72") && short(br"\75"));
        assert!(!short(br"\40") && !short(br"\42") && !short(br"\25") && !short(br"\055"));
        assert!(!short(br"\5") && !short(br"\58"));
        // The marker `:\/\/` starts at the colon.
        assert!(hiding_escape(br"https:\/\/x", 5) && !hiding_escape(br"a:\/b", 1));
        assert!(!hiding_escape(br"\u+067", 0) && !hiding_escape(br"\x+7", 0));
        assert!(percent_escape(b"ghp%5F", 3) && percent_escape(b"%67hp", 0));
        // Their values, as the literal layer decodes them.
        let chain = |text: &str| chain_of(&format!("v = \"{text}\"\n"), "v");
        for (text, value) in [
            (r"\147\150\160\137", "ghp_"),
            (r"\4001", " 01"),
            (r"\0abcdefghijklmnopqrstuvwxyz\012", "\0abcdefghijklmnopqrstuvwxyz\n"),
            (r"\u{67}\u{1F600}", "g\u{1F600}"),
            (r"\U00000067\x68", "gh"),
        ] {
            assert_eq!(chain(text).as_deref(), Some(value), "{text}");
        }
    }

    #[test]
    fn character_references_decode_in_place() {
        let hides = |text: &str| hiding_entity(text.as_bytes(), text.find('&').unwrap());
        let hiding =
            ["&#103;", "&#x67;", "&#X5F;", "&#0045;", "&#x00000041;", "&#103hp", "&lowbar;"];
        // Line ends too (a PEM key's, in an XML attribute).
        for text in hiding.into_iter().chain(["&#10;", "&#xA;", "&#13;"]) {
            assert!(hides(text), "{text}");
        }
        for text in ["&#9;", "&#x3c;", "&#34;", "&quot;", "&#xZZ;", "&#;", "&amp;", "&color=1"] {
            assert!(!hides(text), "{text}");
        }
        let text = b"v=\"&#103;&#x68;p&lowbar;&quot;&amp;&#x1F600;&bogus; &#\"";
        let mut out = Decoded::default();
        entities(text, 0..text.len(), &mut out);
        assert_eq!(String::from_utf8_lossy(&out.bytes), "v=\"ghp_\"&\u{1F600}&bogus; &#\"");
        assert_eq!((out.map[3], out.map[4], out.map[5]), (3, 9, 15));
    }

    #[test]
    fn percent_escapes_decode_in_place() {
        let text = b"u=https%3A%2F%2Fx%3Ftoken%3Dabc";
        let mut out = Decoded::default();
        assert!(
            percent_escape(text, 7) && !percent_escape(b"a%20b %d", 1) && !percent_escape(b"%d", 0)
        );
        percent(text, 0..text.len(), &mut out);
        assert_eq!(out.bytes, b"u=https://x?token=abc");
        let at = out.bytes.iter().position(|&b| b == b'?').unwrap();
        assert_eq!(out.map[at], 17);
    }
}
