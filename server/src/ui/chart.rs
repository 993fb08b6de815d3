//! The overview's charts as inline SVG (no script, no style attributes: the page's content
//! security policy allows neither). Labels go through maud, so they are escaped like the rest.

use maud::{html, Markup};

/// Vertical bars, one per `(label, value)`; every seventh label is written under its bar.
pub fn columns(points: &[(String, i64)], title: &str) -> Markup {
    const W: i64 = 720;
    const H: i64 = 180;
    const BASE: i64 = 150;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let n = i64::try_from(points.len()).unwrap_or(1).max(1);
    let slot = (W - 40) / n;
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) {
            title { (title) }
            line x1="30" y1=(BASE) x2=(W) y2=(BASE) stroke="#999" stroke-width="1" {}
            text x="0" y="14" class="axis" { (max) }
            text x="0" y=(BASE) class="axis" { "0" }
            @for (i, (label, value)) in points.iter().enumerate() {
                @let x = 34 + slot * i64::try_from(i).unwrap_or(0);
                @let h = (BASE - 10) * value / max;
                rect x=(x) y=(BASE - h) width=((slot - 2).max(1)) height=(h) fill="#3b6ea8" {
                    title { (label) ": " (value) }
                }
                @if i % 7 == 0 {
                    text x=(x) y=(BASE + 16) class="axis" { (label) }
                }
            }
        }
    }
}

/// Horizontal paired bars: per name, pushes blocked and pushes bypassed.
pub fn paired(rows: &[(String, i64, i64)], title: &str) -> Markup {
    const W: i64 = 720;
    const LABEL: i64 = 260;
    const ROW: i64 = 26;
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(0).max(1);
    let n = i64::try_from(rows.len()).unwrap_or(0);
    let h = 30 + ROW * n.max(1);
    let bar = |v: i64| (W - LABEL - 50) * v / max;
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {h}")) role="img" aria-label=(title) {
            title { (title) }
            rect x=(LABEL) y="4" width="10" height="10" fill="#b03a2e" {}
            text x=(LABEL + 14) y="13" class="axis" { "blocked" }
            rect x=(LABEL + 90) y="4" width="10" height="10" fill="#d4a017" {}
            text x=(LABEL + 104) y="13" class="axis" { "bypassed" }
            @if rows.is_empty() {
                text x="0" y="44" class="axis" { "no pushes blocked or bypassed in this window" }
            }
            @for (i, (name, blocked, bypassed)) in rows.iter().enumerate() {
                @let y = 24 + ROW * i64::try_from(i).unwrap_or(0);
                text x="0" y=(y + 14) class="label" { (shorten(name, 40)) }
                rect x=(LABEL) y=(y + 2) width=(bar(*blocked)) height="9" fill="#b03a2e" {
                    title { (name) ": " (blocked) " blocked" }
                }
                rect x=(LABEL) y=(y + 12) width=(bar(*bypassed)) height="9" fill="#d4a017" {
                    title { (name) ": " (bypassed) " bypassed" }
                }
                text x=(LABEL + bar(*blocked.max(bypassed)) + 4) y=(y + 16) class="axis" {
                    (blocked) " / " (bypassed)
                }
            }
        }
    }
}

/// `text` cut to `max` characters, with an ellipsis (on a character boundary).
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
