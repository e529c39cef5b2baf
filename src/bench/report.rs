//! The results table (plain text or Markdown) and the JSON file.

use std::fmt::Write as _;

use super::ops::Unit;

/// The comparison module's figure for a row.
#[derive(Debug, Clone)]
pub enum Other {
    /// No comparison module.
    Absent,
    /// The median.
    Value(f64),
    /// Not measured, and why.
    NotAvailable(String),
}

/// One line of the final table.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The row's name.
    pub name: String,
    /// Threads used.
    pub threads: usize,
    /// The unit of the figures.
    pub unit: Unit,
    /// Module A's median.
    pub a: f64,
    /// Module B's median.
    pub b: Other,
    /// The in-process reference's median.
    pub reference: Option<f64>,
}

impl RowResult {
    /// A / B.
    pub fn ratio(&self) -> Option<f64> {
        match self.b {
            Other::Value(b) if b > 0.0 => Some(self.a / b),
            _ => None,
        }
    }

    /// A / reference.
    pub fn ref_ratio(&self) -> Option<f64> {
        self.reference.filter(|r| *r > 0.0).map(|r| self.a / r)
    }
}

/// What the table's header says about the run.
pub struct Legend {
    /// Module A and its token.
    pub a: String,
    /// Module B and its token.
    pub b: Option<String>,
    /// Threads of the multi-thread rows.
    pub threads: usize,
    /// Seconds per row per round.
    pub seconds: f64,
    /// Rounds.
    pub rounds: u32,
}

/// A figure with about four significant digits and thousands separators.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v >= 1000.0 {
        super::ops::thousands(v.round() as usize)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn fmt_unit(v: f64, unit: Unit) -> String {
    match unit {
        Unit::OpsPerSec => fmt_value(v),
        Unit::Scaling if v.is_finite() => format!("{v:.2}x"),
        other => format!("{} {}", fmt_value(v), other.name()),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
}

const HEADER: [&str; 7] = [
    "Row",
    "Threads",
    "A ops/s",
    "B ops/s",
    "A/B",
    "Reference ops/s",
    "A/reference",
];

fn cells(r: &RowResult) -> [String; 7] {
    let b = match &r.b {
        Other::Absent => "-".to_string(),
        Other::Value(v) => fmt_unit(*v, r.unit),
        Other::NotAvailable(_) => "n/a".to_string(),
    };
    [
        r.name.clone(),
        r.threads.to_string(),
        fmt_unit(r.a, r.unit),
        b,
        fmt_ratio(r.ratio()),
        r.reference
            .map_or_else(|| "-".to_string(), |v| fmt_unit(v, r.unit)),
        fmt_ratio(r.ref_ratio()),
    ]
}

fn legend_lines(l: &Legend) -> Vec<String> {
    let mut v = vec![format!("A: {}", l.a)];
    if let Some(b) = &l.b {
        v.push(format!("B: {b}"));
    }
    v.push(format!(
        "Median of {} round{} of {} s per row; multi-thread rows use {} threads, one session \
         each. Reference: the same operation on the same key in-process through AWS-LC, with as many \
         threads as the row. \
         Figures are ops/s (higher is better) unless marked ms or ms/op (lower is better); \
         the ratios divide the figures, so above 1 means A is faster for ops/s and slower for ms.",
        l.rounds,
        if l.rounds == 1 { "" } else { "s" },
        l.seconds,
        l.threads
    ));
    v
}

fn notes(rows: &[RowResult]) -> Vec<String> {
    let mut v = Vec::new();
    for r in rows {
        if let Other::NotAvailable(why) = &r.b {
            let line = format!("n/a: {}: {why}", r.name);
            if !v.contains(&line) {
                v.push(line);
            }
        }
    }
    v
}

/// The final table as aligned plain text.
pub fn plain(l: &Legend, rows: &[RowResult]) -> String {
    let mut table: Vec<[String; 7]> = vec![HEADER.map(str::to_string)];
    table.extend(rows.iter().map(cells));
    let mut widths = [0usize; 7];
    for line in &table {
        for (w, c) in widths.iter_mut().zip(line) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for line in legend_lines(l) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    for (i, line) in table.iter().enumerate() {
        let mut s = String::new();
        for (j, (c, w)) in line.iter().zip(widths).enumerate() {
            if j > 0 {
                s.push_str("  ");
            }
            if j == 0 {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "{c:>w$}");
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(total));
        }
    }
    let n = notes(rows);
    if !n.is_empty() {
        out.push('\n');
        for line in n {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// The final table in Markdown.
pub fn markdown(l: &Legend, rows: &[RowResult]) -> String {
    let mut out = String::new();
    for line in legend_lines(l) {
        let _ = writeln!(out, "{line}  ");
    }
    out.push('\n');
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let c = cells(r).map(|s| s.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    let n = notes(rows);
    if !n.is_empty() {
        out.push('\n');
        for line in n {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s.is_empty() || s == "-" {
                "0".into()
            } else {
                s.to_string()
            }
        }
        _ => "null".into(),
    }
}

/// Every row as JSON.
pub fn json(l: &Legend, rows: &[RowResult]) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"module_a\": {},", json_string(&l.a));
    let _ = writeln!(
        out,
        "  \"module_b\": {},",
        l.b.as_deref()
            .map_or_else(|| "null".to_string(), json_string)
    );
    let _ = writeln!(out, "  \"threads\": {},", l.threads);
    let _ = writeln!(out, "  \"seconds\": {},", json_number(Some(l.seconds)));
    let _ = writeln!(out, "  \"rounds\": {},", l.rounds);
    out.push_str("  \"rows\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let b = match &r.b {
            Other::Value(v) => Some(*v),
            _ => None,
        };
        let note = match &r.b {
            Other::NotAvailable(why) => json_string(why),
            _ => "null".into(),
        };
        let _ = write!(
            out,
            "    {{\"name\": {}, \"threads\": {}, \"a\": {}, \"b\": {}, \"ratio\": {}, \
             \"reference\": {}, \"unit\": {}, \"b_note\": {}}}",
            json_string(&r.name),
            r.threads,
            json_number(Some(r.a)),
            json_number(b),
            json_number(r.ratio()),
            json_number(r.reference),
            json_string(r.unit.name()),
            note
        );
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn numbers() {
        assert_eq!(json_number(Some(12.5)), "12.5");
        assert_eq!(json_number(Some(3.0)), "3");
        assert_eq!(json_number(Some(f64::NAN)), "null");
        assert_eq!(json_number(None), "null");
        assert_eq!(fmt_value(12345.4), "12,345");
        assert_eq!(fmt_value(12.34), "12.3");
    }
}
