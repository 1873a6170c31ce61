//! Every renderer on realistic charts. Set `LRSCHED_REPORT_DUMP=DIR` to keep the pictures
//! for a look.

use lrsched_report::{
    render_png, render_svg, stacked_png, stacked_svg, stacked_terminal, terminal, Chart, Marker,
    ReportError, SecondaryAxis, Series,
};
use std::f64::consts::PI;

fn cosine(steps: usize, lr: f64) -> Vec<(f64, f64)> {
    (0..=steps)
        .map(|s| {
            let t = s as f64 / steps as f64;
            (s as f64, lr * 0.5 * (1.0 + (PI * t).cos()))
        })
        .collect()
}

fn step_decay(steps: usize) -> Vec<(f64, f64)> {
    (0..=steps)
        .map(|s| (s as f64, 0.1 * 0.1f64.powi((s / 300) as i32)))
        .collect()
}

fn two_schedules() -> Chart {
    Chart::new("Learning rate", "step", "learning rate")
        .with_series(Series::new("cosine(lr=0.1, steps=1000)", cosine(1000, 0.1)))
        .with_series(Series::new(
            "step(lr=0.1, step_size=300, gamma=0.1)",
            step_decay(1000),
        ))
        .with_marker(Marker::new(300.0, "x0.1"))
        .with_marker(Marker::new(600.0, "x0.1"))
        .with_marker(Marker::new(900.0, "x0.1"))
}

fn dump(name: &str, bytes: &[u8]) {
    if let Ok(dir) = std::env::var("LRSCHED_REPORT_DUMP") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(std::path::Path::new(&dir).join(name), bytes);
    }
}

/// Width, height and RGB(A) pixels of a PNG.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn variance(pixels: &[u8]) -> f64 {
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|&p| p as f64).sum::<f64>() / n;
    pixels
        .iter()
        .map(|&p| (p as f64 - mean).powi(2))
        .sum::<f64>()
        / n
}

#[test]
fn svg_names_every_series_and_draws_a_line_for_each() {
    let chart = two_schedules();
    let svg = render_svg(&chart).unwrap();
    dump("two.svg", svg.as_bytes());
    assert!(svg.starts_with("<svg"));
    for s in &chart.series {
        assert!(svg.contains(&s.name), "legend lacks {}", s.name);
    }
    // One polyline per curve (plotters draws line series as polylines), in its colour.
    for (i, colour) in ["#4E79A7", "#F28E2B"].iter().enumerate() {
        let lines = svg
            .lines()
            .filter(|l| l.contains("<polyline") && l.contains(colour))
            .count();
        assert!(lines >= 1, "series {i} has no line");
    }
    assert!(svg.contains("x0.1"), "marker label missing");
}

#[test]
fn png_decodes_to_the_requested_size_and_is_not_blank() {
    let png_bytes = render_png(&two_schedules(), 800, 500).unwrap();
    dump("two.png", &png_bytes);
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h, pixels) = decode(&png_bytes);
    assert_eq!((w, h), (800, 500));
    assert!(variance(&pixels) > 100.0, "the picture is blank");
    // Text is drawn from the embedded font: dark pixels exist outside the curves'
    // colours, in the left label strip.
    let dark_in_labels = (0..h as usize)
        .flat_map(|y| (0..60usize).map(move |x| (x, y)))
        .any(|(x, y)| pixels[(y * w as usize + x) * 3] < 100);
    assert!(dark_in_labels, "no tick label text drawn");
}

#[test]
fn log_axis_skips_non_positive_points_without_panicking() {
    let mut points = cosine(200, 0.1); // ends at exactly 0
    points.push((201.0, -1.0));
    points.push((202.0, f64::NAN));
    let chart = Chart::new("log", "step", "lr")
        .with_log_y(true)
        .with_series(Series::new("cosine", points))
        .with_series(Series::new(
            "exp",
            (0..200)
                .map(|s| (s as f64, 0.1 * 0.97f64.powi(s)))
                .collect(),
        ));
    let png_bytes = render_png(&chart, 700, 420).unwrap();
    dump("log.png", &png_bytes);
    let svg = render_svg(&chart).unwrap();
    assert!(
        svg.contains("1e-") || svg.contains("0.001"),
        "no log tick labels"
    );
    assert!(terminal(&chart, 60, 14, false).is_ok());
}

#[test]
fn empty_or_undrawable_series_are_errors() {
    let empty = Chart::new("t", "x", "y").with_series(Series::new("nothing", vec![]));
    let e = render_svg(&empty).unwrap_err();
    assert!(matches!(e, ReportError::EmptySeries { .. }), "{e}");
    assert!(e.to_string().contains("nothing"));
    let negative = Chart::new("t", "x", "y")
        .with_log_y(true)
        .with_series(Series::new("neg", vec![(0.0, -1.0), (1.0, 0.0)]));
    let e = render_png(&negative, 400, 300).unwrap_err();
    assert!(e.to_string().contains("positive"), "{e}");
    let none = Chart::new("t", "x", "y");
    assert!(matches!(
        render_svg(&none),
        Err(ReportError::NoSeries { .. })
    ));
    assert!(terminal(&none, 40, 10, false).is_err());
    let nan = Chart::new("t", "x", "y").with_series(Series::new("nan", vec![(0.0, f64::NAN)]));
    assert!(render_png(&nan, 400, 300).is_err());
    assert!(matches!(
        render_png(&two_schedules(), 10, 10),
        Err(ReportError::TooSmall { .. })
    ));
}

#[test]
fn constant_and_single_point_series_draw() {
    let chart = Chart::new("constant", "step", "lr")
        .with_series(Series::new("constant", vec![(0.0, 0.1), (100.0, 0.1)]))
        .with_series(Series::new("one point", vec![(5.0, 0.2)]));
    assert!(render_png(&chart, 400, 300).is_ok());
    assert!(terminal(&chart, 40, 10, false).is_ok());
}

#[test]
fn momentum_on_a_second_axis_and_a_band() {
    let one_cycle: Vec<(f64, f64)> = (0..=500)
        .map(|s| {
            let t = s as f64 / 500.0;
            let v = if t < 0.3 {
                0.004 + (0.1 - 0.004) * 0.5 * (1.0 - (PI * t / 0.3).cos())
            } else {
                0.1 * 0.5 * (1.0 + (PI * (t - 0.3) / 0.7).cos())
            };
            (s as f64, v)
        })
        .collect();
    let momentum: Vec<(f64, f64)> = one_cycle
        .iter()
        .map(|&(s, v)| (s, 0.95 - (0.95 - 0.85) * v / 0.1))
        .collect();
    let band = one_cycle
        .iter()
        .map(|&(s, v)| (s, v * 0.9, v * 1.1))
        .collect();
    let chart = Chart::new("one_cycle", "step", "learning rate")
        .with_series(
            Series::new("one_cycle(max_lr=0.1, total_steps=500)", one_cycle).with_band(band),
        )
        .with_secondary(SecondaryAxis {
            label: "momentum".into(),
            series: vec![Series::new("momentum", momentum).with_color(0)],
        });
    let png_bytes = render_png(&chart, 900, 520).unwrap();
    dump("momentum.png", &png_bytes);
    let svg = render_svg(&chart).unwrap();
    assert!(svg.contains("momentum"));
    let text = terminal(&chart, 70, 18, false).unwrap();
    assert!(text.contains("momentum"));
}

#[test]
fn stacked_charts_share_the_x_axis() {
    let lr =
        Chart::new("Learning rate", "step", "lr").with_series(Series::new("lr", cosine(400, 0.1)));
    let loss: Vec<(f64, f64)> = (0..=400)
        .map(|s| {
            (
                s as f64,
                2.3 * (-(s as f64) / 120.0).exp() + 0.1 + 0.05 * ((s * 7919) % 13) as f64 / 13.0,
            )
        })
        .collect();
    let loss = Chart::new("Loss", "step", "loss")
        .with_series(Series::new("training loss (step)", loss))
        .with_series(Series::new(
            "validation loss (epoch)",
            (1..=4)
                .map(|e| (e as f64 * 100.0, 2.3 * (-(e as f64) / 1.2).exp() + 0.2))
                .collect(),
        ));
    let png_bytes = stacked_png(&[lr.clone(), loss.clone()], 900, 800).unwrap();
    dump("stacked.png", &png_bytes);
    let (w, h, _) = decode(&png_bytes);
    assert_eq!((w, h), (900, 800));
    let svg = stacked_svg(&[lr, loss], 900, 800).unwrap();
    assert!(svg.contains("validation loss (epoch)"));
}

#[test]
fn terminal_has_the_requested_size_and_braille() {
    for (w, h) in [(80, 24), (40, 10), (120, 30)] {
        let text = terminal(&two_schedules(), w, h, false).unwrap();
        assert_eq!(text.lines().count(), h, "{text}");
        for line in text.lines() {
            assert_eq!(line.chars().count(), w, "line `{line}`");
        }
        assert!(text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)));
        assert!(text.contains('┴'), "markers on the axis");
    }
    let coloured = terminal(&two_schedules(), 80, 24, true).unwrap();
    assert!(coloured.contains("\x1b[34m"));
    if std::env::var("LRSCHED_REPORT_DUMP").is_ok() {
        println!("{}", terminal(&two_schedules(), 80, 24, false).unwrap());
    }
}

#[test]
fn long_traces_are_thinned_but_keep_their_spikes() {
    let mut points: Vec<(f64, f64)> = (0..200_000).map(|s| (s as f64, 0.01)).collect();
    points[123_457].1 = 1.0;
    let chart = Chart::new("spike", "step", "lr").with_series(Series::new("spiky", points));
    let svg = render_svg(&chart).unwrap();
    assert!(svg.len() < 400_000, "SVG is {} bytes", svg.len());
    // The spike sets the y range: a tick at 1 (or above) exists.
    assert!(svg.lines().any(|l| l.trim() == "1"), "spike lost");
}

#[test]
fn stacked_terminal_lines_up_and_fills_the_height() {
    let lr = Chart::new("lr", "step", "").with_series(Series::new("lr", cosine(90, 0.1)));
    let loss = Chart::new("loss", "step", "").with_series(Series::new(
        "loss",
        (0..=100)
            .map(|s| (s as f64, 20.0 / (1.0 + s as f64)))
            .collect(),
    ));
    let text = stacked_terminal(&[lr, loss], 64, 25, false).unwrap();
    assert_eq!(text.lines().count(), 25);
    assert!(text.lines().all(|l| l.chars().count() == 64), "{text}");
    // Both y axes stand in the same column.
    let axis_cols: Vec<usize> = text
        .lines()
        .filter_map(|l| l.chars().position(|c| c == '└'))
        .collect();
    assert_eq!(axis_cols.len(), 2);
    assert_eq!(axis_cols[0], axis_cols[1], "{text}");
}
