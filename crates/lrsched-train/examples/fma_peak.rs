//! Measures this machine's fused multiply-add peak, the figure `scripts/bench_epoch.py`
//! states an epoch's limit against: `cargo run --release -p lrsched-train --example
//! fma_peak [threads]`.
//!
//! Why measured, not computed from a data sheet: a virtual machine's cores run at whatever
//! clock the host gives them, and a limit stated against a clock the cores never reach
//! makes every share look smaller than it is (issue 24 stated 235 GFLOP/s per core, an
//! assumed clock; this example measured 120-173 on the same machine, from one minute to
//! the next). Each thread runs 16 independent chains of the widest
//! FMA the CPU has (AVX-512, else AVX2), enough to fill both FMA ports whatever their
//! latency; the threads run at once, so the figure for two is what two busy cores give.
//!
//! Prints one line per thread count, `threads=N isa=avx512 gflops_per_core=X`, the best of
//! five rounds of about 0.2 s.

use std::time::Instant;

fn main() {
    let most: usize = std::env::args()
        .nth(1)
        .map(|t| match t.parse() {
            Ok(n) if (1..=256).contains(&n) => n,
            _ => {
                eprintln!("fma_peak: threads must be a number from 1 to 256, got {t:?}");
                std::process::exit(2);
            }
        })
        .unwrap_or(2);
    let isa = isa();
    for threads in 1..=most {
        let best = (0..5)
            .map(|_| {
                let per_thread: Vec<f64> = std::thread::scope(|s| {
                    let runs: Vec<_> = (0..threads).map(|_| s.spawn(move || run(isa))).collect();
                    runs.into_iter().map(|r| r.join().unwrap()).collect()
                });
                per_thread.iter().sum::<f64>() / threads as f64
            })
            .fold(0.0f64, f64::max);
        println!(
            "threads={threads} isa={} gflops_per_core={best:.1}",
            isa.name()
        );
    }
}

#[derive(Clone, Copy)]
enum Isa {
    Avx512,
    Avx2,
    Scalar,
}

impl Isa {
    fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Scalar => "scalar",
        }
    }
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// GFLOP/s of one thread (2 per lane per FMA), over about 0.2 s.
fn run(isa: Isa) -> f64 {
    const ROUNDS: u64 = 20_000_000;
    let start = Instant::now();
    let (lanes, checksum) = match isa {
        // SAFETY: `isa()` found the features each one is compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => (16, unsafe { x86::avx512(ROUNDS) }),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (8, unsafe { x86::avx2(ROUNDS) }),
        _ => (1, scalar(ROUNDS)),
    };
    let seconds = start.elapsed().as_secs_f64();
    // The checksum keeps the chains from being optimised away.
    assert!(checksum.is_finite());
    (ROUNDS * 16 * lanes * 2) as f64 / seconds / 1e9
}

fn scalar(rounds: u64) -> f32 {
    let mut acc = [0.0f32; 16];
    for _ in 0..rounds {
        for (i, a) in acc.iter_mut().enumerate() {
            *a = a.mul_add(0.999_9, i as f32 * 1e-4);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F.
    ///
    /// In assembly, not intrinsics: those are stable from Rust 1.89, the workspace builds
    /// with 1.85. The chains live in zmm0-15, whose upper halves no code compiled for
    /// x86-64 without AVX-512 uses, and whose lower halves `clobber_abi` declares (with
    /// zmm16-19, which only AVX-512 code has).
    #[inline(never)]
    pub(super) unsafe fn avx512(rounds: u64) -> f32 {
        let out: f32;
        // SAFETY: the CPU has AVX-512F (the caller's promise); only declared registers
        // are written.
        unsafe {
            std::arch::asm!(
                "vbroadcastss zmm16, xmm1",
                "vbroadcastss zmm17, xmm2",
                "vxorps xmm0, xmm0, xmm0",
                "vmovaps zmm3, zmm0", "vmovaps zmm4, zmm0", "vmovaps zmm5, zmm0",
                "vmovaps zmm6, zmm0", "vmovaps zmm7, zmm0", "vmovaps zmm8, zmm0",
                "vmovaps zmm9, zmm0", "vmovaps zmm10, zmm0", "vmovaps zmm11, zmm0",
                "vmovaps zmm12, zmm0", "vmovaps zmm13, zmm0", "vmovaps zmm14, zmm0",
                "vmovaps zmm15, zmm0", "vmovaps zmm18, zmm0", "vmovaps zmm19, zmm0",
                "2:",
                "vfmadd231ps zmm0, zmm16, zmm17", "vfmadd231ps zmm3, zmm16, zmm17",
                "vfmadd231ps zmm4, zmm16, zmm17", "vfmadd231ps zmm5, zmm16, zmm17",
                "vfmadd231ps zmm6, zmm16, zmm17", "vfmadd231ps zmm7, zmm16, zmm17",
                "vfmadd231ps zmm8, zmm16, zmm17", "vfmadd231ps zmm9, zmm16, zmm17",
                "vfmadd231ps zmm10, zmm16, zmm17", "vfmadd231ps zmm11, zmm16, zmm17",
                "vfmadd231ps zmm12, zmm16, zmm17", "vfmadd231ps zmm13, zmm16, zmm17",
                "vfmadd231ps zmm14, zmm16, zmm17", "vfmadd231ps zmm15, zmm16, zmm17",
                "vfmadd231ps zmm18, zmm16, zmm17", "vfmadd231ps zmm19, zmm16, zmm17",
                "dec rcx",
                "jnz 2b",
                // The sum of one lane of every chain, to print.
                "vaddps zmm0, zmm0, zmm3", "vaddps zmm0, zmm0, zmm15",
                "vaddps zmm0, zmm0, zmm19",
                "vzeroupper",
                inout("rcx") rounds => _,
                inout("xmm1") 0.999_9f32 => _,
                inout("xmm2") 1e-4f32 => _,
                out("xmm0") out,
                clobber_abi("C"),
            );
        }
        out
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(rounds: u64) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_9), _mm256_set1_ps(1e-4));
        let mut acc = [_mm256_setzero_ps(); 16];
        for _ in 0..rounds {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let mut sum = 0.0;
        for x in acc {
            // SAFETY: 8 lanes into 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), x) };
            sum += lanes.iter().sum::<f32>();
        }
        sum
    }
}
