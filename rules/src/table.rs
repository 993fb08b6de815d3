//! Tables: a value in a column named for a secret.
//!
//! Inventories, exports and wiki pages keep credentials in tables, where the name a value is
//! assigned to is its column's header, lines above it (`host,user,bmc_password` then
//! `esx01,root,<value>`). No line holds both, so no rule sees them together. From a
//! keyword hit on a table's header row, this layer writes each row's cell of a secret column
//! as an assignment (`password = "<value>"`) mapped to the cell, and the engine scans
//! that with every rule: the generic rules judge the value as they judge any assignment
//! (placeholders, references, words and hashes stay out), and a finding is located at the
//! cell.
//!
//! Dialects: delimited text (comma, semicolon, tab or `|`, with double-quoted cells), Markdown
//! pipe tables, MediaWiki tables (`! a !! b` headers, `| a || b` rows, `|-` between rows, a
//! cell a line too), HTML tables (`<th>`/`<td>` cells, a row on one line or several) and SQL's
//! `INSERT INTO t (a, password) VALUES (..), (..)` (the column list a header on one line, each
//! tuple a row).
//! Bounds: a header is one line of at most [`MAX_HEADER`] bytes (an HTML row, [`MAX_HTML_ROW`]
//! bytes either side of the hit) of at most [`MAX_COLUMNS`] cells, each a short name; a table ends at a
//! blank line, a row of another shape, [`MAX_ROWS`] rows or the buffer's end (a table longer
//! than a chunk is read as far as the chunk goes).

use crate::decode::Decoded;

const MAX_HEADER: usize = 4096;
/// How far before and after a hit an HTML header row's `<tr` and `</tr` are looked for.
const MAX_HTML_ROW: usize = 1024;
const MAX_COLUMNS: usize = 64;
const MAX_ROWS: usize = 10_000;
/// Longest header cell: a column's name, not prose.
const MAX_NAME: usize = 48;
/// Longest cell read as a value.
const MAX_VALUE: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Delimited(u8),
    Pipe,
    Wiki,
    Html,
}

/// The table whose header holds the keyword hit at `at`, decoded into `out` (its secret
/// columns' cells, row by row, as assignments); returns the end of what was read, or `None`
/// when `at` is not on a table's header or the table has no secret column.
pub(crate) fn decode(buf: &[u8], at: usize, out: &mut Decoded) -> Option<usize> {
    out.clear();
    let line = line_of(buf, at)?;
    if let Some(end) =
        sql_insert(buf, at, line.clone(), out).or_else(|| sql_create(buf, at, line.clone(), out))
    {
        return Some(end);
    }
    if !in_name_cell(buf, at) {
        return None;
    }
    let text = &buf[line.clone()];
    let dialect = dialect(text)?;
    if dialect == Dialect::Html {
        return html(buf, at, out);
    }
    if let Dialect::Delimited(d) = dialect {
        // A CSV header starts its line and does not end with its delimiter; an indented
        // line, or one ending `token,`, is code.
        if buf[line.start].is_ascii_whitespace() || text.trim_ascii().ends_with(&[d]) {
            return None;
        }
    }
    let header = cells(buf, line.clone(), dialect);
    let mut columns = secret_columns(buf, &header)?;
    if dialect == Dialect::Pipe {
        // A Markdown table's header is followed by its separator row.
        let next = line.end + 1
            ..memchr::memchr(b'\n', buf.get(line.end + 1..)?)
                .map_or(buf.len(), |i| line.end + 1 + i);
        if !separator_row(buf[next].trim_ascii()) {
            return None;
        }
    }
    let mut rows = 0;
    let mut end = line.end;
    let mut next = line.end + 1;
    // A wiki row's cells may come a line each; they are gathered until `|-` or `|}`.
    let mut gathered: Vec<std::ops::Range<usize>> = Vec::new();
    while next < buf.len() && rows < MAX_ROWS {
        let row = next..memchr::memchr(b'\n', &buf[next..]).map_or(buf.len(), |i| next + i);
        next = row.end + 1;
        let trimmed = trim(buf, row.clone());
        if trimmed.is_empty() {
            break;
        }
        let bytes = &buf[trimmed.clone()];
        match dialect {
            Dialect::Wiki => {
                if bytes.starts_with(b"|-") || bytes.starts_with(b"|}") {
                    emit(buf, &gathered, &mut columns, out);
                    gathered.clear();
                    rows += 1;
                    end = row.end;
                    if bytes.starts_with(b"|}") {
                        break;
                    }
                    continue;
                }
                if !bytes.starts_with(b"|") && !bytes.starts_with(b"!") {
                    break;
                }
                gathered.extend(cells(buf, row.clone(), dialect));
                end = row.end;
                continue;
            }
            Dialect::Pipe => {
                if !bytes.starts_with(b"|") {
                    break;
                }
                if separator_row(bytes) {
                    end = row.end;
                    continue;
                }
            }
            Dialect::Delimited(_) | Dialect::Html => {}
        }
        let cells = cells(buf, row.clone(), dialect);
        if dialect != Dialect::Pipe && cells.len() != header.len() {
            break;
        }
        emit(buf, &cells, &mut columns, out);
        rows += 1;
        end = row.end;
    }
    if dialect == Dialect::Wiki {
        emit(buf, &gathered, &mut columns, out);
    }
    out.finish(end);
    out.core = 0..out.bytes.len();
    (!out.bytes.is_empty()).then_some(end)
}

/// SQL's `INSERT INTO t (a, b, password) VALUES ('x', 'y', 'v'), (...);` with the hit in its
/// column list, on one line: the columns are the header, each parenthesised tuple a row (the
/// tuples may run over the lines below, up to the statement's `;`).
fn sql_insert(
    buf: &[u8],
    at: usize,
    line: std::ops::Range<usize>,
    out: &mut Decoded,
) -> Option<usize> {
    let open = line.start + memchr::memrchr(b'(', &buf[line.start..at])?;
    // `INSERT [IGNORE] INTO <table>`.
    let verb = verb_before(buf, line.start, open)?;
    if !ends_with_word(verb, b"into") || !verb.windows(6).any(|w| w.eq_ignore_ascii_case(b"insert"))
    {
        return None;
    }
    let close = open + memchr::memchr(b')', &buf[open..line.end])?;
    if close < at {
        return None;
    }
    let header: Vec<std::ops::Range<usize>> =
        split_top(buf, open + 1..close).into_iter().map(|c| strip_sql_quotes(buf, c)).collect();
    let mut columns = secret_columns(buf, &header)?;
    sql_rows(buf, close + 1, header.len(), &mut columns, out)
}

/// A `mysqldump`'s table: the hit in a column's definition of a `CREATE TABLE`, the rows in
/// the `INSERT INTO` that name that table after it (within [`SQL_INSERT_AFTER`] bytes).
/// Only a line shaped as a definition (`` `password` varchar(255) NOT NULL, ``) or a
/// one-line `CREATE TABLE t (..)` holding the hit looks back for the statement.
fn sql_create(
    buf: &[u8],
    at: usize,
    line: std::ops::Range<usize>,
    out: &mut Decoded,
) -> Option<usize> {
    let text = &buf[line.clone()];
    let trimmed = text.trim_ascii();
    let create = if trimmed.ends_with(b",") && column_definition(trimmed) {
        let window = &buf[at.saturating_sub(SQL_CREATE_BEFORE)..at];
        memchr::memmem::rfind(window, b"CREATE TABLE")
            .or_else(|| memchr::memmem::rfind(window, b"create table"))?
            + (at - window.len())
    } else {
        // One line, `CREATE TABLE [IF NOT EXISTS] <name> (` before its first parenthesis.
        let open = line.start + memchr::memchr(b'(', &buf[line.start..at])?;
        let verb = verb_before(buf, line.start, open)?;
        if !ends_with_word(verb, b"table") && !ends_with_word(verb, b"exists") {
            return None;
        }
        line.start + verb.windows(12).position(|w| w.eq_ignore_ascii_case(b"create table"))?
    };
    let mut p = skip_blank(buf, create + 12);
    for word in [&b"if"[..], b"not", b"exists"] {
        if buf.get(p..p + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word)) {
            p = skip_blank(buf, p + word.len());
        }
    }
    let name_start = p;
    while p < buf.len() && !buf[p].is_ascii_whitespace() && buf[p] != b'(' {
        p += 1;
    }
    let name = strip_sql_quotes(buf, name_start..p);
    p = skip_blank(buf, p);
    if buf.get(p) != Some(&b'(') || p > at {
        return None;
    }
    // The definitions, split at the commas outside parentheses and quotes.
    let mut defs = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, p + 1, p + 1);
    let limit = (p + SQL_CREATE_BEFORE).min(buf.len());
    loop {
        if i >= limit {
            return None;
        }
        match buf[i] {
            b'\'' => i += memchr::memchr(b'\'', buf.get(i + 1..limit)?)? + 1,
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b')' => {
                defs.push(trim(buf, start..i));
                break;
            }
            b',' if depth == 0 => {
                defs.push(trim(buf, start..i));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let close = i;
    if close < at {
        return None;
    }
    let header: Vec<std::ops::Range<usize>> = defs
        .iter()
        .filter(|d| {
            let first = buf[d.start..d.end].split(u8::is_ascii_whitespace).next().unwrap_or(b"");
            ![
                &b"primary"[..],
                b"key",
                b"unique",
                b"constraint",
                b"index",
                b"foreign",
                b"fulltext",
                b"check",
            ]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k))
        })
        .map(|d| {
            let end = buf[d.clone()]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(d.end, |k| d.start + k);
            strip_sql_quotes(buf, d.start..end)
        })
        .collect();
    let mut columns = secret_columns(buf, &header)?;
    // `INSERT INTO <name> VALUES`, the name quoted or not.
    let after = (close + SQL_INSERT_AFTER).min(buf.len());
    let mut from = close;
    while let Some(k) = memchr::memmem::find(&buf[from..after], b"INSERT INTO ") {
        let mut q = from + k + 12;
        from = q;
        let quoted = matches!(buf.get(q), Some(b'`' | b'"'));
        q += usize::from(quoted);
        if !buf[q..after].starts_with(&buf[name.clone()]) {
            continue;
        }
        q += name.len() + usize::from(quoted);
        return sql_rows(buf, q, header.len(), &mut columns, out);
    }
    None
}

/// A statement's words before its table's name, the last word before the parenthesis at
/// `open` (`INSERT INTO` of `INSERT INTO t (`); `None` when only one word precedes it.
fn verb_before(buf: &[u8], start: usize, open: usize) -> Option<&[u8]> {
    let head = buf[start..open].trim_ascii_end();
    Some(head[..head.iter().rposition(u8::is_ascii_whitespace)?].trim_ascii_end())
}

/// Whether `text` ends with `word`, in any case.
fn ends_with_word(text: &[u8], word: &[u8]) -> bool {
    text.len() >= word.len() && text[text.len() - word.len()..].eq_ignore_ascii_case(word)
}

/// Whether a line reads as the definition of a column that may hold a secret: a name, quoted
/// or not, a blank and a string or binary type (`` `password` varchar(255) ``), not code
/// (`password: String,`, Java's `String password,`).
fn column_definition(line: &[u8]) -> bool {
    let (quote, rest) = match line.first() {
        Some(&q @ (b'`' | b'"')) => (Some(q), &line[1..]),
        _ => (None, line),
    };
    let name = rest.iter().position(|&b| !name_byte(b) || b == b' ').unwrap_or(rest.len());
    let mut rest = &rest[name..];
    if let Some(q) = quote {
        let Some(stripped) = rest.strip_prefix(&[q]) else { return false };
        rest = stripped;
    }
    if name == 0 || !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return false;
    }
    let rest = rest.trim_ascii_start();
    let word = &rest[..rest.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(rest.len())];
    const TYPES: [&[u8]; 16] = [
        b"varchar",
        b"nvarchar",
        b"char",
        b"character",
        b"text",
        b"tinytext",
        b"mediumtext",
        b"longtext",
        b"blob",
        b"bytea",
        b"varbinary",
        b"binary",
        b"string",
        b"clob",
        b"json",
        b"jsonb",
    ];
    TYPES.iter().any(|t| word.eq_ignore_ascii_case(t))
}

/// How far before a column's definition its `CREATE TABLE` is looked for.
const SQL_CREATE_BEFORE: usize = 8 * 1024;
/// How far after a `CREATE TABLE` its `INSERT INTO` is looked for (a dump's `LOCK TABLES`
/// and `ALTER TABLE .. DISABLE KEYS` come between).
const SQL_INSERT_AFTER: usize = 64 * 1024;

/// `VALUES` at `p` (after blanks) and the tuples after it, each written as a row of
/// `columns`; returns where the last tuple read ends.
fn sql_rows(
    buf: &[u8],
    p: usize,
    width: usize,
    columns: &mut [Column],
    out: &mut Decoded,
) -> Option<usize> {
    let mut p = skip_blank(buf, p);
    if !buf.get(p..p + 6).is_some_and(|w| w.eq_ignore_ascii_case(b"values")) {
        return None;
    }
    p += 6;
    let mut end = p;
    let mut rows = 0;
    while rows < MAX_ROWS {
        p = skip_blank(buf, p);
        if buf.get(p) != Some(&b'(') {
            break;
        }
        let Some((cells, after)) = sql_tuple(buf, p + 1) else { break };
        if cells.len() != width {
            break;
        }
        emit(buf, &cells, columns, out);
        rows += 1;
        end = after;
        p = skip_blank(buf, after);
        if buf.get(p) != Some(&b',') {
            break;
        }
        p += 1;
    }
    out.finish(end);
    out.core = 0..out.bytes.len();
    (!out.bytes.is_empty()).then_some(end)
}

fn skip_blank(buf: &[u8], mut p: usize) -> usize {
    while p < buf.len() && buf[p].is_ascii_whitespace() {
        p += 1;
    }
    p
}

/// A column list's names split at its commas.
fn split_top(buf: &[u8], list: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = list.start;
    for i in list.clone() {
        if buf[i] == b',' {
            out.push(trim(buf, start..i));
            start = i + 1;
        }
    }
    out.push(trim(buf, start..list.end));
    out
}

/// A column's name without its quotes (`"a"`, `` `a` ``, `[a]`).
fn strip_sql_quotes(buf: &[u8], r: std::ops::Range<usize>) -> std::ops::Range<usize> {
    match (buf.get(r.start), r.end.checked_sub(1).and_then(|e| buf.get(e))) {
        (Some(b'"'), Some(b'"')) | (Some(b'`'), Some(b'`')) | (Some(b'['), Some(b']'))
            if r.len() >= 2 =>
        {
            r.start + 1..r.end - 1
        }
        _ => r,
    }
}

/// The values of a tuple whose `(` is just before `p`: a quoted value's cell is what its
/// quotes hold (`''` and `\'` escape a quote), another's is its text. Returns the cells and
/// where the tuple's `)` ends; `None` for a tuple cut by the buffer's end or too long.
fn sql_tuple(buf: &[u8], mut p: usize) -> Option<(Vec<std::ops::Range<usize>>, usize)> {
    let limit = (p + 64 * MAX_VALUE).min(buf.len());
    let mut cells = Vec::new();
    loop {
        p = skip_blank(buf, p);
        if p >= limit || cells.len() > MAX_COLUMNS {
            return None;
        }
        if buf[p] == b'\'' {
            let start = p + 1;
            let mut i = start;
            loop {
                if i >= limit {
                    return None;
                }
                match buf[i] {
                    b'\\' => i += 2,
                    b'\'' if buf.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break,
                    _ => i += 1,
                }
            }
            cells.push(start..i);
            p = i + 1;
        } else {
            let start = p;
            while p < limit && !matches!(buf[p], b',' | b')' | b'\n') {
                p += 1;
            }
            cells.push(trim(buf, start..p));
        }
        p = skip_blank(buf, p);
        match buf.get(p) {
            Some(b',') => p += 1,
            Some(b')') => return Some((cells, p + 1)),
            _ => return None,
        }
    }
}

/// A Markdown table's separator row (`|---|:--:|`).
fn separator_row(row: &[u8]) -> bool {
    row.starts_with(b"|")
        && row.contains(&b'-')
        && row.iter().all(|b| matches!(b, b'|' | b'-' | b':' | b' ' | b'\t' | b'+'))
}

/// Whether the hit at `at` lies in a run of a name's bytes between a cell's boundaries, as a
/// header cell's keyword does: most hits (`password = f(a, b)`) fail here, on a few bytes,
/// before their line is split.
fn in_name_cell(buf: &[u8], at: usize) -> bool {
    let boundary =
        |b: &u8| matches!(b, b',' | b';' | b'\t' | b'|' | b'!' | b'>' | b'<' | b'"' | b'\n');
    let back = at.saturating_sub(MAX_NAME + 1);
    let ahead = (at + MAX_NAME + 1).min(buf.len());
    let Some(start) =
        buf[back..at].iter().rposition(boundary).map(|i| back + i + 1).or((back == 0).then_some(0))
    else {
        return false;
    };
    let Some(end) = buf[at..ahead]
        .iter()
        .position(boundary)
        .map(|i| at + i)
        .or((ahead == buf.len()).then_some(ahead))
    else {
        return false;
    };
    buf[start..end].iter().all(|&b| name_byte(b) || b == b'\r')
}

/// The line around `at`, if no longer than a header may be.
fn line_of(buf: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let back = at.saturating_sub(MAX_HEADER);
    let start = match memchr::memrchr(b'\n', &buf[back..at]) {
        Some(i) => back + i + 1,
        None if back == 0 => 0,
        None => return None,
    };
    let ahead = (at + MAX_HEADER).min(buf.len());
    let end = memchr::memchr(b'\n', &buf[at..ahead]).map_or(ahead, |i| at + i);
    (end - start <= MAX_HEADER).then_some(start..end)
}

/// The table dialect a header line is written in.
fn dialect(line: &[u8]) -> Option<Dialect> {
    let trimmed = line.trim_ascii();
    if trimmed.starts_with(b"!") && memchr::memmem::find(trimmed, b"!!").is_some() {
        return Some(Dialect::Wiki);
    }
    // One pass: the delimiters outside double quotes, and whether a `<th` opens a cell.
    const DELIMITERS: [u8; 4] = [b'\t', b',', b';', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for (i, &b) in trimmed.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'<' if trimmed.get(i + 1..i + 3).is_some_and(|t| t.eq_ignore_ascii_case(b"th")) => {
                return Some(Dialect::Html);
            }
            _ if !quoted => {
                if let Some(k) = DELIMITERS.iter().position(|&d| d == b) {
                    counts[k] += 1;
                }
            }
            _ => {}
        }
    }
    if trimmed.starts_with(b"|") {
        return Some(Dialect::Pipe);
    }
    (0..DELIMITERS.len())
        .map(|k| (counts[k], DELIMITERS[k]))
        .filter(|&(n, _)| n > 0)
        .max()
        .map(|(_, d)| Dialect::Delimited(d))
}

/// A row's cells, trimmed, quotes around a delimited cell left out.
fn cells(buf: &[u8], row: std::ops::Range<usize>, dialect: Dialect) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let row = trim(buf, row);
    match dialect {
        Dialect::Delimited(d) => {
            let mut start = row.start;
            let mut quoted = false;
            for i in row.clone() {
                if buf[i] == b'"' {
                    quoted = !quoted;
                } else if buf[i] == d && !quoted {
                    out.push(unquote(buf, trim(buf, start..i)));
                    start = i + 1;
                }
            }
            out.push(unquote(buf, trim(buf, start..row.end)));
        }
        Dialect::Pipe => {
            let inner = row.start + 1..if buf[row.clone()].ends_with(b"|") && row.len() > 1 {
                row.end - 1
            } else {
                row.end
            };
            let mut start = inner.start;
            for i in inner.clone() {
                if buf[i] == b'|' && buf[i - 1] != b'\\' {
                    out.push(trim(buf, start..i));
                    start = i + 1;
                }
            }
            out.push(trim(buf, start..inner.end));
        }
        Dialect::Wiki => {
            // `! a !! b`, `| a || b`; a cell's attributes before a single `|` are left out.
            let (single, double): (&[u8], &[u8]) =
                if buf[row.start] == b'!' { (b"!", b"!!") } else { (b"|", b"||") };
            if !buf[row.clone()].starts_with(single) {
                return out;
            }
            let mut start = row.start + 1;
            let mut i = start;
            while i <= row.end {
                if i == row.end || buf[i..row.end].starts_with(double) {
                    let cell = start..i;
                    let cell = match memchr::memchr(b'|', &buf[cell.clone()]) {
                        Some(bar) if !buf[cell.clone()].contains(&b'[') => cell.start + bar + 1..i,
                        _ => cell,
                    };
                    out.push(trim(buf, cell));
                    i += double.len();
                    start = i;
                    continue;
                }
                i += 1;
            }
        }
        Dialect::Html => {}
    }
    out
}

fn trim(buf: &[u8], mut r: std::ops::Range<usize>) -> std::ops::Range<usize> {
    while r.start < r.end && buf[r.start].is_ascii_whitespace() {
        r.start += 1;
    }
    while r.end > r.start && buf[r.end - 1].is_ascii_whitespace() {
        r.end -= 1;
    }
    r
}

fn unquote(buf: &[u8], r: std::ops::Range<usize>) -> std::ops::Range<usize> {
    if r.len() >= 2 && buf[r.start] == b'"' && buf[r.end - 1] == b'"' {
        r.start + 1..r.end - 1
    } else {
        r
    }
}

/// What a secret column's values are assigned to in the decoded text: a name the generic
/// rules read as the column's kind.
#[derive(Clone, Debug)]
struct Column {
    index: usize,
    name: &'static str,
    /// The last value written, whose repetitions in the rows below are not written again.
    last: Vec<u8>,
}

impl Column {
    /// A row's `value` in this column (its `k`th byte read at `from(k)`), written as
    /// `name = "value"` and a newline, the name and the quotes mapped to the value's ends;
    /// not when the value is not worth reading or repeats the last one written.
    fn write(&mut self, value: &[u8], from: impl Fn(usize) -> usize, out: &mut Decoded) {
        if !worth_reading(value) || self.last == value {
            return;
        }
        self.last.clear();
        self.last.extend_from_slice(value);
        let (first, end) = (from(0), from(value.len() - 1) + 1);
        for &b in self.name.as_bytes().iter().chain(b" = \"") {
            out.push(b, first);
        }
        for (k, &b) in value.iter().enumerate() {
            out.push(b, from(k));
        }
        out.push(b'"', end);
        out.push(b'\n', end);
    }
}

/// Shortest cell read as a value: the rules that judge a value by its name take 8 characters
/// and up (a provider's token in a cell is found on the row itself, without the header).
const MIN_VALUE: usize = 8;

/// Whether a cell may hold a value a name gives meaning to: a word's length or more, no
/// blanks (prose, `see vault`), no double quote (the assignment's own).
fn worth_reading(value: &[u8]) -> bool {
    (MIN_VALUE..=MAX_VALUE).contains(&value.len())
        && !value.iter().any(|&b| b.is_ascii_whitespace() || b == b'"')
}

/// The header's secret columns, if every cell is a name and some column is a secret's.
fn secret_columns(buf: &[u8], header: &[std::ops::Range<usize>]) -> Option<Vec<Column>> {
    if header.len() < 2 || header.len() > MAX_COLUMNS {
        return None;
    }
    let mut columns = Vec::new();
    for (index, cell) in header.iter().enumerate() {
        let name = &buf[cell.clone()];
        let words = name.split(|&b| b == b' ').filter(|w| !w.is_empty()).count();
        let called = |i: usize| i > 0 && name[i - 1] != b' ';
        let first = name.first().copied().unwrap_or(b'0');
        if name.len() > MAX_NAME
            || !(first.is_ascii_alphabetic() || first == b'_')
            || words > 4
            || !name.iter().all(|&b| name_byte(b))
            || name.iter().enumerate().any(|(i, &b)| b == b'(' && called(i))
        {
            return None;
        }
        if let Some(name) = secret_name(name) {
            columns.push(Column { index, name, last: Vec::new() });
        }
    }
    (!columns.is_empty()).then_some(columns)
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-' | b'.' | b'/' | b'#' | b'(' | b')')
}

/// The kind of secret a column's name says its values are, as an assignment's name.
fn secret_name(name: &[u8]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&[u8]> =
        lower.split(|b| !b.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let has = |part: &[u8]| memchr::memmem::find(&lower, part).is_some();
    // Columns about a secret, not holding one.
    const NOT: &[&[u8]] = &[
        b"hash",
        b"hashed",
        b"digest",
        b"crypt",
        b"encrypted",
        b"salt",
        b"type",
        b"expires",
        b"expiry",
        b"expiration",
        b"expire",
        b"date",
        b"time",
        b"at",
        b"length",
        b"len",
        b"policy",
        b"hint",
        b"id",
        b"ids",
        b"name",
        b"url",
        b"uri",
        b"path",
        b"file",
        b"reset",
        b"rotated",
        b"rotation",
        b"last",
        b"created",
        b"updated",
        b"age",
        b"count",
        b"required",
        b"status",
        b"scope",
        b"scopes",
        b"masked",
        b"prefix",
        b"suffix",
        b"fingerprint",
        b"label",
        b"description",
        b"desc",
        b"note",
        b"notes",
        b"comment",
        b"owner",
        b"location",
        b"vault",
        b"ref",
        b"reference",
        b"env",
        b"variable",
        b"var",
        b"field",
        b"format",
        b"changed",
        b"set",
        b"strength",
        b"manager",
        b"used",
        b"usage",
        b"enabled",
        b"where",
        b"stored",
        b"store",
        b"source",
        b"kind",
        b"public",
        b"min",
        b"max",
        b"session",
        b"csrf",
        b"nonce",
        b"request",
        b"trace",
        b"correlation",
    ];
    if words.iter().any(|w| NOT.contains(w)) || has(b"_id") || has(b"hash") {
        return None;
    }
    if has(b"passw") || has(b"passphrase") || has(b"pwd") || has(b"kennwort") {
        return Some("password");
    }
    if words.iter().any(|w| matches!(*w, b"pass" | b"pw" | b"pin")) {
        return Some("password");
    }
    if has(b"secret") {
        return Some("client_secret");
    }
    if has(b"token") {
        return Some("api_token");
    }
    let key = words.last().is_some_and(|w| *w == b"key") || has(b"apikey") || has(b"accesskey");
    (key && words.len() >= 2).then_some("api_key")
}

/// Each secret column's cell of a row, written `name = "value"` and mapped to the cell.
fn emit(buf: &[u8], cells: &[std::ops::Range<usize>], columns: &mut [Column], out: &mut Decoded) {
    for column in columns {
        let Some(cell) = cells.get(column.index) else { continue };
        // A Markdown code span or emphasis around the value is not part of it.
        let mut cell = cell.clone();
        while cell.len() >= 2
            && matches!(buf[cell.start], b'`' | b'*')
            && buf[cell.end - 1] == buf[cell.start]
        {
            cell = cell.start + 1..cell.end - 1;
        }
        column.write(&buf[cell.clone()], |k| cell.start + k, out);
    }
}

/// An HTML table from the `<tr>` around `at`: header cells `<th>`, rows of `<td>` cells up to
/// `</table>`. A cell's text is what its tags enclose, with the five XML entities decoded
/// (each decoded byte mapped to its reference).
fn html(buf: &[u8], at: usize, out: &mut Decoded) -> Option<usize> {
    // Not the header's whole reach: each line of `<th>` cells is looked at, and a look of
    // 8 KiB a line would cost a file of such lines 200 times its size.
    let back = at.saturating_sub(MAX_HTML_ROW);
    let row_start = back + rfind_ci(&buf[back..at], b"<tr")?;
    let ahead = (at + MAX_HTML_ROW).min(buf.len());
    let row_end = at + find_ci(&buf[at..ahead], b"</tr")?;
    let header: Vec<_> = html_cells(buf, row_start..row_end);
    let names: Vec<_> = header.iter().map(|c| trim(buf, c.clone())).collect();
    let mut columns = secret_columns(buf, &names)?;
    let table_end = find_ci(&buf[row_end..], b"</table").map_or(buf.len(), |i| row_end + i);
    let mut next = row_end;
    let mut rows = 0;
    let mut decoded = Vec::new();
    while rows < MAX_ROWS {
        let Some(open) = find_ci(&buf[next..table_end], b"<tr") else { break };
        let start = next + open;
        let end = find_ci(&buf[start..table_end], b"</tr").map_or(table_end, |i| start + i);
        let cells = html_cells(buf, start..end);
        for column in &mut columns {
            let Some(cell) = cells.get(column.index) else { continue };
            decoded.clear();
            text_of(buf, cell.clone(), &mut decoded);
            let value: Vec<u8> = decoded.iter().map(|&(b, _)| b).collect();
            let value = value.trim_ascii();
            let lead = decoded.iter().take_while(|(b, _)| b.is_ascii_whitespace()).count();
            column.write(value, |k| decoded[lead + k].1, out);
        }
        rows += 1;
        next = end;
    }
    out.finish(next);
    out.core = 0..out.bytes.len();
    (!out.bytes.is_empty()).then_some(next)
}

/// The cells (`<th …>…` or `<td …>…`, to the next cell or the row's end) of an HTML row.
fn html_cells(buf: &[u8], row: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut starts = Vec::new();
    let mut i = row.start;
    while let Some(k) = find_ci(&buf[i..row.end], b"<t") {
        let tag = i + k;
        let kind = buf.get(tag + 2).map(u8::to_ascii_lowercase);
        let after = buf.get(tag + 3).copied().unwrap_or(b'>');
        if matches!(kind, Some(b'h' | b'd')) && matches!(after, b'>' | b' ' | b'\t' | b'\n') {
            if let Some(close) = memchr::memchr(b'>', &buf[tag..row.end]) {
                starts.push(tag + close + 1);
            }
        }
        i = tag + 2;
    }
    let mut cells = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let limit = starts.get(n + 1).map_or(row.end, |&s| s);
        let end = find_ci(&buf[start..limit], b"</t").map_or(limit, |k| start + k);
        cells.push(start..end.max(start));
    }
    cells
}

/// A cell's text: tags left out, `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` decoded.
fn text_of(buf: &[u8], cell: std::ops::Range<usize>, out: &mut Vec<(u8, usize)>) {
    let mut i = cell.start;
    while i < cell.end {
        match buf[i] {
            b'<' => {
                i = memchr::memchr(b'>', &buf[i..cell.end]).map_or(cell.end, |k| i + k + 1);
            }
            b'&' => {
                let rest = &buf[i..cell.end];
                let entity = [
                    (&b"&amp;"[..], b'&'),
                    (b"&lt;", b'<'),
                    (b"&gt;", b'>'),
                    (b"&quot;", b'"'),
                    (b"&apos;", b'\''),
                ]
                .into_iter()
                .find(|(name, _)| rest.starts_with(name));
                match entity {
                    Some((name, byte)) => {
                        out.push((byte, i));
                        i += name.len();
                    }
                    None => {
                        out.push((b'&', i));
                        i += 1;
                    }
                }
            }
            b'\n' | b'\r' | b'\t' => {
                out.push((b' ', i));
                i += 1;
            }
            b => {
                out.push((b, i));
                i += 1;
            }
        }
    }
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn rfind_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str, keyword: &str) -> Option<String> {
        let at = text.find(keyword).expect("keyword in the text");
        let mut out = Decoded::default();
        decode(text.as_bytes(), at, &mut out)?;
        assert_eq!(out.map.len(), out.bytes.len() + 1);
        Some(String::from_utf8(out.bytes).expect("utf-8"))
    }

    #[test]
    fn secret_columns_of_each_dialect_are_written_as_assignments() {
        let csv = "host,bmc_user,bmc_password,rack\nesx01,root,lOsQK5fCzs9E,R14\n\"esx02\",root,\"a,b\"\"c\",R15\n\nother,x\n"; // leakgate:allow (test fixture)
        assert_eq!(decoded(csv, "password").as_deref(), Some("password = \"lOsQK5fCzs9E\"\n")); // leakgate:allow (test fixture)
        let md = "| Host | User | Password |\n|------|:----:|---|\n| db1 | app | `Qx7#mLz2Wv9k` |\n| db2 | ro | Tiger@1236* |\n\nText.\n"; // leakgate:allow (test fixture)
        assert_eq!(
            decoded(md, "Password").as_deref(),
            Some("password = \"Qx7#mLz2Wv9k\"\npassword = \"Tiger@1236*\"\n") // leakgate:allow (test fixture)
        );
        let wiki = "{| class=\"wikitable\"\n! Host !! User !! Password !! Notes\n|-\n| pg-a || ro || 6DbLvfctMN5SXZ || replica\n|-\n| pg-b\n| bo\n| Tiger@1236*\n| ui\n|}\n"; // leakgate:allow (test fixture)
        assert_eq!(
            decoded(wiki, "Password").as_deref(),
            Some("password = \"6DbLvfctMN5SXZ\"\npassword = \"Tiger@1236*\"\n") // leakgate:allow (test fixture)
        );
        let html = "<table><tbody>\n<tr><th>System</th><th>User</th><th>Password</th></tr>\n<tr><td>Payouts</td><td>team</td><td>Cobalt!308.&amp;RvKP</td></tr>\n<tr>\n<td>Portal</td>\n<td>j</td>\n<td><em>see vault</em></td>\n</tr>\n</tbody></table>\n"; // leakgate:allow (test fixture)
        assert_eq!(
            decoded(html, "Password").as_deref(),
            Some("password = \"Cobalt!308.&RvKP\"\n") // leakgate:allow (test fixture)
        );
        let tsv = "name\tclient_secret\tscopes\napp\tO8f1azVo6hA8hCx4YVJk\tread\n"; // leakgate:allow (test fixture)
        assert_eq!(
            decoded(tsv, "secret").as_deref(),
            Some("client_secret = \"O8f1azVo6hA8hCx4YVJk\"\n") // leakgate:allow (test fixture)
        );
        let sql = "INSERT INTO service_accounts (name, `client_id`, client_secret) VALUES\n('warehouse', 'whs-01', 'zmQNvS2E4OjZQr657Ck5'),\n('it''s', 'lbl-01', 'c4caf01e15633d9b50de') ;\n"; // leakgate:allow (test fixture)
        assert_eq!(
            decoded(sql, "secret").as_deref(),
            Some("client_secret = \"zmQNvS2E4OjZQr657Ck5\"\nclient_secret = \"c4caf01e15633d9b50de\"\n") // leakgate:allow (test fixture)
        );
        let one = "INSERT INTO public.smtp_settings (tenant, host, username, password) VALUES ('elmwood', 'smtp.zoho.eu', 'c@e.example', 'Summer#331*');\n"; // leakgate:allow (test fixture)
        let want = "password = \"Summer#331*\"\n"; // leakgate:allow (test fixture)
        assert_eq!(decoded(one, "password").as_deref(), Some(want));
        let dump = "CREATE TABLE `users` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `login` varchar(64) NOT NULL,\n  `password` varchar(255) NOT NULL,\n  `note` enum('a,b','c') DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\nLOCK TABLES `users` WRITE;\nINSERT INTO `users` VALUES (1,'admin','$2b$12$3yc1kfnZMSTO9y41Mh1VP8','a,b'),\n(2,'svc','M0h6MYCd8RzIKj2DuR44','c');\n"; // leakgate:allow (test fixture)
        let want =
            "password = \"$2b$12$3yc1kfnZMSTO9y41Mh1VP8\"\npassword = \"M0h6MYCd8RzIKj2DuR44\"\n"; // leakgate:allow (test fixture)
        assert_eq!(decoded(dump, "password").as_deref(), Some(want));
        let inline = "CREATE TABLE `integrations` (`name` varchar(64), `api_key` varchar(255), `api_secret` varchar(255));\nINSERT INTO `integrations` VALUES ('ship','d9a296be36a47408adcb','5159353761b46b94fdd5');\n"; // leakgate:allow (test fixture)
        let want = "api_key = \"d9a296be36a47408adcb\"\nclient_secret = \"5159353761b46b94fdd5\"\n"; // leakgate:allow (test fixture)
        assert_eq!(decoded(inline, "secret").as_deref(), Some(want));
    }

    #[test]
    fn lines_that_are_not_a_header_of_secret_columns_are_not_tables() {
        // Code, prose, and columns about secrets rather than holding them.
        for (text, keyword) in [
            ("check(password, hash)\nfoo(a, b)\n", "password"),
            ("The password, if any, is read from the vault.\nSo, it is, not here.\n", "password"),
            ("if check(password, hash) {\nfoo(a, b)\n", "password"),
            ("| Name | Password |\n| a | Xq7#mLz2Wv9k |\n", "Password"),
            ("    token,\n    factory.clone(),\n", "token"),
            ("fn f(\n    token,\n    Qx7mLz2WvKp9x,\n", "token"),
            ("PL_tokenbuf|5.003007|5.003007|\nGv_AMupdate|5.011000|5.011000|u\n", "token"),
            ("secret,\nQx7mLz2WvKp9x,\n", "secret"),
            ("user,,password\nbob,,Qx7mLz2WvKp9x\n", "password"),
            ("user,password_hash,created_at\nbob,$2b$12$abc,2024\n", "password"),
            ("| Name | Password policy | Notes |\n|---|---|---|\n| a | b | c |\n", "Password"),
            ("| Parameter | Description | Default |\n|---|---|---|\n| `db.password` | the password | `x` |\n", "password"),
            ("password\n", "password"),
            ("db.insert_into(users, (name, password))\n", "password"),
            ("INSERT INTO users (name, password_hash) VALUES ('bob', '$2b$12$Qx7mLz2WvKp9x');\n", "password"),
            ("INSERT INTO users (name, password) SELECT name, pw FROM old;\n", "password"),
            ("INSERT INTO users (name, password) VALUES ('bob');\n", "password"),
            ("struct User {\n    name: String,\n    password: String,\n}\n", "password"),
            ("CREATE TABLE users (\n  name text,\n  password text,\n  x int\n);\nSELECT 1;\n", "password"),
        ] {
            assert_eq!(decoded(text, keyword), None, "{text}");
        }
    }

    #[test]
    fn cells_map_back_to_where_they_are() {
        let csv = "user;passwort\nbob;Xq7#mLz2Wv9k\n";
        let at = csv.find("passwort").expect("keyword");
        let mut out = Decoded::default();
        decode(csv.as_bytes(), at, &mut out).expect("a table");
        let value = csv.find("Xq7").expect("value");
        let first = out.bytes.iter().position(|&b| b == b'X').expect("value decoded");
        assert_eq!(out.map[first], value);
        let name = out.map[0];
        assert_eq!(name, value, "the name is located at the cell");
    }
}
