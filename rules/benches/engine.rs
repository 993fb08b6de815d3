//! Engine benchmarks: single-threaded throughput on ordinary source code, and start-up cost.
//!
//! The corpus is `LEAKGATE_BENCH_CORPUS` (a directory) or, by default, the crate sources in
//! the local cargo registry, which every machine that built leakgate has. Up to 16 MiB of
//! text files are concatenated in sorted path order, so runs on one machine compare.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leakgate_rules::{is_binary, RuleSet, ScanOptions, Source};

const LIMIT: usize = 16 << 20;

fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LEAKGATE_BENCH_CORPUS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("HOME or CARGO_HOME is set");
    home.join("registry").join("src")
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}

/// The corpus's text files, up to [`LIMIT`] bytes in all.
fn corpus_files() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    collect(&corpus_dir(), &mut files);
    let mut out = Vec::new();
    let mut total = 0;
    for file in files {
        let Ok(mut bytes) = std::fs::read(&file) else { continue };
        if is_binary(&bytes) {
            continue;
        }
        bytes.truncate(LIMIT - total);
        total += bytes.len();
        out.push(bytes);
        if total >= LIMIT {
            break;
        }
    }
    assert!(total > 1 << 20, "benchmark corpus too small: set LEAKGATE_BENCH_CORPUS");
    out
}

fn corpus() -> Vec<u8> {
    corpus_files().concat()
}

/// The corpus file by file, as `scan` and the hook see it (each file its own input, with
/// its own decoding budget), with the decoding layers on and off: what decoding costs.
fn files(c: &mut Criterion) {
    let files = corpus_files();
    let total: usize = files.iter().map(Vec::len).sum();
    let rules = RuleSet::builtin();
    let mut group = c.benchmark_group("files");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(20);
    for decode in [true, false] {
        let mut scanner = rules.scanner(ScanOptions { decode, ..ScanOptions::default() });
        for file in &files {
            scanner.scan_bytes(file, Source::default(), |_| {});
        }
        let name = if decode { "decode" } else { "no-decode" };
        group.bench_with_input(BenchmarkId::new("scan_bytes", name), &files, |b, files| {
            b.iter(|| {
                let mut n = 0;
                for file in files {
                    scanner.scan_bytes(file, Source { path: Some("corpus") }, |_| n += 1);
                }
                n
            })
        });
    }
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let text = corpus();
    let rules = RuleSet::builtin();
    // Compile the regexes the corpus needs before measuring.
    let mut scanner = rules.scanner(ScanOptions::default());
    scanner.scan_bytes(&text, Source::default(), |_| {});
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    group.bench_with_input(BenchmarkId::new("scan_bytes", "source-16MiB"), &text, |b, text| {
        b.iter(|| {
            let mut n = 0;
            scanner.scan_bytes(text, Source { path: Some("corpus") }, |_| n += 1);
            n
        })
    });
    // The keyword pass alone: the bitmap prefilter and the automaton's confirmations.
    group.bench_with_input(BenchmarkId::new("keyword_pass", "source-16MiB"), &text, |b, text| {
        b.iter(|| rules.keyword_hits(text))
    });
    group.bench_with_input(BenchmarkId::new("scan_reader", "source-16MiB"), &text, |b, text| {
        b.iter(|| {
            let mut n = 0;
            scanner
                .scan_reader(text.as_slice(), Source { path: Some("corpus") }, |_| n += 1)
                .expect("in-memory reads do not fail");
            n
        })
    });
    group.finish();
}

/// 1 MiB of AWS key ids on one line, and the same split into lines: the cost per blob must
/// be linear in its size whatever the line length and hit density (issue 12, item 7: the
/// single line used to take ~20 s).
fn dense(c: &mut Criterion) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut line = Vec::with_capacity(1 << 20);
    while line.len() < 1 << 20 {
        line.extend_from_slice(b"AKIA");
        for _ in 0..16 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            line.push(ALPHABET[(state % 32) as usize]);
        }
        line.push(b' ');
    }
    let lines: Vec<u8> = line.iter().map(|&b| if b == b' ' { b'\n' } else { b }).collect();
    let rules = RuleSet::builtin();
    let mut group = c.benchmark_group("dense");
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.sample_size(10);
    for (name, input) in [("one-line-1MiB", &line), ("lines-1MiB", &lines)] {
        for flag in [false, true] {
            let options = ScanOptions { flag_inline_allows: flag, ..ScanOptions::default() };
            let mut scanner = rules.scanner(options);
            let id = format!("{name}{}", if flag { "-hook" } else { "" });
            group.bench_with_input(BenchmarkId::new("aws_key_ids", id), input, |b, input| {
                b.iter(|| {
                    let mut n = 0;
                    scanner.scan_bytes(input, Source { path: Some("ids") }, |_| n += 1);
                    n
                })
            });
        }
    }
    group.finish();
}

fn startup(c: &mut Criterion) {
    c.bench_function("ruleset_builtin", |b| b.iter(RuleSet::builtin));
    // Every regex of the catalog, as a process that wakes every rule pays once (a scan compiles
    // a rule's regex only once a window holds the rule's literals).
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("catalog", |b| {
        b.iter(|| RuleSet::builtin().compile_all().expect("the catalog compiles"))
    });
    group.finish();
}

/// Inputs a pusher crafts to make the scan slow (the hook fails open at its budget by
/// default): the cost must follow the input's size, not its square.
fn crafted(c: &mut Criterion) {
    use base64::Engine as _;
    let set = RuleSet::builtin();
    let mut inputs: Vec<(&str, Vec<u8>)> = Vec::new();
    // Quotes that never close, a keyword every 4 KiB, no line break (3.9 s for 100 KB when
    // failed literals were not charged to the decode budget).
    inputs.push((
        "open-quotes",
        ("token = ".to_owned() + &"\\'".repeat(2040)).repeat(50).into_bytes(),
    ));
    // Wrapped base64 of text, 76-character lines: each line starts a block of up to 1024.
    let text: String = (0..1_500_000u32).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let wrapped: Vec<&str> =
        encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("base64")).collect();
    inputs.push(("wrapped-base64", wrapped.join("\n").into_bytes()));
    // The same at 40 columns, a line that is no base64 after every 1,000: a join that failed
    // at that line was tried again from each line before it (quadratic, review of session 27).
    let narrow: Vec<&str> =
        encoded.as_bytes().chunks(40).map(|c| std::str::from_utf8(c).expect("base64")).collect();
    let blocks: Vec<String> =
        narrow.chunks(1000).map(|b| b.join("\n") + "\nend-of-block").collect();
    inputs.push(("wrapped-base64-40-blocks", blocks.join("\n").into_bytes()));
    // Short UTF-16 strings packed in binary data: one scan per piece, not per string.
    let mut packed = b"MZ\x90\x00".to_vec();
    for i in 0..60_000u32 {
        packed.extend(format!("res{i:013}").encode_utf16().flat_map(u16::to_le_bytes));
        packed.extend([0, 0, 0x90, 0x01]);
    }
    inputs.push(("packed-utf16-strings", packed));
    // Strings holding escaped strings, a keyword in each, on one 1.4 MB line: the most
    // decoding work a byte can ask for (two layers, each with its context).
    inputs.push((
        "escaped-in-escaped",
        format!("x = {}\n", r#""token\"A\"";"#.repeat(100_000)).into_bytes(),
    ));
    let mut group = c.benchmark_group("crafted");
    group.sample_size(10);
    for (name, input) in &inputs {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            let mut scanner = set.scanner(ScanOptions::default());
            b.iter(|| scanner.scan_bytes(input, Source::default(), |_| {}));
        });
    }
    group.finish();
}

criterion_group!(benches, throughput, files, dense, startup, crafted);
criterion_main!(benches);
