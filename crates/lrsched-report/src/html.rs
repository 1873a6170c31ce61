//! The self-contained `report.html` of `compare`, `find-lr` and `tune`: inline CSS,
//! inline SVG pictures, no script and no network, so it opens the same from a laptop, a CI
//! artifact or an e-mail attachment. This module renders text; writing it is the caller's.

use std::fmt::Write as _;

/// A table in a report: a header row and body rows of already formatted cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells; a row shorter than the header is padded with empty cells. A cell's
    /// text after a newline shows as a smaller second line (a range, a count).
    pub rows: Vec<Vec<String>>,
}

/// One part of a report: a heading, paragraphs, pictures and an optional table.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The section's `<h2>`.
    pub heading: String,
    /// Paragraphs of plain text (escaped when written).
    pub text: Vec<String>,
    /// Inline SVG documents, as `lrsched_report::render_svg` returns them.
    pub svgs: Vec<String>,
    /// A table below the pictures.
    pub table: Option<Table>,
}

/// The report's HTML: `title`, the command line that made it, then each section in order.
///
/// ```
/// use lrsched_report::html::{render_html, Section};
/// let s = Section { heading: "Ranking".into(), text: vec!["a & b".into()], ..Default::default() };
/// let page = render_html("lrsched compare", "lrsched compare --seeds 3", &[s]);
/// assert!(page.contains("<h2>Ranking</h2>") && page.contains("a &amp; b"));
/// ```
pub fn render_html(title: &str, command_line: &str, sections: &[Section]) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n\
         <p class=\"cmd\">Made by <code>{}</code></p>\n",
        escape(title),
        escape(title),
        escape(command_line)
    );
    if sections.len() > 1 {
        h.push_str("<nav><ul>\n");
        for (i, s) in sections.iter().enumerate() {
            let _ = writeln!(h, "<li><a href=\"#s{i}\">{}</a></li>", escape(&s.heading));
        }
        h.push_str("</ul></nav>\n");
    }
    for (i, s) in sections.iter().enumerate() {
        let _ = writeln!(h, "<section id=\"s{i}\">\n<h2>{}</h2>", escape(&s.heading));
        for p in &s.text {
            let _ = writeln!(h, "<p>{}</p>", escape(p));
        }
        if let Some(t) = &s.table {
            write_table(&mut h, t);
        }
        for svg in &s.svgs {
            let _ = writeln!(h, "<figure>{}</figure>", strip_prolog(svg));
        }
        h.push_str("</section>\n");
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn write_table(h: &mut String, t: &Table) {
    h.push_str("<div class=\"table\"><table>\n<thead><tr>");
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for i in 0..t.header.len().max(row.len()) {
            let cell = row.get(i).map_or("", String::as_str);
            // Numbers line up on the right; words (names, "not reached") read from the left.
            let numeric = cell
                .trim_start_matches(['-', '+', '±'])
                .starts_with(|c: char| c.is_ascii_digit());
            // A long note (a failure, a path, stderr) wraps inside its cell instead of
            // pushing the table past the page; names and short words stay on one line.
            let class = if numeric {
                " class=\"num\""
            } else if cell.chars().count() > 60 {
                " class=\"text\""
            } else {
                ""
            };
            // A second line (after '\n') is a detail under the value, e.g. a range.
            match cell.split_once('\n') {
                Some((main, sub)) => {
                    let _ = write!(
                        h,
                        "<td{class}>{}<br><span class=\"sub\">{}</span></td>",
                        escape(main),
                        escape(sub)
                    );
                }
                None => {
                    let _ = write!(h, "<td{class}>{}</td>", escape(cell));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n");
}

/// Drops an XML declaration or doctype before `<svg`: they are not allowed inside HTML.
fn strip_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "
:root{color-scheme:light;--fg:#1d2430;--muted:#5b6573;--line:#d9dee5;--bg:#fff;--alt:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:1.6em;margin:0 0 .3em}
h2{font-size:1.25em;margin:1.8em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
p{margin:.5em 0}
.cmd{color:var(--muted)}
code{font:13px/1.4 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;background:var(--alt);padding:2px 5px;border-radius:4px;word-break:break-all}
nav ul{list-style:none;padding:0;margin:.8em 0;display:flex;flex-wrap:wrap;gap:6px 16px}
nav a{color:#2f6db3;text-decoration:none}
nav a:hover{text-decoration:underline}
figure{margin:14px 0}
figure svg{display:block;max-width:100%;height:auto}
.table{overflow-x:auto;margin:10px 0}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;vertical-align:top;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:var(--alt);font-weight:600;white-space:normal;vertical-align:bottom}
td.num{text-align:right}
td.text{white-space:normal;overflow-wrap:anywhere;min-width:14em}
.sub{color:var(--muted);font-size:11.5px}
.bars{font-size:12px}
tbody tr:hover{background:#eef3f9}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_escapes_text_and_inlines_svg() {
        let s = Section {
            heading: "A <b>".into(),
            text: vec!["x & y".into()],
            svgs: vec!["<?xml version=\"1.0\"?>\n<svg viewBox=\"0 0 1 1\"></svg>".into()],
            table: Some(Table {
                header: vec!["name".into(), "acc".into()],
                rows: vec![vec!["cos".into(), "0.97".into()]],
            }),
        };
        let h = render_html("T", "lrsched compare --seeds 2", &[s]);
        assert!(h.contains("A &lt;b&gt;") && h.contains("x &amp; y"));
        assert!(h.contains("<figure><svg viewBox") && !h.contains("<?xml"));
        assert!(h.contains("<td class=\"num\">0.97</td>"));
        assert!(h.contains("lrsched compare --seeds 2"));
        assert!(!h.contains("http://") && !h.contains("https://"));
    }

    #[test]
    fn long_notes_wrap_and_short_cells_do_not() {
        let long = format!("seed 1: exited with status 1: {}", "x".repeat(80));
        let s = Section {
            heading: "Failures".into(),
            table: Some(Table {
                header: vec!["schedule".into(), "outcome".into()],
                rows: vec![vec!["cosine".into(), long.clone()]],
            }),
            ..Default::default()
        };
        let h = render_html("T", "c", &[s]);
        assert!(
            h.contains(&format!("<td class=\"text\">{long}</td>")),
            "{h}"
        );
        assert!(h.contains("<td>cosine</td>"));
        assert!(h.contains("td.text{white-space:normal"));
    }
}
