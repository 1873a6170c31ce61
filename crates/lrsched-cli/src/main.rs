//! The `lrsched` command.

use clap::{Parser, Subcommand, ValueEnum};
use lrsched::spec::TextFormat;
use lrsched::time::RunShape;
use lrsched::{config, AnySchedule, Schedule, ScheduleError, ScheduleSpec};
use lrsched_tools::trace::{self, TraceError, TraceFormat, TraceParam};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A flag's value names (clap's `ValueEnum`) for a library enum, and the conversion to
/// it: the spec holds the library's type, the flag parser this one.
macro_rules! flag_enum {
    ($name:ident => $lib:ident { $($(#[$vm:meta])* $v:ident => $lv:ident),* $(,)? }) => {
        #[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
        pub enum $name { $($(#[$vm])* $v),* }
        impl From<$name> for $lib {
            fn from(a: $name) -> $lib { match a { $($name::$v => $lib::$lv),* } }
        }
    };
}

mod compare;
mod convert;
mod find_lr;
mod notes;
mod plot;
mod predict;
mod report;
mod train;
mod trial_flags;
mod tune;

#[derive(Parser)]
#[command(
    name = "lrsched",
    version,
    about = "Learning-rate schedules: find a rate, compare and tune schedules on a training run, train, trace, plot and convert them.",
    after_help = "Examples:\n  lrsched compare                                  # 11 schedules x 3 seeds on built-in digits, report.html\n  lrsched find-lr --seeds 3                        # the learning-rate range test\n  lrsched tune --space space.toml                  # search a schedule's parameters\n  lrsched train --schedule \"one_cycle(max_lr=0.2, total_steps=100%)\"\n  lrsched trace --schedule \"warmup(steps=5, schedule=cosine(lr=0.1, steps=15))\" --steps 20\n  lrsched trace --config steplr.json --steps 100 --format csv\n  lrsched list"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a schedule's value for steps 0..N-1.
    #[command(
        after_help = "Examples:\n  lrsched trace --schedule \"cosine(lr=0.1, steps=100)\" --steps 101\n  lrsched trace --config plateau.json --metrics val_loss.txt --steps 50\n  lrsched trace --schedule \"one_cycle(max_lr=0.1, total_steps=100)\" --steps 100 --param momentum"
    )]
    Trace(TraceArgs),
    /// List every schedule type with its parameters and defaults.
    List,
    /// Train a network with a schedule driving the learning rate.
    #[command(
        after_help = "Examples:\n  lrsched train                                   # digits, 64 hidden units, SGD momentum, 10 epochs\n  lrsched train --schedule \"one_cycle(max_lr=0.1, total_steps=100%)\" --epochs 5\n  lrsched train --data mnist --data-dir ~/mnist --model 128 --optimizer momentum --lr 0.1 --schedule-config steplr.json --epochs 20\n  lrsched train --checkpoint-dir ckpt --resume --metrics-out metrics.jsonl"
    )]
    Train(Box<train::TrainCmd>),
    /// Write a schedule as a native one-line form or as another library's config, with
    /// notes on stderr where that form is not exact.
    #[command(
        after_help = "Examples:\n  lrsched convert --config hf_cosine.json --to native\n  lrsched convert --config hf_cosine.json --to torch --format json\n  lrsched convert --schedule \"warmup(steps=100, schedule=cosine(lr=0.1, steps=900))\" --to optax\n\nTargets: native, torch, transformers, timm, optax, keras. Every form is read back and compared\nwith the source step by step; where it is not exact to 1e-10, a `note:` on stderr says from\nwhich step and by how much it differs."
    )]
    Convert(convert::ConvertArgs),
    /// Draw schedules (one-line forms, configs) or a saved run's metrics to PNG and SVG,
    /// or in the terminal: overlaid curves, log axis, restarts and drops marked, momentum
    /// on a second axis; for a run, learning rate and loss against step.
    #[command(
        after_help = "Examples:\n  lrsched plot --schedule \"cosine(lr=0.1, steps=1000)\" --schedule \"step(lr=0.1, step_size=300, gamma=0.1)\" --steps 1000\n  lrsched plot --config onecycle.json --steps 500 --momentum --out plots --name onecycle\n  lrsched plot --schedule \"exponential(lr=0.1, gamma=0.99)\" --steps 500 --log-y --terminal\n  lrsched train --epochs 5 --metrics-out m.jsonl && lrsched plot --run m.jsonl\n\nFiles go to --out DIR (default runs/plot-<timestamp>/) as <name>.png and <name>.svg; their paths\nare printed. Dashed lines mark where a schedule drops (labelled with the factor), restarts\nor a join moves to its next part."
    )]
    Plot(Box<plot::PlotArgs>),
    /// The learning-rate range test (Smith 2017, as fastai's lr_find): raise the rate from
    /// --start to --end over --steps updates (100), suggest rates (valley, steepest,
    /// minimum/10) with their spread over --seeds, plot loss against rate.
    #[command(
        after_help = "Examples:\n  lrsched find-lr                                  # digits, 1e-7 to 10 over 100 steps\n  lrsched find-lr --seeds 5 --optimizer adam --apply onecycle --out runs/lr\n  lrsched find-lr --data mnist --data-dir ~/mnist --model 128 --steps 100 --mode linear --start 1e-4 --end 1\n  lrsched find-lr --command \"python train.py\" --seeds 3 --steps-per-epoch 390\n\nWrites loss_vs_lr.svg/png, find_lr.json and report.html to --out DIR (default\nruns/find-lr-<timestamp>/), and with --apply onecycle|cosine a suggested.json that\n`lrsched train --schedule-config` takes. The model and optimizer start as `train` would\nstart them (same flags, same --seed); the sweep never touches the run itself.\nWith --command, each seed runs your program once (docs/protocol.md): it must write a\nstep line {\"step\", \"lr\", \"loss\"} per update and is stopped once the smoothed loss\npasses 4x its best or the steps are done; a seed that fails is reported, and if no\nseed gives a curve find-lr exits 1."
    )]
    FindLr(Box<find_lr::FindLrArgs>),
    /// Train the same model under several schedules over several seeds, in parallel; rank
    /// them and write report.html with the curves, metrics.jsonl/csv and steps.jsonl.
    #[command(
        after_help = "Examples:\n  lrsched compare                                  # digits, 15 schedules and optimizers x 3 seeds, 15 epochs\n  lrsched compare --seeds 5 --epochs 30 --jobs 2 --out runs/cmp\n  lrsched compare --schedules mine.toml --optimizer adam --target 0.9\n  lrsched compare --preset xor\n  lrsched compare --preset mnist --data-dir ~/mnist\n  lrsched compare --workloads workloads.toml --out runs/across    # AlgoPerf's profiles (docs/workloads.md)\n  lrsched compare --command \"python train.py\" --honours-optimizer  # LR-free baselines too (docs/protocol.md)\n\n--schedules FILE is a JSON list [{\"name\": \"cos\", \"schedule\": \"cosine(lr=0.1, steps=100%)\"}] or TOML\n[[schedules]] tables with name, schedule (a one-line form or a config table), and optionally\noptimizer and interval. Durations such as \"100%\" or \"3ep\" fit any run length."
    )]
    Compare(Box<compare::CompareArgs>),
    /// Predict each schedule's loss curve and final loss from one to three finished runs,
    /// by the loss-curve laws of Tissue et al. 2024 and Luo et al. 2025, before running any.
    #[command(
        after_help = "Examples:\n  lrsched train --data mnist --data-dir ~/mnist --model 784-128-10 --epochs 3 --schedule \"constant(lr=0.05)\" --metrics-out c.jsonl\n  lrsched train ... --schedule \"cosine(lr=0.05, steps=100%)\" --metrics-out cos.jsonl\n  lrsched predict --runs c.steps.jsonl --runs cos.steps.jsonl --schedules candidates.toml --epochs 3\n\n--runs takes metrics files with step lines {\"step\", \"lr\", \"loss\"} or compare/tune trial folders;\n--schedules the format of compare --schedules. Writes predictions.json and report.html to --out\n(default runs/predict-<timestamp>/); the laws and the fit are described in docs/predict.md."
    )]
    Predict(Box<predict::PredictArgs>),
    /// Search a schedule's hyper-parameters (grid, random, or successive halving) over a
    /// TOML search space; trials run as parallel processes and resume after a kill.
    #[command(after_help = tune::after_help())]
    Tune(Box<tune::TuneArgs>),
}

#[derive(clap::Args)]
struct TraceArgs {
    /// A JSON or TOML config file.
    #[arg(
        long,
        conflicts_with = "schedule",
        required_unless_present = "schedule"
    )]
    config: Option<PathBuf>,
    /// A schedule in the one-line form, e.g. "cosine(lr=0.1, steps=1000)".
    #[arg(long)]
    schedule: Option<String>,
    /// How many values to print (0..N-1, at most 10^9, streamed): optimizer steps, or epochs for a schedule stepped
    /// per epoch (the config's "interval", else per epoch for PyTorch classes but
    /// OneCycleLR and CyclicLR; CSV's header and JSON's "interval" say which).
    #[arg(long)]
    steps: u64,
    /// A file with one metric per line, fed to metric-driven schedules: value i is the
    /// one after the metric on line i (PyTorch's step(metrics[i-1])).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value = "lr")]
    param: Param,
    /// Output format.
    #[arg(long, value_enum, default_value = "plain")]
    format: Format,
    /// Steps per epoch, to resolve durations such as "3ep" in the schedule.
    #[arg(long)]
    steps_per_epoch: Option<u64>,
    /// Epochs in the run, to resolve fractions such as "10%".
    #[arg(long, allow_hyphen_values = true)]
    epochs: Option<f64>,
}

flag_enum!(Param => TraceParam { Lr => Lr, Momentum => Momentum });
flag_enum!(Format => TraceFormat { Plain => Plain, Csv => Csv, Json => Json });

/// An error for the user: printed on one line, exit code 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl From<ScheduleError> for UserError {
    fn from(e: ScheduleError) -> Self {
        UserError(e.to_string())
    }
}

fn main() -> ExitCode {
    notes::install();
    // Before any thread starts: Ctrl-C then stops every trial's process group too.
    lrsched_tools::process::cancel_on_interrupt();
    // The matches stay at hand so a tool can tell a typed flag from its default
    // (`ArgMatches::value_source`) without reading argv itself.
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let sub = |name: &str| {
        matches
            .subcommand_matches(name)
            .cloned()
            .unwrap_or_default()
    };
    let result = match cli.command {
        Command::Trace(args) => trace(&args),
        Command::List => {
            list();
            Ok(())
        }
        Command::Convert(args) => convert::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::FindLr(args) => match find_lr::run(&args, matches.subcommand_matches("find-lr")) {
            Ok(0) => Ok(()),
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Predict(args) => predict::predict(&args, &report::command_line()),
        Command::Compare(args) => compare::run(&args, &sub("compare")),
        Command::Tune(args) => tune::run(
            &args,
            matches
                .subcommand_matches("tune")
                .expect("clap matched the tune subcommand"),
        ),
        Command::Train(args) => match train::run(&args) {
            Ok(0) => Ok(()),
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(message)) => {
            // Whatever the error quotes of the input is cut (`lrsched::shorten`): a
            // pasted file is not echoed back whole.
            eprintln!("error: {}", lrsched::shorten(&message));
            ExitCode::from(2)
        }
    }
}

/// A schedule config file, read the one way every command reads one
/// (`lrsched::ScheduleSpec::parse_file`), durations resolved with `shape`.
pub fn load_config(path: &Path, shape: Option<&RunShape>) -> Result<AnySchedule, UserError> {
    config_spec(path)?.build(shape).map_err(|e| at(path, e))
}

/// A schedule config file as the core's one schedule source.
fn config_spec(path: &Path) -> Result<ScheduleSpec, UserError> {
    ScheduleSpec::parse_file(&read(path)?, path).map_err(|e| at(path, e))
}

fn at(path: &Path, e: ScheduleError) -> UserError {
    UserError(format!("{}: {e}", path.display()))
}

/// The run `--steps-per-epoch` and `--epochs` of trace and plot describe, to resolve
/// durations ("3ep", "10%"); `None` when neither is given.
pub fn run_shape(steps_per_epoch: Option<u64>, epochs: Option<f64>) -> Option<RunShape> {
    let shape = RunShape::new(steps_per_epoch.unwrap_or(1), 1);
    match (steps_per_epoch, epochs) {
        (None, None) => None,
        (_, Some(e)) => Some(shape.with_epochs(e)),
        (Some(_), None) => Some(shape),
    }
}

/// The schedule and the interval it steps at (the config's `interval`, else the rule in
/// `lrsched::config::interval_of`).
fn load_schedule(args: &TraceArgs) -> Result<config::Config, UserError> {
    let shape = run_shape(args.steps_per_epoch, args.epochs);
    if let Some(text) = &args.schedule {
        return Ok(ScheduleSpec::parse_as(text, TextFormat::OneLine)?.load(shape.as_ref())?);
    }
    let path = args.config.as_ref().expect("clap requires one");
    config_spec(path)?
        .load(shape.as_ref())
        .map_err(|e| at(path, e))
}

fn read(path: &Path) -> Result<String, UserError> {
    lrsched_tools::files::read_input(path, lrsched_tools::files::MAX_INPUT_BYTES).map_err(UserError)
}

fn read_metrics(path: &Path) -> Result<Vec<f64>, UserError> {
    lrsched_tools::files::read_metric_lines(path).map_err(UserError)
}

/// The most values `trace` prints: a billion lines is tens of gigabytes of text; more is
/// a typo. Output is streamed, so memory stays the same at any count.
const MAX_TRACE_STEPS: u64 = 1_000_000_000;

/// `--epochs` of `trace` and `plot` (a run's length, to resolve "10%"): a finite
/// number above 0.
pub fn check_run_epochs(epochs: Option<f64>) -> Result<(), UserError> {
    match epochs {
        Some(e) if !(e.is_finite() && e > 0.0) => Err(UserError(format!(
            "--epochs {e} is not allowed: must be a finite number > 0"
        ))),
        _ => Ok(()),
    }
}

fn trace(args: &TraceArgs) -> Result<(), UserError> {
    check_run_epochs(args.epochs)?;
    let n = args.steps;
    if n > MAX_TRACE_STEPS {
        return Err(UserError(format!(
            "--steps {n} is not allowed: at most {MAX_TRACE_STEPS} values are printed"
        )));
    }
    let config::Config {
        mut schedule,
        interval,
    } = load_schedule(args)?;
    match &args.metrics {
        Some(path) => {
            trace::feed_metrics(&mut schedule, &read_metrics(path)?, path, n).map_err(UserError)?
        }
        None if schedule.needs_metric() && n > 1 => {
            return Err(UserError(format!(
                "`{}` is driven by a metric: give --metrics FILE with one value per line",
                schedule.type_name()
            )))
        }
        None => {}
    }
    if args.param == Param::Momentum && n > 0 && schedule.momentum(0).is_none() {
        return Err(UserError(trace::no_momentum(&schedule)));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (format, param) = (args.format.into(), args.param.into());
    match trace::write_trace(&mut out, &schedule, n, format, param, interval) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader saying it has enough: not an error.
        Err(TraceError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(TraceError::Io(e)) => Err(UserError(format!("cannot write the trace: {e}"))),
        Err(TraceError::Schedule(e)) => Err(UserError(e)),
    }
}

/// Prints the catalog; a closed pipe (`lrsched list | head`) ends it quietly.
fn list() {
    use std::io::Write;
    let width = lrsched::catalog::all()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(width + 4);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut print = || -> std::io::Result<()> {
        for (group, title) in [
            ("schedule", "Schedules"),
            ("combinator", "Combinators"),
            ("torch", "PyTorch classes (torch.optim.lr_scheduler; keyword arguments unchanged, base rate as `lr`)"),
            ("transformers", "transformers (keyword arguments unchanged, base rate as `lr`)"),
            ("timm", "timm schedulers (stepped per update; keyword arguments unchanged, base rate as `lr`)"),
            ("optax", "optax schedules (keyword arguments unchanged)"),
            ("keras", "Keras (keras.optimizers.schedules; keyword arguments unchanged)"),
        ] {
            if lrsched::catalog::all().all(|t| t.group != group) {
                continue;
            }
            writeln!(out, "{title}:")?;
            for t in lrsched::catalog::all().filter(|t| t.group == group) {
                writeln!(out, "  {:width$}  {}", t.name, t.summary)?;
                writeln!(out, "{indent}{}", t.params)?;
                writeln!(out, "{indent}e.g. {}", t.example)?;
            }
            writeln!(out)?;
        }
        writeln!(out, "A bare key is required; key=value shows the default. Durations take steps, \"3ep\" or \"10%\".")?;
        out.flush()
    };
    // A write error here is the reader going away (`| head`): nothing to report.
    let _ = print();
}
