//! Axes shared by every renderer: which points can be drawn, the ranges, the ticks and
//! their labels. Log axes are handled here by drawing `log10(v)` on a linear axis, so the
//! renderers only ever see linear coordinates and one coordinate type.

use crate::{Chart, ReportError, Series};

/// One axis: linear or log10, with its range and ticks in drawn (transformed) units.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    /// Tick positions in drawn units, with their labels.
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// The drawn coordinate of a data value, `None` if it cannot be drawn on this axis.
    pub fn to_drawn(&self, v: f64) -> Option<f64> {
        to_drawn(self.log, v)
    }
}

pub(crate) fn to_drawn(log: bool, v: f64) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// A series' drawable points in drawn units, split where points were skipped so a line
/// never bridges a gap; thinned to at most a few points per pixel column.
pub(crate) struct Prepared {
    pub name: String,
    pub color: usize,
    pub segments: Vec<Vec<(f64, f64)>>,
    /// `(x, lo, hi)` in drawn units.
    pub band: Vec<(f64, f64, f64)>,
}

/// More points than this per series are thinned (keeping each bucket's extremes, so a
/// spike survives): a 100 000-step trace would otherwise make a multi-megabyte SVG.
const MAX_POINTS: usize = 4000;

/// A chart's series ready to draw: its own (on the left axis, log when the chart is) and
/// its secondary ones (right axis, linear, coloured after the first ones). Both renderers
/// start here, so the SVG and the terminal refuse the same charts with the same errors.
pub(crate) fn prepare_chart(chart: &Chart) -> Result<(Vec<Prepared>, Vec<Prepared>), ReportError> {
    if chart.series.is_empty() {
        return Err(ReportError::NoSeries {
            chart: chart.title.clone(),
        });
    }
    let series = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| prepare(chart, s, i, chart.log_y))
        .collect::<Result<Vec<_>, _>>()?;
    let secondary = match &chart.secondary {
        Some(sec) => sec
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| prepare(chart, s, chart.series.len() + i, false))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok((series, secondary))
}

pub(crate) fn prepare(
    chart: &Chart,
    series: &Series,
    default_color: usize,
    log_y: bool,
) -> Result<Prepared, ReportError> {
    let empty = |why: &str| ReportError::EmptySeries {
        chart: chart.title.clone(),
        series: series.name.clone(),
        why: why.into(),
    };
    if series.points.is_empty() {
        return Err(empty("it has no points"));
    }
    let mut segments = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in &series.points {
        match (to_drawn(chart.log_x, x), to_drawn(log_y, y)) {
            (Some(x), Some(y)) => current.push((x, y)),
            _ if !current.is_empty() => segments.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    if segments.is_empty() {
        let finite = series
            .points
            .iter()
            .any(|(x, y)| x.is_finite() && y.is_finite());
        return Err(empty(if !finite {
            "no point is finite"
        } else if log_y || chart.log_x {
            "no point is positive, as a log axis needs"
        } else {
            "no point can be drawn"
        }));
    }
    let total: usize = segments.iter().map(Vec::len).sum();
    if total > MAX_POINTS {
        let (lo, hi) = extent(segments.iter().flatten().map(|p| p.0));
        segments = segments
            .into_iter()
            .map(|s| thin(s, lo, hi, MAX_POINTS / 4))
            .collect();
    }
    let band = series
        .band
        .iter()
        .flatten()
        .filter_map(|&(x, lo, hi)| {
            Some((
                to_drawn(chart.log_x, x)?,
                to_drawn(log_y, lo)?,
                to_drawn(log_y, hi)?,
            ))
        })
        .collect();
    Ok(Prepared {
        name: series.name.clone(),
        color: series.color.unwrap_or(default_color),
        segments,
        band,
    })
}

/// Min-max thinning: per x bucket keep the first, lowest, highest and last point, in x
/// order, so the drawn envelope is the same as the full trace's.
fn thin(points: Vec<(f64, f64)>, lo: f64, hi: f64, buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= buckets * 4 || hi <= lo {
        return points;
    }
    let width = (hi - lo) / buckets as f64;
    let mut out = Vec::with_capacity(buckets * 4);
    let mut start = 0;
    while start < points.len() {
        let b = ((points[start].0 - lo) / width).floor();
        let mut end = start + 1;
        while end < points.len() && ((points[end].0 - lo) / width).floor() == b {
            end += 1;
        }
        let bucket = &points[start..end];
        let mut idx = vec![0, bucket.len() - 1];
        let by_y = |a: &&(usize, &(f64, f64)), b: &&(usize, &(f64, f64))| a.1 .1.total_cmp(&b.1 .1);
        let indexed: Vec<_> = bucket.iter().enumerate().collect();
        if let Some(m) = indexed.iter().min_by(by_y) {
            idx.push(m.0);
        }
        if let Some(m) = indexed.iter().max_by(by_y) {
            idx.push(m.0);
        }
        idx.sort_unstable();
        idx.dedup();
        out.extend(idx.into_iter().map(|i| bucket[i]));
        start = end;
    }
    out
}

pub(crate) fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// The x axis: exactly the data's range (steps start and end where the run does).
pub(crate) fn x_axis(log: bool, lo: f64, hi: f64, target_ticks: usize) -> Axis {
    let (lo, hi) = widen(lo, hi, log);
    Axis {
        log,
        lo,
        hi,
        ticks: ticks(log, lo, hi, target_ticks),
    }
}

/// A y axis: the data's range with a little air, from 0 when the data are non-negative
/// and reach down near it (a rate plotted from 0 shows its true proportions).
pub(crate) fn y_axis(log: bool, lo: f64, hi: f64, target_ticks: usize) -> Axis {
    let (mut lo, mut hi) = widen(lo, hi, log);
    if log {
        let pad = (hi - lo) * 0.05;
        lo -= pad;
        hi += pad;
    } else {
        let pad = (hi - lo) * 0.06;
        let from_zero = lo >= 0.0 && lo <= 0.35 * hi;
        lo = if from_zero { 0.0 } else { lo - pad };
        hi += pad;
    }
    Axis {
        log,
        lo,
        hi,
        ticks: ticks(log, lo, hi, target_ticks),
    }
}

/// A zero-width range (a constant) gets a visible one around its value.
fn widen(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        return (lo, hi);
    }
    if log {
        (lo - 0.5, hi + 0.5)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.5 };
        (lo - d, hi + d)
    }
}

/// Tick positions (drawn units) and labels: 1-2-5 steps on linear axes; on log axes
/// decades, or 1-2-5 within a decade when the range spans less than about two.
pub(crate) fn ticks(log: bool, lo: f64, hi: f64, target: usize) -> Vec<(f64, String)> {
    let target = target.max(2);
    if !log {
        let step = nice_step((hi - lo) / target as f64);
        return linear_ticks(lo, hi, step)
            .into_iter()
            .map(|v| (v, format_tick(v, step)))
            .collect();
    }
    if hi - lo < 2.0 {
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let mut out = Vec::new();
        let first = lo.floor() as i32;
        for e in first..=(hi.ceil() as i32) {
            for m in [1.0, 2.0, 5.0] {
                let v = m * 10f64.powi(e);
                if v >= a * (1.0 - 1e-9) && v <= b * (1.0 + 1e-9) {
                    out.push((v.log10(), format_sig(v)));
                }
            }
        }
        if out.len() >= 2 {
            return out;
        }
        let step = nice_step((b - a) / target as f64);
        return linear_ticks(a, b, step)
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(|v| (v.log10(), format_sig(v)))
            .collect();
    }
    let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
    let count = (last - first + 1).max(1) as usize;
    let stride = count.div_ceil(target + 2).max(1) as i64;
    (first..=last)
        .filter(|e| (e - first) % stride == 0)
        .map(|e| (e as f64, format_sig(10f64.powi(e as i32))))
        .collect()
}

fn linear_ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if step.is_nan() || step <= 0.0 || !step.is_finite() {
        return vec![lo, hi];
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last.min(first + 50))
        .map(|i| {
            let v = i as f64 * step;
            // 3 * 0.1 is 0.30000000000000004; a tick at "0" should be exactly 0.
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A linear tick: as many decimals as the step needs, scientific when tiny or huge.
fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format_sig(v);
    }
    let decimals = (-(step.log10().floor()) as i32 + 1).clamp(0, 8) as usize;
    let s = format!("{v:.decimals$}");
    trim_zeros(s)
}

/// A value with up to 4 significant digits: `0.001`, `2.5e-5`, `1e6`.
pub(crate) fn format_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { format!("{v}") };
    }
    let a = v.abs();
    if (1e-3..1e6).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 8) as usize;
        return trim_zeros(format!("{v:.decimals$}"));
    }
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim_zeros(m.to_string())),
        None => s,
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_well() {
        let t: Vec<String> = ticks(false, 0.0, 0.1, 5).into_iter().map(|t| t.1).collect();
        assert_eq!(t, ["0", "0.02", "0.04", "0.06", "0.08", "0.1"]);
        let t: Vec<String> = ticks(true, -5.0, -1.0, 6)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["1e-5", "1e-4", "0.001", "0.01", "0.1"]);
        let t: Vec<String> = ticks(false, 0.0, 1000.0, 5)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["0", "200", "400", "600", "800", "1000"]);
    }

    #[test]
    fn degenerate_ranges_do_not_panic() {
        assert!(!ticks(false, 1.0, 1.0, 5).is_empty());
        let a = y_axis(false, 0.1, 0.1, 5);
        assert!(a.hi > a.lo);
        let a = y_axis(true, f64::NAN, f64::NAN, 5);
        assert!(a.hi > a.lo);
    }
}
