//! Trains a small candle MLP for a few steps and checks, step by step, the rate (and
//! momentum) the optimizer really used against lrsched's own values: what `lrsched trace`
//! prints.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap, SGD};
use lrsched::{
    AnySchedule, Cosine, Driver, Interval, OneCycle, Plateau, Schedule, StepDecay, Warmup,
};
use lrsched_candle::{Momentum, Scheduled};

/// XOR: four points, a 2-8-1 MLP, mean squared error.
struct Xor {
    x: Tensor,
    y: Tensor,
    model: candle_nn::Sequential,
    vars: VarMap,
}

fn xor() -> Xor {
    let dev = Device::Cpu;
    let x = Tensor::new(&[[0f32, 0.], [0., 1.], [1., 0.], [1., 1.]], &dev).unwrap();
    let y = Tensor::new(&[[0f32], [1.], [1.], [0.]], &dev).unwrap();
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &dev);
    let model = candle_nn::seq()
        .add(candle_nn::linear(2, 8, vb.pp("l1")).unwrap())
        .add_fn(|x| x.tanh())
        .add(candle_nn::linear(8, 1, vb.pp("l2")).unwrap());
    Xor { x, y, model, vars }
}

impl Xor {
    fn loss(&self) -> Tensor {
        let out = self.model.forward(&self.x).unwrap();
        candle_nn::loss::mse(&out, &self.y).unwrap()
    }
    fn params(&self) -> Vec<Var> {
        self.vars.all_vars()
    }
}

/// Trains `n` steps and returns the rate the wrapped optimizer held at each step.
fn train<O: Optimizer + 'static>(net: &Xor, opt: &mut Scheduled<O>, n: u64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let used = opt.optimizer().learning_rate();
            opt.backward_step(&net.loss()).unwrap();
            used
        })
        .collect()
}

#[test]
fn sgd_follows_warmup_cosine_exactly() {
    let net = xor();
    let schedule = Warmup::linear(5, Cosine::new(0.5, 20).with_min_lr(0.01));
    let mut opt = Scheduled::new(SGD::new(net.params(), 123.0).unwrap(), schedule.clone()).unwrap();
    let first = net.loss().to_scalar::<f32>().unwrap();
    let used = train(&net, &mut opt, 30);
    assert_eq!(used, schedule.values(0..30));
    // The steps really moved the weights (random init: no claim on how far).
    assert_ne!(net.loss().to_scalar::<f32>().unwrap(), first);
    assert_eq!(opt.current_step(), 30);
}

#[test]
fn adamw_follows_one_cycle_rate_and_beta1() {
    let net = xor();
    let schedule = OneCycle::new(0.05, 25).with_momentum(Some((0.85, 0.95)));
    let adamw = AdamW::new(net.params(), ParamsAdamW::default()).unwrap();
    let mut opt = Scheduled::new(adamw, schedule.clone())
        .unwrap()
        .with_momentum();
    let mut rates = Vec::new();
    let mut betas = Vec::new();
    for _ in 0..25 {
        rates.push(opt.optimizer().learning_rate());
        betas.push(Some(opt.optimizer().momentum()));
        opt.backward_step(&net.loss()).unwrap();
    }
    assert_eq!(rates, schedule.values(0..25));
    assert_eq!(betas, schedule.momenta(0..25));
}

#[test]
fn adamw_beta1_follows_a_pasted_one_cycle_without_with_momentum() {
    // PyTorch's OneCycleLR cycles Adam's betas[0] by default (cycle_momentum=True): so does
    // the wrapper, for PyTorch's config as pasted, with no `.with_momentum()`.
    let net = xor();
    let config = lrsched::config::load_json_str(
        r#"{"type": "OneCycleLR", "max_lr": 0.05, "total_steps": 20}"#,
        None,
    )
    .unwrap();
    assert_eq!(
        config.interval,
        Interval::Step,
        "PyTorch steps OneCycleLR per batch"
    );
    let schedule = config.schedule.clone();
    let adamw = AdamW::new(net.params(), ParamsAdamW::default()).unwrap();
    let mut opt = Scheduled::new(adamw, config).unwrap();
    let mut betas = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..20 {
        rates.push(opt.optimizer().learning_rate());
        betas.push(Some(opt.optimizer().momentum()));
        opt.backward_step(&net.loss()).unwrap();
    }
    assert_eq!(rates, schedule.values(0..20));
    assert_eq!(betas, schedule.momenta(0..20));
    assert_eq!(betas[0], Some(0.95), "max_momentum at the start");
    assert!(
        betas[6].unwrap() < 0.86,
        "near base_momentum at the peak: {betas:?}"
    );
}

#[test]
fn beta1_is_left_alone_by_schedules_without_momentum() {
    for text in [
        r#"{"type": "OneCycleLR", "max_lr": 0.05, "total_steps": 20, "cycle_momentum": false}"#,
        r#"{"type": "cosine", "lr": 0.1, "steps": 20}"#,
    ] {
        let params = ParamsAdamW {
            beta1: 0.8,
            ..Default::default()
        };
        let adamw = AdamW::new(vec![], params).unwrap();
        let s = lrsched::config::from_json_str(text).unwrap();
        let opt = Scheduled::new(adamw, s).unwrap();
        assert_eq!(opt.optimizer().momentum(), 0.8, "{text}");
    }
    // SGD has no momentum: a momentum schedule is ignored, not an error.
    let opt = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), OneCycle::new(0.1, 10)).unwrap();
    assert_eq!(opt.learning_rate(), OneCycle::new(0.1, 10).value(0));
}

#[test]
fn a_pasted_steplr_steps_per_epoch_unless_its_config_says_step() {
    let net = xor();
    let text = r#"{"type": "StepLR", "lr": 0.1, "step_size": 2, "gamma": 0.5}"#;
    let reference = lrsched::config::from_json_str(text).unwrap();
    // The same rule as `lrsched train` and `trace`: a PyTorch class steps per epoch.
    let mut opt = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), reference.clone()).unwrap();
    assert_eq!(opt.driver().interval(), Interval::Epoch);
    for epoch in 0..5 {
        assert_eq!(
            train(&net, &mut opt, 3),
            vec![reference.value(epoch); 3],
            "epoch {epoch}"
        );
        opt.end_epoch();
    }
    // `"interval": "step"` in the config, kept by `load_json_str`: per batch.
    let stated = text.replace('}', r#", "interval": "step"}"#);
    let config = lrsched::config::load_json_str(&stated, None).unwrap();
    let mut opt = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), config).unwrap();
    assert_eq!(train(&net, &mut opt, 6), reference.values(0..6));
}

#[test]
fn errors_take_candle_question_mark() {
    // What the README promises: `?` in a function returning candle's Result.
    fn build(lr: f64) -> candle_core::Result<Scheduled<SGD>> {
        let mut opt = Scheduled::new(SGD::new(vec![], 0.1)?, Plateau::new(lr))?;
        opt.observe(1.0)?;
        opt.end_epoch_with_metric(0.5)?;
        let state = opt.state();
        opt.restore(&state)?;
        Ok(opt)
    }
    assert!(build(0.1).is_ok());
    let e = build(f64::NAN).unwrap_err().to_string();
    assert!(e.contains("lr") && e.contains("NaN"), "{e}");
}

#[test]
fn per_step_plateau_matches_trace_with_metrics() {
    // A per-step plateau fed a metric every 4 steps: the rate used at step i is the traced
    // value i after the same metrics at the same steps.
    let net = xor();
    let plateau = Plateau::new(0.2).with_factor(0.5).with_patience(0);
    let mut opt = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), plateau.clone()).unwrap();
    let metrics = [1.0, 0.5, 0.7, 0.8, 0.4, 0.9];
    let mut used = Vec::new();
    let mut reference: AnySchedule = plateau.into();
    for (k, m) in metrics.iter().enumerate() {
        used.extend(train(&net, &mut opt, 4));
        opt.observe(*m).unwrap();
        // Measured after the 4th step of the block: step 4k + 3.
        reference.observe(4 * k as u64 + 3, *m).unwrap();
    }
    used.extend(train(&net, &mut opt, 2));
    assert_eq!(used, reference.values(0..26));
    assert!(used[25] < used[0], "the plateau reduced the rate");
}

#[test]
fn per_epoch_plateau_with_validation_metric() {
    let net = xor();
    let plateau = Plateau::new(0.1).with_factor(0.1).with_patience(1);
    let driver = Driver::new(plateau.clone()).with_interval(Interval::Epoch);
    let mut opt = Scheduled::from_driver(SGD::new(net.params(), 0.0).unwrap(), driver).unwrap();
    let mut reference: AnySchedule = plateau.into();
    let val = [0.3, 0.31, 0.32, 0.33, 0.2];
    for (epoch, m) in val.iter().enumerate() {
        let used = train(&net, &mut opt, 3);
        // Every batch of an epoch uses that epoch's rate.
        assert_eq!(
            used,
            vec![reference.value(epoch as u64); 3],
            "epoch {epoch}"
        );
        opt.end_epoch_with_metric(*m).unwrap();
        reference.observe(epoch as u64, *m).unwrap();
    }
    assert_eq!(opt.current_step(), 5);
    // One reduction (after 0.32, the second bad epoch); 0.2 then improves.
    assert_eq!(opt.learning_rate(), reference.value(5));
    assert!((opt.learning_rate() - 0.01).abs() < 1e-15);
}

#[test]
fn per_epoch_step_decay() {
    let net = xor();
    let schedule = StepDecay::new(0.1, 2, 0.5);
    let driver = Driver::new(schedule.clone()).with_interval(Interval::Epoch);
    let mut opt = Scheduled::from_driver(SGD::new(net.params(), 0.0).unwrap(), driver).unwrap();
    for epoch in 0..6 {
        assert_eq!(train(&net, &mut opt, 2), vec![schedule.value(epoch); 2]);
        opt.end_epoch();
    }
}

#[test]
fn restore_continues_exactly() {
    let schedule = Plateau::over(Warmup::linear(3, Cosine::new(0.3, 30)))
        .with_patience(0)
        .with_factor(0.5);
    let net = xor();
    let mut a = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), schedule.clone()).unwrap();
    train(&net, &mut a, 7);
    a.observe(1.0).unwrap();
    train(&net, &mut a, 3);
    a.observe(2.0).unwrap();
    let saved = serde_json::to_string(&a.state()).unwrap();

    let mut b = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), schedule).unwrap();
    b.restore(&serde_json::from_str(&saved).unwrap()).unwrap();
    assert_eq!(b.learning_rate(), a.learning_rate());
    assert_eq!(train(&net, &mut b, 15), train(&net, &mut a, 15));
}

#[test]
fn restore_from_another_schedule_is_refused_and_changes_nothing() {
    let net = xor();
    let a = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), Cosine::new(0.1, 10)).unwrap();
    let mut b = Scheduled::new(SGD::new(net.params(), 0.0).unwrap(), Cosine::new(0.2, 10)).unwrap();
    let err = b.restore(&a.state()).unwrap_err();
    assert!(err.to_string().contains("schedule.lr: 0.1 -> 0.2"), "{err}");
    assert_eq!(b.learning_rate(), 0.2);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let err = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), Cosine::new(f64::NAN, 10));
    assert!(err.is_err());
    let driver = Driver::new(Cosine::new(0.1, 10)).with_group_scales(vec![]);
    assert!(Scheduled::from_driver(SGD::new(vec![], 0.1).unwrap(), driver).is_err());
    // The same through candle's own constructor, as a candle error.
    let bad = Driver::new(Cosine::new(-1.0, 10));
    assert!(<Scheduled<SGD> as Optimizer>::new(vec![], (0.1, bad)).is_err());
    // A NaN metric to a plateau: refused or ignored, never a panic or a NaN rate.
    let mut opt = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), Plateau::new(0.1)).unwrap();
    let _ = opt.observe(f64::NAN);
    assert!(opt.learning_rate().is_finite());
}

#[test]
fn generic_candle_code_takes_the_wrapper() {
    // Code written against candle's trait, unchanged.
    fn fit<O: Optimizer>(opt: &mut O, net: &Xor, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let lr = opt.learning_rate();
                opt.backward_step(&net.loss()).unwrap();
                lr
            })
            .collect()
    }
    let net = xor();
    let schedule = Warmup::linear(4, Cosine::new(0.1, 6));
    let mut opt =
        <Scheduled<SGD> as Optimizer>::new(net.params(), (0.0, Driver::new(schedule.clone())))
            .unwrap();
    assert_eq!(fit(&mut opt, &net, 12), schedule.values(0..12));
}
