//! Criterion benchmark of a full chart (nine grahas + true node, ascendant,
//! MC, whole-sign and Placidus houses, nakshatras, dasha balance, tithi).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

use astro::{compute_chart, ChartOptions, HouseSystem};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn cases() -> Vec<(f64, f64, f64)> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..256)
        .map(|_| {
            (
                2_415_020.5 + 54_787.0 * next(),
                -60.0 + 120.0 * next(),
                -180.0 + 360.0 * next(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    let opts = ChartOptions {
        house_system: HouseSystem::Placidus,
        ..ChartOptions::default()
    };
    let mut i = 0;
    c.bench_function("full_chart", |b| {
        b.iter(|| {
            let (jd, lat, lon) = cases[i % cases.len()];
            i += 1;
            black_box(compute_chart(black_box(jd), lat, lon, &opts))
        })
    });
    let ep_jd = cases[0].0;
    c.bench_function("epoch_only", |b| {
        b.iter(|| black_box(astro::ephem::Epoch::new(black_box(ep_jd))))
    });
    c.bench_function("moon_only", |b| {
        b.iter(|| black_box(astro::ephem::moon_state(black_box(0.1))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
