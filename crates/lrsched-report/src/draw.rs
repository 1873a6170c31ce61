//! SVG and PNG through plotters. Every chart is drawn on linear coordinates in drawn units
//! (log10 for log axes, see `scale`) with our own ticks bound as key points, so one code
//! path serves all four axis combinations and the tick labels are ours to format.

use crate::scale::{self, Axis, Prepared};
use crate::{Chart, ReportError, DEFAULT_SIZE, MAX_PIXELS, MAX_SIDE, PALETTE};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`): text must not
/// depend on the fonts of the machine that draws the PNG.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

const TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);
const AXIS: RGBColor = RGBColor(0x88, 0x88, 0x88);
const GRID: RGBColor = RGBColor(0xE6, 0xE6, 0xE6);
const MARKER: RGBColor = RGBColor(0x99, 0x99, 0x99);

/// Smallest size of one chart, in pixels: below it the labels no longer fit.
const MIN_CHART: (u32, u32) = (240, 160);

fn register_font() -> Result<(), ReportError> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ReportError::Draw(
            "the embedded font could not be read".into(),
        ))
    }
}

fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ReportError {
    ReportError::Draw(e.to_string())
}

pub(crate) fn palette(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Draws `chart` as an SVG document of [`DEFAULT_SIZE`].
///
/// ```
/// use lrsched_report::{render_svg, Chart, Series};
/// let chart = Chart::new("", "step", "lr")
///     .with_series(Series::new("linear", vec![(0.0, 1.0), (10.0, 0.0)]));
/// assert!(render_svg(&chart)?.starts_with("<svg"));
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn render_svg(chart: &Chart) -> Result<String, ReportError> {
    stacked_svg(std::slice::from_ref(chart), DEFAULT_SIZE.0, DEFAULT_SIZE.1)
}

/// Draws `chart` as a PNG image of `width` x `height` pixels.
///
/// ```
/// use lrsched_report::{render_png, Chart, Series};
/// let chart = Chart::new("", "step", "lr")
///     .with_series(Series::new("linear", vec![(0.0, 1.0), (10.0, 0.0)]));
/// let png = render_png(&chart, 400, 300)?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn render_png(chart: &Chart, width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    stacked_png(std::slice::from_ref(chart), width, height)
}

/// Draws `charts` above one another, sharing one x range (the union of theirs), as an
/// SVG document of `width` x `height` pixels; only the bottom chart labels the x axis.
///
/// ```
/// use lrsched_report::{stacked_svg, Chart, Series};
/// let lr = Chart::new("Learning rate", "step", "lr")
///     .with_series(Series::new("lr", vec![(0.0, 0.1), (100.0, 0.01)]));
/// let loss = Chart::new("Loss", "step", "loss")
///     .with_series(Series::new("train", vec![(0.0, 2.3), (100.0, 0.4)]));
/// let svg = stacked_svg(&[lr, loss], 800, 700)?;
/// assert!(svg.contains("Learning rate") && svg.contains("Loss"));
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn stacked_svg(charts: &[Chart], width: u32, height: u32) -> Result<String, ReportError> {
    let figure = Figure::prepare(charts, width, height)?;
    // plotters' SVG coordinates are whole pixels, which turns a gentle curve into a
    // staircase. Drawing at 4x inside a viewBox, shown at the asked size, gives quarter
    // pixels.
    const K: u32 = 4;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width * K, height * K)).into_drawing_area();
        figure.draw(&root, K)?;
        root.present().map_err(de)?;
    }
    let big = format!("<svg width=\"{}\" height=\"{}\"", width * K, height * K);
    let shown = format!("<svg width=\"{width}\" height=\"{height}\"");
    Ok(out.replacen(&big, &shown, 1))
}

/// As [`stacked_svg`], to a PNG image.
///
/// ```
/// use lrsched_report::{stacked_png, Chart, Series};
/// let a = Chart::new("a", "step", "lr").with_series(Series::new("a", vec![(0.0, 1.0), (9.0, 2.0)]));
/// let b = Chart::new("b", "step", "loss").with_series(Series::new("b", vec![(0.0, 3.0), (9.0, 1.0)]));
/// assert!(stacked_png(&[a, b], 600, 600)?.len() > 1000);
/// # Ok::<(), lrsched_report::ReportError>(())
/// ```
pub fn stacked_png(charts: &[Chart], width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    let figure = Figure::prepare(charts, width, height)?;
    // The bitmap backend draws lines and text without anti-aliasing: drawing at twice the
    // size and averaging each 2x2 block smooths the curves' staircase edges.
    const K: u32 = 2;
    let (bw, bh) = (width as usize * K as usize, height as usize * K as usize);
    let mut big = vec![255u8; bw * bh * 3];
    {
        let root = BitMapBackend::with_buffer(&mut big, (bw as u32, bh as u32)).into_drawing_area();
        figure.draw(&root, K)?;
        root.present().map_err(de)?;
    }
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at =
                    |dx: usize, dy: usize| big[((2 * y + dy) * bw + 2 * x + dx) * 3 + c] as u32;
                let sum = at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1);
                pixels[(y * w + x) * 3 + c] = ((sum + 2) / 4) as u8;
            }
        }
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| ReportError::Encode(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| ReportError::Encode(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| ReportError::Encode(e.to_string()))?;
    }
    Ok(png)
}

/// Whether `charts` stacked charts fit a `width` x `height` picture: at least 240 x 160
/// pixels per chart, at most [`MAX_SIDE`] a side and [`MAX_PIXELS`] in all. Every drawing
/// function checks this first; a caller can check it before computing any chart.
///
/// ```
/// use lrsched_report::{check_size, ReportError};
/// assert!(check_size(1, 1000, 600).is_ok());
/// assert!(matches!(check_size(2, 1000, 300), Err(ReportError::TooSmall { .. })));
/// assert!(matches!(check_size(1, 100_000, 600), Err(ReportError::TooLarge { .. })));
/// assert!(matches!(check_size(1, 10_000, 10_000), Err(ReportError::TooLarge { .. })));
/// ```
pub fn check_size(charts: usize, width: u32, height: u32) -> Result<(), ReportError> {
    let n = charts.max(1) as u32;
    let min = (MIN_CHART.0, MIN_CHART.1.saturating_mul(n));
    if width < min.0 || height < min.1 {
        return Err(ReportError::TooSmall { width, height, min });
    }
    if width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS {
        return Err(ReportError::TooLarge { width, height });
    }
    Ok(())
}

/// Everything checked and measured before a pixel is drawn, so errors come out before
/// any output exists.
struct Figure<'a> {
    panels: Vec<Panel<'a>>,
}

struct Panel<'a> {
    chart: &'a Chart,
    series: Vec<Prepared>,
    secondary: Vec<Prepared>,
    x: Axis,
    y: Axis,
    y2: Option<Axis>,
    /// Where the legend goes, and its size in pixels at scale 1.
    corner: SeriesLabelPosition,
    legend: (i32, i32),
    /// Widths of the left and right label areas, the same for every stacked panel so
    /// their plots line up (0 on the right: no second axis in the figure).
    left: u32,
    right: u32,
}

impl<'a> Figure<'a> {
    fn prepare(charts: &'a [Chart], width: u32, height: u32) -> Result<Self, ReportError> {
        check_size(charts.len(), width, height)?;
        let n = charts.len().max(1) as u32;
        if charts.is_empty() {
            return Err(ReportError::NoSeries {
                chart: "(no charts)".into(),
            });
        }
        register_font()?;
        let chart_height = height / n;
        let mut panels = Vec::new();
        for chart in charts {
            let (series, secondary) = scale::prepare_chart(chart)?;
            let (ylo, yhi) = y_extent(&series);
            let y_ticks = (chart_height / 70).clamp(3, 8) as usize;
            let y = scale::y_axis(chart.log_y, ylo, yhi, y_ticks);
            let y2 = (!secondary.is_empty()).then(|| {
                let (lo, hi) = y_extent(&secondary);
                scale::y_axis(false, lo, hi, y_ticks)
            });
            let (xlo, xhi) = x_extent(series.iter().chain(&secondary));
            let x = scale::x_axis(chart.log_x, xlo, xhi, (width / 110).clamp(3, 10) as usize);
            panels.push(Panel {
                chart,
                series,
                secondary,
                x,
                y,
                y2,
                corner: SeriesLabelPosition::UpperRight,
                legend: (0, 0),
                left: 0,
                right: 0,
            });
        }
        // Stacked charts read against one another: one x range for all (when their x
        // axes are of one kind).
        if panels.iter().all(|p| p.x.log == panels[0].x.log) {
            let lo = panels.iter().map(|p| p.x.lo).fold(f64::INFINITY, f64::min);
            let hi = panels
                .iter()
                .map(|p| p.x.hi)
                .fold(f64::NEG_INFINITY, f64::max);
            let shared =
                scale::x_axis(panels[0].x.log, lo, hi, (width / 110).clamp(3, 10) as usize);
            for p in &mut panels {
                p.x = shared.clone();
            }
        }
        for p in &mut panels {
            p.place_legend(width, chart_height);
        }
        let left = panels
            .iter()
            .map(|p| label_area(&p.y.ticks))
            .max()
            .unwrap_or(0);
        let right = panels
            .iter()
            .filter_map(|p| p.y2.as_ref().map(|a| label_area(&a.ticks)))
            .max()
            .unwrap_or(0);
        for p in &mut panels {
            (p.left, p.right) = (left, right);
        }
        Ok(Figure { panels })
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        k: u32,
    ) -> Result<(), ReportError> {
        root.fill(&WHITE).map_err(de)?;
        let areas = root.split_evenly((self.panels.len(), 1));
        let last = self.panels.len() - 1;
        for (i, (panel, area)) in self.panels.iter().zip(&areas).enumerate() {
            panel.draw(area, i == last, k)?;
        }
        Ok(())
    }
}

fn y_extent(series: &[Prepared]) -> (f64, f64) {
    scale::extent(series.iter().flat_map(|s| {
        s.segments
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    }))
}

fn x_extent<'p>(series: impl Iterator<Item = &'p Prepared>) -> (f64, f64) {
    scale::extent(series.flat_map(|s| {
        s.segments
            .iter()
            .flatten()
            .map(|p| p.0)
            .chain(s.band.iter().map(|b| b.0))
    }))
}

/// A linear f64 axis whose grid lines and labels stand exactly at our ticks. plotters'
/// own f64 axis cannot take a label formatter together with chosen key points.
#[derive(Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn of(axis: &Axis) -> Self {
        Ticked {
            lo: axis.lo,
            hi: axis.hi,
            ticks: axis.ticks.iter().map(|t| t.0).collect(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        let px = limit.0 as f64 + f * (limit.1 - limit.0) as f64;
        // Far off-range values (a band's edge) stay representable instead of saturating.
        px.clamp(-1e6, 1e6).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn label_at(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .find(|(t, _)| (t - v).abs() <= 1e-9 * t.abs().max(1e-12))
        .map(|t| t.1.clone())
        .unwrap_or_else(|| scale::format_sig(v))
}

/// Width of the y label area: the longest tick label plus room for the axis title.
fn label_area(ticks: &[(f64, String)]) -> u32 {
    let chars = ticks.iter().map(|t| t.1.chars().count()).max().unwrap_or(1) as u32;
    34 + 8 * chars
}

impl Panel<'_> {
    /// Picks the legend's corner: the one whose box covers the fewest points. When every
    /// corner would hide some curve, the y axes get headroom so the upper right is free
    /// (a legend over a curve is the thing a reader notices first).
    fn place_legend(&mut self, width: u32, height: u32) {
        let names = self.series.iter().chain(&self.secondary).map(|s| &s.name);
        let longest = names.clone().map(|n| n.chars().count()).max().unwrap_or(0) as i32;
        self.legend = (LEGEND_PAD + 8 * longest, 8 + 20 * names.count() as i32);
        // The plot's size as `draw` lays it out (margins, label areas, caption).
        let side =
            label_area(&self.y.ticks) + self.y2.as_ref().map_or(28, |a| label_area(&a.ticks) + 12);
        let pw = width.saturating_sub(side + 12).max(1) as f64;
        let caption = if self.chart.title.is_empty() { 0 } else { 34 };
        let ph = height.saturating_sub(caption + 46 + 18).max(1) as f64;
        let fw = (self.legend.0 + 12) as f64 / pw;
        let fh = (self.legend.1 + 12) as f64 / ph;
        let frac = |v: f64, a: &Axis| (v - a.lo) / (a.hi - a.lo);
        let points = |y: &Axis, y2: &Option<Axis>| {
            let mut out: Vec<(f64, f64)> = Vec::new();
            for (list, axis) in [(&self.series, Some(y)), (&self.secondary, y2.as_ref())] {
                let Some(axis) = axis else { continue };
                for s in list {
                    out.extend(
                        s.segments
                            .iter()
                            .flatten()
                            .map(|p| (frac(p.0, &self.x), frac(p.1, axis))),
                    );
                    out.extend(s.band.iter().flat_map(|b| {
                        [
                            (frac(b.0, &self.x), frac(b.1, axis)),
                            (frac(b.0, &self.x), frac(b.2, axis)),
                        ]
                    }));
                }
            }
            out
        };
        let (corner, crowded) = legend_corner(&points(&self.y, &self.y2), fw, fh);
        self.corner = corner;
        if crowded == 0 || fh > 0.4 || fw > 0.8 {
            return;
        }
        let lift = |a: &Axis, pts: &mut dyn Iterator<Item = f64>| {
            let top = pts.fold(0.0f64, f64::max).clamp(0.0, 1.0);
            let mut a = a.clone();
            a.hi = a.lo + (a.hi - a.lo) * top / (1.0 - fh);
            let n = a.ticks.len().max(3);
            a.ticks = scale::ticks(a.log, a.lo, a.hi, n);
            a
        };
        let pts = points(&self.y, &self.y2);
        let primary: Vec<f64> = pts.iter().take(self.primary_count()).map(|p| p.1).collect();
        let secondary: Vec<f64> = pts.iter().skip(self.primary_count()).map(|p| p.1).collect();
        self.y = lift(&self.y, &mut primary.into_iter());
        if let Some(y2) = &self.y2 {
            self.y2 = Some(lift(y2, &mut secondary.into_iter()));
        }
        self.corner = SeriesLabelPosition::UpperRight;
    }

    /// How many of `place_legend`'s points belong to the primary axis.
    fn primary_count(&self) -> usize {
        self.series
            .iter()
            .map(|s| s.segments.iter().map(Vec::len).sum::<usize>() + 2 * s.band.len())
            .sum()
    }

    /// Draws the panel; `k` multiplies every size in pixels (2 for the supersampled PNG).
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        bottom: bool,
        k: u32,
    ) -> Result<(), ReportError> {
        let chart = self.chart;
        let ki = k as i32;
        let font = |size: u32| (FAMILY, (size * k) as f64).into_font().color(&TEXT);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin_top(10 * k)
            .margin_left(12 * k)
            .margin_bottom(if bottom { 8 } else { 4 } * k)
            .margin_right(if self.right > 0 { 12 } else { 28 } * k)
            .x_label_area_size(if bottom { 46 } else { 14 } * k)
            .y_label_area_size(self.left * k);
        if self.right > 0 {
            builder.right_y_label_area_size(self.right * k);
        }
        if !chart.title.is_empty() {
            builder.caption(&chart.title, font(20));
        }
        let cc = builder
            .build_cartesian_2d(Ticked::of(&self.x), Ticked::of(&self.y))
            .map_err(de)?;
        // The secondary coordinates are set before any mesh is drawn: plotters hands the
        // right label area to them then, so the primary ticks are not repeated there.
        let y2 = self.y2.clone().unwrap_or_else(|| self.y.clone());
        let mut cc = cc.set_secondary_coord(Ticked::of(&self.x), Ticked::of(&y2));
        let x_fmt = |v: &f64| {
            if bottom {
                label_at(&self.x.ticks, *v)
            } else {
                String::new()
            }
        };
        let y_fmt = |v: &f64| label_at(&self.y.ticks, *v);
        let x_desc = if bottom { chart.x_label.as_str() } else { "" };
        cc.configure_mesh()
            .x_labels(100)
            .y_labels(100)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(x_desc)
            .y_desc(&chart.y_label)
            .label_style(font(14))
            .axis_desc_style(font(15))
            .bold_line_style(GRID.stroke_width(k))
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS.stroke_width(k))
            .set_all_tick_mark_size(5 * ki)
            .draw()
            .map_err(de)?;
        if self.y2.is_some() {
            let y2_fmt = |v: &f64| label_at(&y2.ticks, *v);
            let y2_desc = chart
                .secondary
                .as_ref()
                .map(|s| s.label.as_str())
                .unwrap_or("");
            cc.configure_secondary_axes()
                .y_labels(100)
                .y_label_formatter(&y2_fmt)
                .y_desc(y2_desc)
                .label_style(font(14))
                .axis_desc_style(font(15))
                .axis_style(AXIS.stroke_width(k))
                .set_all_tick_mark_size(5 * ki)
                .draw()
                .map_err(de)?;
        }

        // Marker labels keep out of the legend's box.
        let corner = self.corner.clone();
        let (legend_w, legend_h) = (self.legend.0 * ki, self.legend.1 * ki);
        self.draw_markers(&mut cc, k, corner.clone(), (legend_w, legend_h), false)?;

        for s in &self.series {
            let c = palette(s.color);
            if s.band.len() >= 2 {
                let poly: Vec<(f64, f64)> = s
                    .band
                    .iter()
                    .map(|b| (b.0, b.2))
                    .chain(s.band.iter().rev().map(|b| (b.0, b.1)))
                    .collect();
                cc.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))
                    .map_err(de)?;
            }
        }
        for s in &self.series {
            let c = palette(s.color);
            for (i, seg) in s.segments.iter().enumerate() {
                // A lone point (one step, or a gap on both sides) has no line: a dot.
                if seg.len() == 1 {
                    cc.draw_series(std::iter::once(Circle::new(seg[0], 3 * k, c.filled())))
                        .map_err(de)?;
                }
                let ann = cc
                    .draw_series(LineSeries::new(seg.iter().copied(), c.stroke_width(2 * k)))
                    .map_err(de)?;
                if i == 0 {
                    ann.label(s.name.as_str()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22 * ki, y)], c.stroke_width(3 * k))
                    });
                }
            }
        }
        for s in &self.secondary {
            let c = palette(s.color);
            for (i, seg) in s.segments.iter().enumerate() {
                // Dashed, so a momentum curve is told from the rates at a glance.
                let ann = cc
                    .draw_secondary_series(DashedLineSeries::new(
                        seg.iter().copied(),
                        7 * k,
                        5 * k,
                        c.stroke_width(2 * k),
                    ))
                    .map_err(de)?;
                if i == 0 {
                    ann.label(s.name.as_str()).legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (8 * ki, 0)], c.stroke_width(3 * k))
                            + PathElement::new(
                                vec![(13 * ki, 0), (21 * ki, 0)],
                                c.stroke_width(3 * k),
                            )
                    });
                }
            }
        }
        // Labels after the curves, so their halo lies over a curve and not under it.
        self.draw_markers(&mut cc, k, corner.clone(), (legend_w, legend_h), true)?;
        cc.configure_series_labels()
            .position(corner)
            .margin(12 * k)
            .legend_area_size(30 * k)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID.stroke_width(k))
            .label_font(font(14))
            .draw()
            .map_err(de)?;
        Ok(())
    }

    /// Dashed grey verticals with their labels along the top; a label that would run
    /// into the previous one drops to a second row, and is left out if that is taken too
    /// (the line still shows). Labels under the legend move below it.
    fn draw_markers<DB: DrawingBackend, CT>(
        &self,
        cc: &mut ChartContext<'_, DB, CT>,
        k: u32,
        corner: SeriesLabelPosition,
        legend: (i32, i32),
        labels: bool,
    ) -> Result<(), ReportError>
    where
        CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
    {
        let ki = k as i32;
        let mut markers: Vec<(f64, &str)> = self
            .chart
            .markers
            .iter()
            .filter_map(|m| Some((self.x.to_drawn(m.x)?, m.label.as_str())))
            .filter(|(x, _)| *x >= self.x.lo && *x <= self.x.hi)
            .collect();
        markers.sort_by(|a, b| a.0.total_cmp(&b.0));
        markers.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let (left_edge, _) = cc.as_coord_spec().translate(&(self.x.lo, self.y.hi));
        let right_edge = cc.as_coord_spec().translate(&(self.x.hi, self.y.hi)).0;
        let margin = 12 * ki;
        let legend_x = match corner {
            SeriesLabelPosition::UpperLeft => {
                Some((left_edge + margin, left_edge + margin + legend.0))
            }
            SeriesLabelPosition::UpperRight => {
                Some((right_edge - margin - legend.0, right_edge - margin))
            }
            _ => None,
        };
        let style = (FAMILY, (13 * k) as f64)
            .into_font()
            .color(&RGBColor(0x66, 0x66, 0x66));
        let row_h = 17 * ki;
        let mut taken: Vec<(i32, i32, i32)> = Vec::new();
        for (x, label) in markers {
            if !labels {
                cc.draw_series(DashedLineSeries::new(
                    [(x, self.y.lo), (x, self.y.hi)],
                    5 * k,
                    4 * k,
                    MARKER.stroke_width(k),
                ))
                .map_err(de)?;
                continue;
            }
            if label.is_empty() {
                continue;
            }
            let px = cc.as_coord_spec().translate(&(x, self.y.hi)).0;
            // DejaVu Sans at 13 px is about 7 px a character.
            let w = (7 * label.chars().count() as i32 + 4) * ki;
            let (start, anchor, dx) = if px + 4 * ki + w <= right_edge {
                (px + 4 * ki, HPos::Left, 4 * ki)
            } else {
                (px - 4 * ki - w, HPos::Right, -4 * ki)
            };
            let under_legend = legend_x.is_some_and(|(a, b)| start < b && start + w > a);
            let first_row = if under_legend {
                legend.1 + margin + 4 * ki
            } else {
                4 * ki
            };
            let free = |dy: i32| {
                !taken
                    .iter()
                    .any(|&(a, b, y)| y == dy && start < b + 6 * ki && start + w > a - 6 * ki)
            };
            let Some(dy) = [first_row, first_row + row_h]
                .into_iter()
                .find(|&dy| free(dy))
            else {
                continue;
            };
            taken.push((start, start + w, dy));
            let text = style.clone().pos(Pos::new(anchor, VPos::Top));
            // A pale box behind the text keeps it readable where it crosses a curve.
            let (bx0, bx1) = if dx > 0 {
                (dx - 2 * ki, dx + w)
            } else {
                (dx - w, dx + 2 * ki)
            };
            let halo = Rectangle::new(
                [(bx0, dy - ki), (bx1, dy + 15 * ki)],
                WHITE.mix(0.85).filled(),
            );
            cc.plotting_area()
                .draw(
                    &(EmptyElement::at((x, self.y.hi))
                        + halo
                        + Text::new(label.to_string(), (dx, dy), text)),
                )
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Legend padding besides its names: the sample line and the gaps around it.
const LEGEND_PAD: i32 = 30 + 12 + 10;

/// The corner where the legend's box (`w` x `h`, fractions of the plot) covers the
/// fewest points (fractions of the plot, y up), so it hides as little of the curves as
/// it can; upper right wins ties.
fn legend_corner(points: &[(f64, f64)], w: f64, h: f64) -> (SeriesLabelPosition, usize) {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let count = |right: bool, upper: bool| {
        points
            .iter()
            .filter(|(x, y)| {
                let in_x = if right { *x >= 1.0 - w } else { *x <= w };
                let in_y = if upper { *y >= 1.0 - h } else { *y <= h };
                in_x && in_y
            })
            .count()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, right, upper) in corners {
        let n = count(right, upper);
        if n < best.0 {
            best = (n, pos);
        }
    }
    (best.1, best.0)
}
