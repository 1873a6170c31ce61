//! `lrsched predict`: flags -> [`PredictSpec`] -> `lrsched_tools::predict::run` -> table.

use crate::UserError;
use lrsched_predict::{Law, LawChoice};
use lrsched_tools::predict::{run, PredictSpec};
use std::path::PathBuf;

/// The flags of `lrsched predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// A finished run: a metrics file with step lines {"step", "lr", "loss"} (train's
    /// <stem>.steps.jsonl, your program's), or a compare/tune trial folder; 1 to 3 times.
    #[arg(long = "runs", value_name = "FILE_OR_DIR", required = true)]
    runs: Vec<PathBuf>,
    /// The candidate schedules, as `compare --schedules` reads them.
    #[arg(long, value_name = "FILE")]
    schedules: PathBuf,
    /// Epochs of a candidate run: "1ep" is steps/epochs steps.
    #[arg(long, default_value_t = 1)]
    epochs: u64,
    /// Steps of a candidate run (default: the longest run's).
    #[arg(long)]
    steps: Option<u64>,
    /// The law: annealing (Tissue et al. 2024), multi-power (Luo et al. 2025), or both
    /// (fit both, predict with the better).
    #[arg(long, default_value = "both")]
    law: String,
    /// Bootstrap fits for the intervals (0 to 10000).
    #[arg(long, default_value_t = 200)]
    resamples: usize,
    /// The bootstrap's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder (fresh; default runs/predict-<timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also search warmup-stable-decay cooldowns and cosine floors at the runs' peak rate
    /// for the lowest predicted final loss; writes optimized.json for compare --schedules.
    #[arg(long)]
    optimize: bool,
}

impl PredictArgs {
    /// The checked spec these flags give.
    fn spec(&self) -> Result<PredictSpec, UserError> {
        let law = match self.law.as_str() {
            "both" => LawChoice::Both,
            name => {
                LawChoice::One(Law::from_name(name).map_err(|e| UserError(format!("--law: {e}")))?)
            }
        };
        Ok(PredictSpec {
            runs: self.runs.clone(),
            schedules: self.schedules.clone(),
            epochs: self.epochs,
            steps: self.steps,
            law,
            resamples: self.resamples,
            seed: self.seed,
            out: self.out.clone(),
            optimize: self.optimize,
        })
    }
}

/// Runs `lrsched predict` and prints its table and where its files are.
pub fn predict(args: &PredictArgs, command_line: &str) -> Result<(), UserError> {
    let spec = args.spec()?;
    let done = run(&spec, command_line).map_err(UserError)?;
    print!("{}", done.table);
    println!(
        "wrote {} and {}",
        done.out.join("predictions.json").display(),
        done.out.join("report.html").display()
    );
    Ok(())
}
