//! Charts for lrsched: learning-rate, momentum and loss curves drawn to SVG, PNG and the
//! terminal.
//!
//! A [`Chart`] is plain data: a title, axis labels, [`Series`] of `(x, y)` points (each
//! with an optional shaded band, e.g. the spread over seeds), vertical [`Marker`]s
//! (restarts, milestones, suggested rates) and an optional [`SecondaryAxis`] (momentum on
//! a second y axis). The same chart renders to SVG ([`render_svg`]), PNG ([`render_png`])
//! and Unicode braille text ([`terminal`]); [`stacked_svg`] and [`stacked_png`] put several
//! charts above one another on a shared x axis (learning rate and loss against step).
//!
//! Text is measured and drawn with a font embedded in the crate (DejaVu Sans), so a PNG
//! renders the same on a machine with no fonts installed.
//!
//! ```
//! use lrsched_report::{render_png, render_svg, terminal, Chart, Marker, Series};
//! let cosine: Vec<(f64, f64)> = (0..=100)
//!     .map(|s| (s as f64, 0.05 * (1.0 + (std::f64::consts::PI * s as f64 / 100.0).cos())))
//!     .collect();
//! let chart = Chart::new("Learning rate", "step", "lr")
//!     .with_series(Series::new("cosine", cosine))
//!     .with_marker(Marker::new(50.0, "halfway"));
//! let svg = render_svg(&chart)?;
//! assert!(svg.contains("cosine"));
//! let png = render_png(&chart, 640, 400)?;
//! assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
//! let text = terminal(&chart, 60, 16, false)?;
//! assert_eq!(text.lines().count(), 16);
//! # Ok::<(), lrsched_report::ReportError>(())
//! ```
#![deny(missing_docs)]

mod draw;
pub mod html;
mod scale;
mod term;

pub use draw::{check_size, render_png, render_svg, stacked_png, stacked_svg};
pub use term::{stacked_terminal, terminal};

/// Default size of [`render_svg`]'s picture, in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (960, 560);

/// The widest or tallest picture drawn, in pixels: a screen-filling chart is 4000 at most;
/// more is a typo that would otherwise allocate gigabytes.
pub const MAX_SIDE: u32 = 10_000;

/// The most pixels in one picture (4000 x 4000). A PNG is drawn at twice the size, so
/// this bounds its memory to about 250 MB.
pub const MAX_PIXELS: u64 = 16_000_000;

/// One picture: curves against a shared x axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Caption above the plot.
    pub title: String,
    /// What the x axis measures (`step`, `epoch`, `learning rate`).
    pub x_label: String,
    /// What the (left) y axis measures.
    pub y_label: String,
    /// Logarithmic x axis; points with `x <= 0` are left out.
    pub log_x: bool,
    /// Logarithmic y axis; points with `y <= 0` are left out.
    pub log_y: bool,
    /// The curves, drawn in order with the palette's colours.
    pub series: Vec<Series>,
    /// Vertical lines with a label.
    pub markers: Vec<Marker>,
    /// Curves against a second y axis on the right.
    pub secondary: Option<SecondaryAxis>,
}

impl Chart {
    /// An empty chart with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Chart::default()
        }
    }

    /// Adds a curve.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a vertical marker.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.markers.push(marker);
        self
    }

    /// Sets the y axis to logarithmic.
    pub fn with_log_y(mut self, log_y: bool) -> Self {
        self.log_y = log_y;
        self
    }

    /// Sets the x axis to logarithmic.
    pub fn with_log_x(mut self, log_x: bool) -> Self {
        self.log_x = log_x;
        self
    }

    /// Sets the second y axis.
    pub fn with_secondary(mut self, secondary: SecondaryAxis) -> Self {
        self.secondary = Some(secondary);
        self
    }
}

/// One named curve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// `(x, y)` points in x order; non-finite points are skipped and break the line.
    pub points: Vec<(f64, f64)>,
    /// `(x, lo, hi)`: a shaded band around the curve (e.g. the spread over seeds).
    pub band: Option<Vec<(f64, f64, f64)>>,
    /// Palette index to draw with; `None` takes the series' position. Lets a momentum
    /// curve on the secondary axis share its schedule's colour.
    pub color: Option<usize>,
}

impl Series {
    /// A curve with no band, coloured by its position.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            band: None,
            color: None,
        }
    }

    /// Adds a shaded band of `(x, lo, hi)`.
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }

    /// Draws with palette colour `index` (wrapping around the palette).
    pub fn with_color(mut self, index: usize) -> Self {
        self.color = Some(index);
        self
    }
}

/// A labelled vertical line at `x`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Marker {
    /// Where the line stands on the x axis.
    pub x: f64,
    /// Short text beside the line (`restart`, `x0.1`, `suggested`).
    pub label: String,
}

impl Marker {
    /// A marker at `x` with `label`.
    pub fn new(x: f64, label: impl Into<String>) -> Self {
        Marker {
            x,
            label: label.into(),
        }
    }
}

/// Curves against a second, linear y axis on the right (momentum beside the rate).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecondaryAxis {
    /// What the right axis measures.
    pub label: String,
    /// Its curves, drawn dashed.
    pub series: Vec<Series>,
}

/// What went wrong drawing a chart.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// The chart has no series at all.
    NoSeries {
        /// The chart's title.
        chart: String,
    },
    /// A series has no point that can be drawn.
    EmptySeries {
        /// The chart's title.
        chart: String,
        /// The series' name.
        series: String,
        /// Why nothing is left (no points, none finite, none positive on a log axis).
        why: String,
    },
    /// The requested size cannot hold a chart.
    TooSmall {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// The smallest that works.
        min: (u32, u32),
    },
    /// The requested size is more than [`MAX_SIDE`] on a side or [`MAX_PIXELS`] in all.
    TooLarge {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// The drawing library failed.
    Draw(String),
    /// PNG encoding failed.
    Encode(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::NoSeries { chart } => write!(f, "chart `{chart}` has no series to draw"),
            ReportError::EmptySeries { chart, series, why } => {
                write!(
                    f,
                    "chart `{chart}`: series `{series}` has nothing to draw: {why}"
                )
            }
            ReportError::TooSmall { width, height, min } => write!(
                f,
                "{width}x{height} is too small for a chart: at least {}x{}",
                min.0, min.1
            ),
            ReportError::TooLarge { width, height } => write!(
                f,
                "{width}x{height} is too large for a chart: at most {MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all"
            ),
            ReportError::Draw(m) => write!(f, "drawing failed: {m}"),
            ReportError::Encode(m) => write!(f, "PNG encoding failed: {m}"),
        }
    }
}

impl std::error::Error for ReportError {}

/// The palette (Tableau 10, then a near-black and a dark teal): distinct, colour-blind
/// friendlier than the primaries, and calm enough for a band at low opacity. Twelve
/// colours, because `lrsched compare`'s default set has eleven schedules and a wrapped
/// colour makes two curves indistinguishable.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (0x4E, 0x79, 0xA7),
    (0xF2, 0x8E, 0x2B),
    (0xE1, 0x57, 0x59),
    (0x76, 0xB7, 0xB2),
    (0x59, 0xA1, 0x4F),
    (0xED, 0xC9, 0x48),
    (0xB0, 0x7A, 0xA1),
    (0xFF, 0x9D, 0xA7),
    (0x9C, 0x75, 0x5F),
    (0xBA, 0xB0, 0xAC),
    (0x33, 0x33, 0x33),
    (0x11, 0x6A, 0x75),
];
