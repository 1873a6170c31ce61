//! Unit tests: validation, state save/restore, allocation-free steps, weight switching.

use super::*;

const N: usize = 37;

fn grads_for(params: &[f32], t: usize, out: &mut [f32]) {
    for (i, (g, &p)) in out.iter_mut().zip(params).enumerate() {
        *g = p * 0.7 + ((i * 7 + t * 3) % 11) as f32 * 0.05 - 0.25;
    }
}

fn all_kinds() -> Vec<OptimizerConfig> {
    use OptimizerKind::*;
    [
        Sgd,
        Momentum,
        Nesterov,
        RmsProp,
        Adam,
        AdamW,
        ScheduleFreeSgd,
        ScheduleFreeAdamW,
    ]
    .into_iter()
    .map(|k| OptimizerConfig {
        weight_decay: 0.01,
        l1: 0.001,
        clip: Clip::Norm(1.0),
        momentum: (k == RmsProp).then_some(0.5),
        centered: k == RmsProp,
        warmup_steps: 2,
        ..OptimizerConfig::new(k)
    })
    .collect()
}

fn groups() -> Vec<ParamGroup> {
    vec![
        ParamGroup::new(0..30),
        ParamGroup::new(30..N)
            .with_lr_scale(0.5)
            .with_weight_decay(0.0),
    ]
}

fn err_of(config: OptimizerConfig) -> String {
    Optimizer::new(config, vec![ParamGroup::new(0..N)], N)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_hyperparameters_are_named() {
    use OptimizerKind::*;
    let c = OptimizerConfig::new;
    assert!(err_of(OptimizerConfig {
        momentum: Some(-0.1),
        ..c(Momentum)
    })
    .contains("momentum"));
    assert!(err_of(OptimizerConfig {
        betas: (1.0, 0.999),
        ..c(Adam)
    })
    .contains("betas[0]"));
    assert!(err_of(OptimizerConfig {
        betas: (0.9, -0.1),
        ..c(AdamW)
    })
    .contains("betas[1]"));
    assert!(err_of(OptimizerConfig {
        eps: 0.0,
        ..c(Adam)
    })
    .contains("eps"));
    assert!(err_of(OptimizerConfig {
        eps: f64::NAN,
        ..c(RmsProp)
    })
    .contains("eps"));
    assert!(err_of(OptimizerConfig {
        dampening: 0.1,
        ..c(Nesterov)
    })
    .contains("dampening"));
    assert!(err_of(OptimizerConfig {
        weight_decay: -1.0,
        ..c(Sgd)
    })
    .contains("weight_decay"));
    assert!(err_of(OptimizerConfig {
        l1: f64::INFINITY,
        ..c(Sgd)
    })
    .contains("l1"));
    assert!(err_of(OptimizerConfig {
        clip: Clip::Norm(0.0),
        ..c(Sgd)
    })
    .contains("clip.norm"));
    assert!(err_of(OptimizerConfig {
        clip: Clip::Value(-1.0),
        ..c(Sgd)
    })
    .contains("clip.value"));
    assert!(err_of(OptimizerConfig {
        momentum: Some(1.0),
        ..c(ScheduleFreeSgd)
    })
    .contains("momentum"));
    assert!(err_of(OptimizerConfig {
        alpha: 1.5,
        ..c(RmsProp)
    })
    .contains("alpha"));
    assert!(err_of(OptimizerConfig {
        decoupled_weight_decay: true,
        ..c(ScheduleFreeAdamW)
    })
    .contains("decoupled_weight_decay"));
}

#[test]
fn bad_groups_are_named() {
    let c = || OptimizerConfig::new(OptimizerKind::Sgd);
    let e = Optimizer::new(c(), vec![ParamGroup::new(0..5), ParamGroup::new(4..8)], 8)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("group 1") && e.contains("4..8") && e.contains("0..5"),
        "{e}"
    );
    let e = Optimizer::new(c(), vec![ParamGroup::new(0..9)], 8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("0..9") && e.contains('8'), "{e}");
    let e = Optimizer::new(c(), vec![ParamGroup::new(0..8).with_lr_scale(-1.0)], 8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("groups[0].lr_scale"), "{e}");
}

#[test]
fn bad_step_arguments_are_errors_and_change_nothing() {
    let mut opt = Optimizer::new(OptimizerConfig::new(OptimizerKind::Adam), groups(), N).unwrap();
    let mut p = vec![1.0f32; N];
    let mut g = vec![0.5f32; N];
    let e = opt.step(&mut p[..N - 1], &mut g, 0.1, None).unwrap_err();
    assert!(
        e.to_string().contains("params has 36 values, expected 37"),
        "{e}"
    );
    assert!(opt.step(&mut p, &mut g[..3], 0.1, None).is_err());
    assert!(opt
        .step(&mut p, &mut g, -0.1, None)
        .unwrap_err()
        .to_string()
        .contains("lr"));
    assert!(opt.step(&mut p, &mut g, f64::NAN, None).is_err());
    let e = opt.step(&mut p, &mut g, 0.1, Some(1.0)).unwrap_err();
    assert!(e.to_string().contains("beta1"), "{e}");
    assert_eq!(opt.steps(), 0);
    assert!(p.iter().all(|&x| x == 1.0) && g.iter().all(|&x| x == 0.5));
    let mut rms =
        Optimizer::new(OptimizerConfig::new(OptimizerKind::RmsProp), groups(), N).unwrap();
    assert!(rms.step(&mut p, &mut g, 0.1, Some(0.9)).is_err());
    assert!(rms.step(&mut p, &mut g, 0.1, Some(0.0)).is_ok());
}

/// Saving after 3 steps, restoring into a fresh optimizer (through JSON) and stepping on
/// gives the same bits as never stopping.
#[test]
fn restore_continues_bit_for_bit() {
    for config in all_kinds() {
        let mut a = Optimizer::new(config.clone(), groups(), N).unwrap();
        let mut pa: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut g = vec![0.0f32; N];
        for t in 0..3 {
            grads_for(&pa, t, &mut g);
            a.step(&mut pa, &mut g, 0.05, Some(0.85)).unwrap();
        }
        let json = serde_json::to_string(&a.state()).unwrap();
        let saved: OptimizerState = serde_json::from_str(&json).unwrap();
        assert_eq!(saved, a.state());
        let mut b = Optimizer::new(config.clone(), groups(), N).unwrap();
        b.restore(&saved).unwrap();
        let mut pb = pa.clone();
        for t in 3..8 {
            grads_for(&pa, t, &mut g);
            a.step(&mut pa, &mut g, 0.04, Some(0.9)).unwrap();
            grads_for(&pb, t, &mut g);
            b.step(&mut pb, &mut g, 0.04, Some(0.9)).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&pa), bits(&pb), "{:?} step {t}", config.kind);
        }
        assert_eq!(a.state(), b.state());
    }
}

#[test]
fn restore_rejects_other_optimizers_state() {
    let adam = Optimizer::new(OptimizerConfig::new(OptimizerKind::Adam), groups(), N).unwrap();
    let mut sgd =
        Optimizer::new(OptimizerConfig::new(OptimizerKind::Momentum), groups(), N).unwrap();
    let e = sgd.restore(&adam.state()).unwrap_err().to_string();
    assert!(e.contains("adam") && e.contains("momentum"), "{e}");
    let mut other = Optimizer::new(
        OptimizerConfig::new(OptimizerKind::Adam),
        vec![ParamGroup::new(0..N)],
        N,
    )
    .unwrap();
    let e = other.restore(&adam.state()).unwrap_err().to_string();
    assert!(e.contains("group ranges"), "{e}");
    let mut state = adam.state();
    state.buffers[1].values.pop();
    let mut same = adam.clone();
    let e = same.restore(&state).unwrap_err().to_string();
    assert!(e.contains("exp_avg_sq") && e.contains("36"), "{e}");
    let mut rms = Optimizer::new(OptimizerConfig::new(OptimizerKind::RmsProp), groups(), N)
        .unwrap()
        .state();
    rms.buffers.push(NamedBuffer {
        name: "momentum_buffer".into(),
        values: vec![0.0; N],
    });
    let mut plain =
        Optimizer::new(OptimizerConfig::new(OptimizerKind::RmsProp), groups(), N).unwrap();
    assert!(plain
        .restore(&rms)
        .unwrap_err()
        .to_string()
        .contains("momentum_buffer"));
    assert!(serde_json::from_str::<OptimizerState>("{}").is_err());
}

/// Steps and restores leave every buffer where it was: nothing is allocated per step.
#[test]
fn steps_allocate_nothing() {
    for config in all_kinds() {
        let mut opt = Optimizer::new(config.clone(), groups(), N).unwrap();
        let layout = |o: &Optimizer| {
            o.bufs
                .iter()
                .map(|b| (b.as_ptr(), b.capacity()))
                .collect::<Vec<_>>()
        };
        let before = layout(&opt);
        let mut p = vec![0.3f32; N];
        let mut g = vec![0.0f32; N];
        let mut out = vec![0.0f32; N];
        for t in 0..5 {
            grads_for(&p, t, &mut g);
            opt.step(&mut p, &mut g, 0.1, None).unwrap();
            opt.eval_params(&p, &mut out).unwrap();
        }
        let state = opt.state();
        opt.restore(&state).unwrap();
        assert_eq!(layout(&opt), before, "{:?}", config.kind);
    }
}

#[test]
fn schedule_free_weight_switch() {
    let config = OptimizerConfig::new(OptimizerKind::ScheduleFreeAdamW);
    let mut opt = Optimizer::new(config, groups(), N).unwrap();
    let mut p: Vec<f32> = (0..N).map(|i| i as f32 * 0.1).collect();
    let mut g = vec![0.0f32; N];
    let mut x = vec![0.0f32; N];
    // Before the first step there is no z: the evaluation weights are the parameters.
    opt.eval_params(&p, &mut x).unwrap();
    assert_eq!(x, p);
    for t in 0..4 {
        grads_for(&p, t, &mut g);
        opt.step(&mut p, &mut g, 0.01, None).unwrap();
    }
    opt.eval_params(&p, &mut x).unwrap();
    assert_ne!(x, p);
    let y = p.clone();
    opt.to_eval(&mut p).unwrap();
    assert!(opt.is_eval_mode());
    assert_eq!(
        p, x,
        "in-place switch gives the same weights as eval_params"
    );
    // In eval mode the parameters already are x.
    let mut again = vec![0.0f32; N];
    opt.eval_params(&p, &mut again).unwrap();
    assert_eq!(again, x);
    assert_eq!(
        opt.step(&mut p, &mut g, 0.01, None),
        Err(OptimError::EvalMode)
    );
    opt.to_train(&mut p).unwrap();
    for (a, b) in p.iter().zip(&y) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} {b}");
    }
    assert!(opt.step(&mut p, &mut g, 0.01, None).is_ok());
}

#[test]
fn other_kinds_switch_nothing() {
    let mut opt = Optimizer::new(OptimizerConfig::new(OptimizerKind::Adam), groups(), N).unwrap();
    let mut p = vec![0.5f32; N];
    let mut g = vec![0.1f32; N];
    opt.step(&mut p, &mut g, 0.1, None).unwrap();
    let before = p.clone();
    opt.to_eval(&mut p).unwrap();
    assert!(!opt.is_eval_mode());
    opt.to_train(&mut p).unwrap();
    let mut out = vec![0.0f32; N];
    opt.eval_params(&p, &mut out).unwrap();
    assert_eq!(p, before);
    assert_eq!(out, before);
}

#[test]
fn params_outside_groups_are_untouched() {
    for config in all_kinds() {
        let mut opt = Optimizer::new(config, vec![ParamGroup::new(2..10)], 12).unwrap();
        let mut p = vec![1.0f32; 12];
        let mut g = vec![0.5f32; 12];
        opt.step(&mut p, &mut g, 0.1, None).unwrap();
        assert_eq!(&p[..2], &[1.0, 1.0]);
        assert_eq!(&p[10..], &[1.0, 1.0]);
        assert_eq!(
            &g[10..],
            &[0.5, 0.5],
            "clipping touches only grouped gradients"
        );
        assert!(p[2..10].iter().all(|&x| x != 1.0));
    }
}

#[test]
fn clip_by_norm_reports_the_norm_and_scales() {
    let config = OptimizerConfig {
        clip: Clip::Norm(1.0),
        ..OptimizerConfig::new(OptimizerKind::Sgd)
    };
    let mut opt = Optimizer::new(config, vec![ParamGroup::new(0..2)], 2).unwrap();
    let mut p = [0.0f32; 2];
    let mut g = [3.0f32, 4.0];
    let info = opt.step(&mut p, &mut g, 1.0, None).unwrap();
    assert_eq!(info.grad_norm, Some(5.0));
    assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
    assert_eq!(p, [-g[0], -g[1]]);
}

#[test]
fn config_round_trips_and_rejects_unknown_keys() {
    for c in all_kinds() {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), c);
    }
    let c: OptimizerConfig =
        serde_json::from_str(r#"{"kind": "nesterov", "clip": {"value": 0.5}}"#).unwrap();
    assert_eq!(c.clip, Clip::Value(0.5));
    assert_eq!(c.effective_momentum(), 0.9);
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind": "adam", "lr": 0.1}"#).is_err());
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"momentum": 0.9}"#).is_err());
}

fn lr_free_kinds() -> Vec<OptimizerConfig> {
    use OptimizerKind::*;
    [Prodigy, DAdaptAdam, DAdaptSgd, Dog]
        .into_iter()
        .map(|k| OptimizerConfig {
            weight_decay: 0.01,
            l1: 0.001,
            clip: Clip::Norm(1.0),
            d0: 1e-3,
            growth_rate: Some(1.5),
            ..OptimizerConfig::new(k)
        })
        .collect()
}

/// As `restore_continues_bit_for_bit` and `steps_allocate_nothing`, for the LR-free
/// kinds (two groups at one rate: Prodigy and D-Adaptation SGD take no other).
#[test]
fn lr_free_kinds_restore_bit_for_bit_and_allocate_nothing() {
    let groups = || {
        vec![
            ParamGroup::new(0..30),
            ParamGroup::new(30..N).with_weight_decay(0.0),
        ]
    };
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for config in lr_free_kinds() {
        let mut a = Optimizer::new(config.clone(), groups(), N).unwrap();
        let layout = |o: &Optimizer| {
            let bufs = o.bufs.iter().map(|b| (b.as_ptr(), b.capacity()));
            let sums = [
                o.piece_sums.as_ptr() as *const f32,
                o.group_sums.as_ptr() as _,
            ];
            (bufs.collect::<Vec<_>>(), sums)
        };
        let before = layout(&a);
        let mut pa: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut g = vec![0.0f32; N];
        for t in 0..3 {
            grads_for(&pa, t, &mut g);
            a.step(&mut pa, &mut g, 1.0, Some(0.85)).unwrap();
        }
        let json = serde_json::to_string(&a.state()).unwrap();
        let saved: OptimizerState = serde_json::from_str(&json).unwrap();
        assert_eq!(saved, a.state());
        assert!(
            saved
                .adaptive
                .as_ref()
                .is_some_and(|s| s.k == 3 || config.kind == OptimizerKind::Dog),
            "{:?}",
            config.kind
        );
        let mut b = Optimizer::new(config.clone(), groups(), N).unwrap();
        b.restore(&saved).unwrap();
        let mut pb = pa.clone();
        for t in 3..8 {
            grads_for(&pa, t, &mut g);
            a.step(&mut pa, &mut g, 0.8, Some(0.9)).unwrap();
            grads_for(&pb, t, &mut g);
            b.step(&mut pb, &mut g, 0.8, Some(0.9)).unwrap();
            assert_eq!(bits(&pa), bits(&pb), "{:?} step {t}", config.kind);
        }
        assert_eq!(a.state(), b.state());
        assert_eq!(layout(&a), before, "{:?}", config.kind);
        // Moved: the estimates work, whatever the kind.
        assert!(pa
            .iter()
            .zip(0..)
            .any(|(p, i)| *p != (i as f32 * 0.37).sin()));
    }
}

#[test]
fn lr_free_hyperparameters_are_named() {
    use OptimizerKind::*;
    let c = OptimizerConfig::new;
    let cases = [
        (
            OptimizerConfig {
                d0: 0.0,
                ..c(Prodigy)
            },
            "d0 = 0",
        ),
        (
            OptimizerConfig {
                d_coef: -1.0,
                ..c(Prodigy)
            },
            "d_coef = -1",
        ),
        (
            OptimizerConfig {
                growth_rate: Some(f64::NAN),
                ..c(DAdaptAdam)
            },
            "growth_rate = NaN",
        ),
        (
            OptimizerConfig {
                beta3: Some(1.0),
                ..c(Prodigy)
            },
            "beta3 = 1",
        ),
        (
            OptimizerConfig {
                reps_rel: 0.0,
                ..c(Dog)
            },
            "reps_rel = 0",
        ),
        (
            OptimizerConfig {
                init_eta: Some(-0.1),
                ..c(Dog)
            },
            "init_eta = -0.1",
        ),
        (
            OptimizerConfig {
                momentum: Some(1.0),
                ..c(DAdaptSgd)
            },
            "0 <= momentum < 1",
        ),
        (
            OptimizerConfig {
                decoupled_weight_decay: true,
                ..c(Dog)
            },
            "their references add weight decay",
        ),
        (
            OptimizerConfig {
                coupled_weight_decay: true,
                ..c(Adam)
            },
            "false except for prodigy",
        ),
    ];
    for (config, want) in cases {
        let e = err_of(config);
        assert!(e.contains(want), "{e}");
    }
    assert!(c(Prodigy).is_decoupled());
    assert!(!OptimizerConfig {
        coupled_weight_decay: true,
        ..c(Prodigy)
    }
    .is_decoupled());
}

/// The keys and state the LR-free kinds brought are written only for them: the other
/// kinds' configs and checkpoints read and write as they always have.
#[test]
fn other_kinds_serialise_as_before() {
    for config in all_kinds() {
        let json = serde_json::to_string(&config).unwrap();
        for key in [
            "d0",
            "d_coef",
            "growth_rate",
            "beta3",
            "bias_correction",
            "reps_rel",
        ] {
            assert!(!json.contains(&format!("\"{key}\"")), "{json}");
        }
        let opt = Optimizer::new(config, groups(), N).unwrap();
        let state = serde_json::to_string(&opt.state()).unwrap();
        assert!(!state.contains("adaptive"), "{state}");
    }
    let json = serde_json::to_string(&OptimizerConfig {
        d0: 1e-3,
        init_eta: Some(0.5),
        ..OptimizerConfig::new(OptimizerKind::Dog)
    })
    .unwrap();
    assert!(
        json.contains("\"d0\":0.001") && json.contains("\"init_eta\":0.5"),
        "{json}"
    );
}
