//! `lrsched convert`: a schedule written in the native one-line form or in another
//! library's config form, with notes where that form is not exact.

use crate::UserError;
use lrsched::convert::{convert, Target};
use lrsched::oneline;
use std::path::PathBuf;

/// The arguments of `lrsched convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// A JSON or TOML config file (native, PyTorch, or a paste-in from transformers, timm,
    /// optax or Keras).
    #[arg(
        long,
        conflicts_with = "schedule",
        required_unless_present = "schedule"
    )]
    config: Option<PathBuf>,
    /// A schedule in the one-line form, e.g. "cosine(lr=0.1, steps=1000)".
    #[arg(long)]
    schedule: Option<String>,
    /// The form to write: native, torch, transformers, timm, optax or keras.
    #[arg(long)]
    to: String,
    /// How to print the converted config.
    #[arg(long, value_enum, default_value = "oneline")]
    format: OutFormat,
}

/// How the converted config is printed.
#[derive(Clone, Copy, clap::ValueEnum)]
enum OutFormat {
    /// The one-line form, which `--schedule` reads back.
    Oneline,
    /// A compact JSON config, which `--config` reads back.
    Json,
}

/// Prints the converted config on stdout and each note on stderr as `note: ...`.
pub fn run(args: &ConvertArgs) -> Result<(), UserError> {
    // The target first: a misspelt one is reported before any file is read.
    let to: Target = args.to.parse()?;
    let schedule = match (&args.schedule, &args.config) {
        (Some(text), _) => oneline::parse(text)?,
        (None, Some(path)) => crate::load_config(path, None)?,
        (None, None) => {
            return Err(UserError(
                "give --config FILE or --schedule \"ONE-LINE\"".into(),
            ))
        }
    };
    let c = convert(&schedule, to)?;
    let text = match args.format {
        OutFormat::Oneline => oneline::print_value(&c.config),
        OutFormat::Json => c.config.to_string(),
    };
    println!("{text}");
    for n in &c.notes {
        eprintln!("note: {n}");
    }
    Ok(())
}
