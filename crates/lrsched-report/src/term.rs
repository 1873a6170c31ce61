//! A chart in the terminal: curves in Unicode braille (each character cell is a 2 x 4 grid
//! of dots, so a 80 x 24 terminal gives 160 x 96 dots), tick labels, markers on the axis
//! and a legend. Small enough to write here rather than pull a crate in.

use crate::scale::{self, Axis, Prepared};
use crate::{Chart, ReportError};

/// ANSI foreground colours closest to the palette's, in its order.
const ANSI: [u8; 10] = [34, 33, 31, 36, 32, 93, 35, 95, 33, 90];

/// Smallest text chart: room for labels, a few rows of curve and one legend line.
const MIN: (usize, usize) = (30, 8);

/// Draws `chart` as `height` lines of exactly `width` characters (not counting colour
/// codes), ending with a newline: curves in braille dots, y tick labels on the left,
/// x tick labels below, markers as `┴` on the x axis, and a legend. Secondary-axis curves
/// are scaled to the plot's height, their range given in the legend. With `color`, each
/// curve and its legend entry get an ANSI colour (curves crossing one cell show the
/// last drawn); without, the curves are told apart only by the legend's order.
/// Bands are not drawn in text.
///
/// ```
/// use lrsched_report::{terminal, Chart, Series};
/// let chart = Chart::new("decay", "step", "lr")
///     .with_series(Series::new("exp", (0..50).map(|s| (s as f64, 0.9f64.powi(s))).collect()));
/// let text = terminal(&chart, 50, 12, false)?;
/// assert!(text.lines().all(|l| l.chars().count() == 50));
/// assert!(text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)));
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn terminal(
    chart: &Chart,
    width: usize,
    height: usize,
    color: bool,
) -> Result<String, ReportError> {
    draw(chart, width, height, color, None, 0).map(|d| d.0)
}

/// Draws `charts` one above another as [`terminal`] does, splitting `height` between
/// them, with one x range (the union of theirs) so their steps line up.
///
/// ```
/// use lrsched_report::{stacked_terminal, Chart, Series};
/// let a = Chart::new("lr", "step", "").with_series(Series::new("lr", vec![(0.0, 0.1), (90.0, 0.0)]));
/// let b = Chart::new("loss", "step", "").with_series(Series::new("loss", vec![(0.0, 2.0), (100.0, 0.3)]));
/// let text = stacked_terminal(&[a, b], 60, 24, false)?;
/// assert_eq!(text.lines().count(), 24);
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn stacked_terminal(
    charts: &[Chart],
    width: usize,
    height: usize,
    color: bool,
) -> Result<String, ReportError> {
    if charts.is_empty() {
        return Err(ReportError::NoSeries {
            chart: "(no charts)".into(),
        });
    }
    let mut range = (f64::INFINITY, f64::NEG_INFINITY);
    for chart in charts {
        for s in chart
            .series
            .iter()
            .chain(chart.secondary.iter().flat_map(|a| &a.series))
        {
            let p = scale::prepare(chart, s, 0, chart.log_y && !chart.series.is_empty())?;
            let (lo, hi) = scale::extent(p.segments.iter().flatten().map(|p| p.0));
            range = (range.0.min(lo), range.1.max(hi));
        }
    }
    let shared = charts.iter().all(|c| c.log_x == charts[0].log_x);
    let n = charts.len();
    // The first charts get the rounding remainder, so the lines add up to `height`.
    let heights: Vec<usize> = (0..n)
        .map(|i| height / n + usize::from(i < height % n))
        .collect();
    let x = shared.then_some(range);
    // A first pass measures each chart's tick labels: the widest sets everyone's y axis
    // column, so the plots line up.
    let mut label_w = 0;
    for (chart, &h) in charts.iter().zip(&heights) {
        label_w = label_w.max(draw(chart, width, h, color, x, 0)?.1);
    }
    let mut out = String::new();
    for (chart, &h) in charts.iter().zip(&heights) {
        out.push_str(&draw(chart, width, h, color, x, label_w)?.0);
    }
    Ok(out)
}

fn draw(
    chart: &Chart,
    width: usize,
    height: usize,
    color: bool,
    x_range: Option<(f64, f64)>,
    min_label_w: usize,
) -> Result<(String, usize), ReportError> {
    if width < MIN.0 || height < MIN.1 {
        return Err(ReportError::TooSmall {
            width: width as u32,
            height: height as u32,
            min: (MIN.0 as u32, MIN.1 as u32),
        });
    }
    let (series, secondary) = scale::prepare_chart(chart)?;
    let paint = |code: u8, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let ansi = |i: usize| ANSI[i % ANSI.len()];

    let y2 = (!secondary.is_empty()).then(|| {
        let (lo, hi) = extent_y(&secondary);
        scale::y_axis(false, lo, hi, 4)
    });

    // Legend entries, packed into as few lines as the width allows.
    let mut entries: Vec<(String, Option<u8>)> = series
        .iter()
        .map(|s| (format!("⣿ {}", s.name), Some(ansi(s.color))))
        .collect();
    if let (Some(y2), Some(sec)) = (&y2, &chart.secondary) {
        for s in &secondary {
            let range = format!(
                "{}: {}..{}",
                sec.label,
                scale::format_sig(y2.lo),
                scale::format_sig(y2.hi)
            );
            entries.push((
                format!("⠒ {} ({range}, right)", s.name),
                Some(ansi(s.color)),
            ));
        }
    }
    if !chart.markers.is_empty() {
        entries.push(("┴ marker".to_string(), None));
    }
    let mut legend: Vec<(usize, String)> = vec![(0, String::new())];
    for (text, code) in entries {
        let text = truncate(&text, width - 1);
        let len = text.chars().count();
        let line = legend.last_mut().expect("legend starts with a line");
        let gap = if line.0 == 0 { 0 } else { 3 };
        if line.0 + gap + len > width {
            legend.push((0, String::new()));
        }
        let line = legend.last_mut().expect("legend has a line");
        if line.0 > 0 {
            line.1.push_str("   ");
            line.0 += 3;
        }
        line.1.push_str(&match code {
            Some(c) => paint(c, &text),
            None => text,
        });
        line.0 += len;
    }
    // A legend longer than a third of the height is cut: the curves matter more.
    let max_legend = (height / 3).max(1);
    if legend.len() > max_legend {
        legend.truncate(max_legend);
        if let Some(last) = legend.last_mut() {
            *last = (1, "…".to_string());
        }
    }

    let rows = height - 3 - legend.len();
    if rows < 3 {
        return Err(ReportError::TooSmall {
            width: width as u32,
            height: height as u32,
            min: (MIN.0 as u32, (height - rows + 3) as u32),
        });
    }
    let (ylo, yhi) = extent_y(&series);
    let y = scale::y_axis(chart.log_y, ylo, yhi, (rows / 3).clamp(2, 6));
    let (xlo, xhi) = scale::extent(
        series
            .iter()
            .chain(&secondary)
            .flat_map(|s| s.segments.iter().flatten().map(|p| p.0)),
    );
    let (xlo, xhi) = x_range.unwrap_or((xlo, xhi));
    let label_w = y
        .ticks
        .iter()
        .map(|t| t.1.chars().count())
        .max()
        .unwrap_or(1)
        .max(min_label_w);
    let cols = width.saturating_sub(label_w + 1);
    if cols < 10 {
        return Err(ReportError::TooSmall {
            width: width as u32,
            height: height as u32,
            min: ((label_w + 11) as u32, height as u32),
        });
    }
    let x = scale::x_axis(chart.log_x, xlo, xhi, (cols / 12).clamp(2, 8));

    let (pw, ph) = (cols * 2, rows * 4);
    let to_px = |v: f64, a: &Axis, n: usize| -> i64 {
        let f = (v - a.lo) / (a.hi - a.lo);
        (f * (n as f64 - 1.0)).round() as i64
    };
    let mut cells = vec![(0u8, None::<usize>); rows * cols];
    let mut plot = |s: &Prepared, axis: &Axis| {
        for seg in &s.segments {
            let mut prev: Option<(i64, i64)> = None;
            for &(px, py) in seg {
                let p = (to_px(px, &x, pw), ph as i64 - 1 - to_px(py, axis, ph));
                let from = prev.unwrap_or(p);
                line(from, p, |cx, cy| {
                    if cx >= 0 && cy >= 0 && (cx as usize) < pw && (cy as usize) < ph {
                        let (cx, cy) = (cx as usize, cy as usize);
                        let cell = &mut cells[(cy / 4) * cols + cx / 2];
                        cell.0 |= dot_bit(cx % 2, cy % 4);
                        cell.1 = Some(s.color);
                    }
                });
                prev = Some(p);
            }
        }
    };
    for s in &series {
        plot(s, &y);
    }
    if let Some(y2) = &y2 {
        for s in &secondary {
            plot(s, y2);
        }
    }

    let mut out = String::new();
    let title = match (&chart.title, &chart.y_label) {
        (t, l) if t.is_empty() => l.clone(),
        (t, l) if l.is_empty() || t.eq_ignore_ascii_case(l) => t.clone(),
        (t, l) => format!("{t} ({l}{})", if chart.log_y { ", log" } else { "" }),
    };
    out.push_str(&pad(&truncate(&title, width), width));
    out.push('\n');

    // Each y tick goes on the row its value falls in; other rows get a plain axis.
    let mut row_labels: Vec<Option<&str>> = vec![None; rows];
    for (v, label) in &y.ticks {
        let r = (ph as i64 - 1 - to_px(*v, &y, ph)) / 4;
        if (0..rows as i64).contains(&r) {
            row_labels[r as usize] = Some(label);
        }
    }
    for (r, label) in row_labels.iter().enumerate() {
        let (text, axis) = match label {
            Some(l) => (*l, '┤'),
            None => ("", '│'),
        };
        out.push_str(&format!("{text:>label_w$}{axis}"));
        for c in 0..cols {
            let (bits, who) = cells[r * cols + c];
            if bits == 0 {
                out.push(' ');
            } else {
                let ch = char::from_u32(0x2800 + bits as u32)
                    .unwrap_or('⣿')
                    .to_string();
                match who {
                    Some(i) => out.push_str(&paint(ansi(i), &ch)),
                    None => out.push_str(&ch),
                }
            }
        }
        out.push('\n');
    }

    // The x axis: ticks below, markers pointing up into the plot.
    let mut axis: Vec<char> = vec!['─'; cols];
    let col_of = |v: f64| (to_px(v, &x, pw) / 2).clamp(0, cols as i64 - 1) as usize;
    for (v, _) in &x.ticks {
        axis[col_of(*v)] = '┬';
    }
    for m in &chart.markers {
        if let Some(v) = x.to_drawn(m.x) {
            if v >= x.lo && v <= x.hi {
                axis[col_of(v)] = '┴';
            }
        }
    }
    out.push_str(&" ".repeat(label_w));
    out.push('└');
    out.extend(axis);
    out.push('\n');

    let mut labels: Vec<char> = vec![' '; width];
    let mut free_from = 0usize;
    for (v, label) in &x.ticks {
        let len = label.chars().count();
        let centre = label_w + 1 + col_of(*v);
        let start = centre
            .saturating_sub(len / 2)
            .min(width.saturating_sub(len));
        if start < free_from {
            continue;
        }
        for (i, ch) in label.chars().enumerate() {
            labels[start + i] = ch;
        }
        free_from = start + len + 2;
    }
    let desc = truncate(&chart.x_label, width / 3);
    let dlen = desc.chars().count();
    if dlen > 0 && free_from + dlen <= width {
        for (i, ch) in desc.chars().enumerate() {
            labels[width - dlen + i] = ch;
        }
    }
    out.extend(labels);
    out.push('\n');

    for (len, text) in legend {
        out.push_str(&text);
        out.push_str(&" ".repeat(width.saturating_sub(len)));
        out.push('\n');
    }
    Ok((out, label_w))
}

fn extent_y(series: &[Prepared]) -> (f64, f64) {
    scale::extent(
        series
            .iter()
            .flat_map(|s| s.segments.iter().flatten().map(|p| p.1)),
    )
}

/// The braille dot at column `x` (0-1) and row `y` (0-3) of a cell (Unicode's numbering:
/// dots 1-3 and 7 down the left, 4-6 and 8 down the right).
fn dot_bit(x: usize, y: usize) -> u8 {
    match (x, y) {
        (0, 0) => 0x01,
        (0, 1) => 0x02,
        (0, 2) => 0x04,
        (0, 3) => 0x40,
        (1, 0) => 0x08,
        (1, 1) => 0x10,
        (1, 2) => 0x20,
        _ => 0x80,
    }
}

/// Bresenham's line, both ends included, so a curve's dots join up.
fn line(from: (i64, i64), to: (i64, i64), mut put: impl FnMut(i64, i64)) {
    let (mut x, mut y) = from;
    let dx = (to.0 - x).abs();
    let dy = -(to.1 - y).abs();
    let sx = if x < to.0 { 1 } else { -1 };
    let sy = if y < to.1 { 1 } else { -1 };
    let mut err = dx + dy;
    // Bounded: a line never has more dots than its longer side (plus one).
    for _ in 0..=(dx.max(-dy) + 1) {
        put(x, y);
        if (x, y) == to {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn pad(s: &str, n: usize) -> String {
    let len = s.chars().count();
    format!("{s}{}", " ".repeat(n.saturating_sub(len)))
}
