//! Image-card benchmark, on one core: renders each card kind at each
//! preset size for N seconds and prints cards per second (with p50/p99
//! latency) per kind and size, then overall, then where the time of one
//! render goes (layout, usvg parse, rasterising, PNG encoding).
//!
//! `cargo run --release -p social --example cards_bench -- [seconds] [--out DIR]`
//! (seconds per kind and size, default 5; `--out` also writes one PNG of
//! each to DIR, to look at).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use social::cards::{self, Card, CardSize, Language, ObservanceCard, PanchangCard, TeachingCard};
use testkit::bench::Stats;

fn sample_cards() -> Vec<Card> {
    let date = NaiveDate::from_ymd_opt(2026, 1, 14).expect("date");
    vec![
        PanchangCard {
            date,
            place: "Chennai, Tamil Nadu".into(),
            weekday: "Wednesday".into(),
            tithi: "Krishna Ekadashi upto 17:41".into(),
            nakshatra: "Anuradha".into(),
            yoga: "Ganda".into(),
            karana: "Bava".into(),
            sunrise: "06:32".into(),
            sunset: "18:05".into(),
            rahu_kalam: "12:18–13:45".into(),
            language: Language::English,
        }
        .into(),
        ObservanceCard {
            title: "ஏகாதசி · Ekadashi".into(),
            date,
            description: "A day of fasting and prayer to Vishnu on the eleventh lunar day of the \
                          fortnight; the fast is broken on Dwadashi after sunrise."
                .into(),
            place: "Chennai".into(),
            language: Language::Tamil,
        }
        .into(),
        TeachingCard {
            quote: "You have a right to your actions, but never to the fruits of your actions. \
                    Act for the action's sake, and do not be attached to inaction."
                .into(),
            attribution: "Bhagavad Gita 2.47".into(),
        }
        .into(),
    ]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let out_dir = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir)?;
    }

    let cards = sample_cards();
    println!(
        "cards_bench: one thread, {seconds} s per kind and size ({} kinds × {} sizes)",
        cards.len(),
        CardSize::ALL.len()
    );
    // Warm up: fonts database, code paths.
    for card in &cards {
        cards::render(card, CardSize::INSTAGRAM_SQUARE)?;
    }

    let mut total = 0usize;
    let mut total_time = Duration::ZERO;
    let mut total_bytes = 0usize;
    for card in &cards {
        for size in CardSize::ALL {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut bytes = 0;
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(seconds);
            while Instant::now() < deadline {
                let t = Instant::now();
                match cards::render(card, size) {
                    Ok(png) => {
                        bytes = png.len();
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("error: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            let elapsed = started.elapsed();
            let stats = Stats::from_latencies(lat, errors, elapsed);
            total += stats.count;
            total_time += elapsed;
            total_bytes += bytes * stats.count;
            stats.print(
                &format!(
                    "{} {} {}x{} ({} KiB)",
                    card.kind(),
                    size.name(),
                    size.width(),
                    size.height(),
                    bytes / 1024
                ),
                "cards/s",
            );
            if let Some(dir) = &out_dir {
                let png = cards::render(card, size)?;
                std::fs::write(
                    dir.join(format!("{}-{}.png", card.kind(), size.name())),
                    png,
                )?;
            }
        }
    }
    println!(
        "overall: {total} cards in {:.1} s = {:.1} cards/s on one core (mean PNG {} KiB)",
        total_time.as_secs_f64(),
        total as f64 / total_time.as_secs_f64().max(1e-9),
        total_bytes / total.max(1) / 1024
    );

    // Where one render's time goes.
    println!("breakdown (mean of 20 renders): layout+SVG | usvg parse | rasterise | PNG encode");
    for card in &cards {
        for size in [CardSize::INSTAGRAM_SQUARE, CardSize::X] {
            let mut t = [Duration::ZERO; 4];
            let n = 20;
            for _ in 0..n {
                let s0 = Instant::now();
                let svg = cards::render_svg(card, size)?;
                let s1 = Instant::now();
                let tree = cards::parse(&svg)?;
                let s2 = Instant::now();
                let mut pixmap =
                    resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
                resvg::render(
                    &tree,
                    resvg::tiny_skia::Transform::identity(),
                    &mut pixmap.as_mut(),
                );
                let s3 = Instant::now();
                let png = pixmap.encode_png()?;
                let s4 = Instant::now();
                std::hint::black_box(png);
                for (k, d) in [s1 - s0, s2 - s1, s3 - s2, s4 - s3].into_iter().enumerate() {
                    t[k] += d;
                }
            }
            let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
            println!(
                "  {:<10} {:<18} {:>6.2} ms | {:>6.2} ms | {:>6.2} ms | {:>6.2} ms",
                card.kind(),
                size.name(),
                ms(t[0]),
                ms(t[1]),
                ms(t[2]),
                ms(t[3])
            );
        }
    }
    Ok(())
}
