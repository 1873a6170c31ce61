//! The shared `report.html` writer of `compare`, `find-lr` and `tune`, and the small file
//! helpers around it (output folder, atomic writes, the command line as typed).
//!
//! A report is one self-contained file: inline CSS, inline SVG pictures, no script and no
//! network, so it opens the same from a laptop, a CI artifact or an e-mail attachment.

// Shared by several commands that land one at a time: a helper one of them does not use
// yet is not dead.

use crate::UserError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// Writes `path` as a self-contained HTML report: `title`, the command line that made it,
/// then each section in order. The file is written to a temporary name and renamed, so a
/// killed process never leaves half a report.
pub fn write_html(
    path: &Path,
    title: &str,
    command_line: &str,
    sections: &[Section],
) -> Result<(), UserError> {
    write_atomic(path, render_html(title, command_line, sections).as_bytes())
}

/// The HTML text [`write_html`] writes.
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
            let class = if numeric { " class=\"num\"" } else { "" };
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
.sub{color:var(--muted);font-size:11.5px}
tbody tr:hover{background:#eef3f9}
";

/// The command line as typed, quoted so it can be pasted back into a shell.
pub fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            // Show the program by its name, not the build folder it ran from.
            let a = if i == 0 {
                Path::new(&a)
                    .file_name()
                    .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                a
            };
            shell_quote(&a)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The output folder: `out` if given, else `runs/<command>-<timestamp>`; created, and
/// checked to be writable, so a bad `--out` fails before any training is spent.
pub fn out_dir(command: &str, out: Option<&Path>) -> Result<PathBuf, UserError> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => {
            // Two runs in the same second must not share (and overwrite) a folder.
            let base = format!("runs/{command}-{}", timestamp());
            let mut dir = PathBuf::from(&base);
            let mut n = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{base}-{n}"));
                n += 1;
            }
            dir
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| UserError(format!("cannot create --out {}: {e}", dir.display())))?;
    let probe = dir.join(".lrsched-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| UserError(format!("cannot write into --out {}: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so
/// readers see the old file or the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let fail = |e: std::io::Error| UserError(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// `YYYYMMDD-HHMMSS` in UTC, for default output folders (no date crate for one name).
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

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
    fn quoting_reads_back_in_a_shell() {
        assert_eq!(shell_quote("--seeds"), "--seeds");
        assert_eq!(shell_quote("cosine(lr=0.1)"), "'cosine(lr=0.1)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn timestamp_reads_as_a_date() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "-");
    }
}
