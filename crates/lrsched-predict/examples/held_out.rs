//! Fits both laws to the first two metrics files and predicts the final loss of the rest
//! from their own recorded rates; prints predicted vs measured, Spearman's rank correlation
//! and the median relative error.
//!
//! `cargo run --release -p lrsched-predict --example held_out -- FIT1 FIT2 HELDOUT...`

use lrsched_predict::{bootstrap, fit, Law, Run};
use std::path::Path;

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    for (rank, &i) in order.iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.len() < 3 {
        return Err("usage: held_out FIT1 FIT2 HELDOUT...".into());
    }
    let runs: Vec<Run> = paths
        .iter()
        .map(|p| Run::read_metrics(Path::new(p)))
        .collect::<Result<_, _>>()?;
    let (fitting, held) = runs.split_at(2);
    for law in Law::ALL {
        let started = std::time::Instant::now();
        let fitted = fit(law, fitting)?;
        let candidates: Vec<Vec<f64>> = held.iter().map(|r| r.lrs.clone()).collect();
        let intervals = bootstrap(&fitted, fitting, &candidates, 50, 1);
        println!(
            "{}: parameters {:?}, R^2 {:.4}, rms {:.2}%, poor: {:?} ({:.1}s)",
            law.name(),
            fitted.parameters,
            fitted.quality.r2,
            fitted.quality.rms_relative_error * 100.0,
            fitted.quality.poor,
            started.elapsed().as_secs_f64()
        );
        let (mut predicted, mut measured, mut errors) = (vec![], vec![], vec![]);
        for (run, i) in held.iter().zip(&intervals) {
            let m = run.final_loss();
            println!(
                "  {:40} predicted {:.4} [{:.4}, {:.4}]  measured {:.4}  error {:+.1}%",
                run.name,
                i.value,
                i.lo,
                i.hi,
                m,
                (i.value - m) / m * 100.0
            );
            predicted.push(i.value);
            measured.push(m);
            errors.push(((i.value - m) / m).abs());
        }
        errors.sort_by(f64::total_cmp);
        println!(
            "  Spearman {:.3}, median relative error {:.1}%",
            spearman(&predicted, &measured),
            errors[errors.len() / 2] * 100.0
        );
    }
    Ok(())
}
