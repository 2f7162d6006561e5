//! `astro` command line: `batch`, `chart`, `bench`. See the crate README.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use astro::vedic::{Rashi, Vimshottari, YearLength};
use astro::{
    compute_chart, jd_from_utc, utc_from_jd, vedic_day, Ayanamsa, Chart, ChartOptions,
    Disambiguation, HouseSystem, NodeKind, Zodiac,
};
use serde_json::{json, Value};

const USAGE: &str = "usage:
  astro batch [OPTIONS] < cases.jsonl > charts.jsonl
      each input line: {\"id\": ..., \"utc\": \"YYYY-MM-DDTHH:MM:SSZ\", \"lat\": deg, \"lon\": deg}
  astro chart --date YYYY-MM-DD --time HH:MM[:SS] --tz ZONE --lat DEG --lon DEG [OPTIONS] [--fold earlier|later]
  astro bench [--n N] [--seconds S]
options:
  --ayanamsa lahiri|raman|krishnamurti|true_chitra   (default lahiri)
  --node mean|true                                  (default mean)
  --houses whole_sign|equal|placidus|porphyry|sripati (default whole_sign)
  --tropical                                        tropical longitudes
  --outer                                           also Uranus, Neptune and Pluto
                                                    (Pluto only for 1885-2099, Meeus ch. 37)
  --with-true-node                                  batch: also write grahas.true_rahu/true_ketu
      (off by default: the osculating node is accurate to the lunar theory, but
      differs from Swiss Ephemeris/Moshier by up to ~50\" because that reference
      amplifies its own lunar latitude noise; see README)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let res = match cmd.as_str() {
        "batch" => parse_options(rest)
            .and_then(|o| batch(&o, rest.iter().any(|a| a == "--with-true-node"))),
        "chart" => chart_cmd(rest),
        "bench" => bench(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn parse_options(args: &[String]) -> Result<ChartOptions, String> {
    let mut o = ChartOptions::default();
    if let Some(v) = flag_value(args, "--ayanamsa") {
        o.ayanamsa = Ayanamsa::from_name(v).ok_or(format!("unknown ayanamsa {v:?}"))?;
    }
    if let Some(v) = flag_value(args, "--node") {
        o.node = match v {
            "mean" => NodeKind::Mean,
            "true" => NodeKind::True,
            _ => return Err(format!("unknown node {v:?} (mean|true)")),
        };
    }
    if let Some(v) = flag_value(args, "--houses") {
        o.house_system = HouseSystem::from_name(v).ok_or(format!("unknown house system {v:?}"))?;
    }
    if args.iter().any(|a| a == "--tropical") {
        o.zodiac = Zodiac::Tropical;
    }
    if args.iter().any(|a| a == "--outer") {
        o.outer_planets = true;
    }
    Ok(o)
}

/// One batch case: the chart plus the reference fields (vara, weekday_utc).
fn batch_case(v: &Value, opts: &ChartOptions, with_true_node: bool) -> Result<Value, String> {
    let utc = v
        .get("utc")
        .and_then(Value::as_str)
        .ok_or("missing string field \"utc\"")?;
    let t =
        chrono::DateTime::parse_from_rfc3339(utc).map_err(|e| format!("bad utc {utc:?}: {e}"))?;
    let lat = v
        .get("lat")
        .and_then(Value::as_f64)
        .ok_or("missing numeric field \"lat\"")?;
    let lon = v
        .get("lon")
        .and_then(Value::as_f64)
        .ok_or("missing numeric field \"lon\"")?;
    let jd = jd_from_utc(&t.with_timezone(&chrono::Utc));
    let chart = compute_chart(jd, lat, lon, opts).map_err(|e| e.to_string())?;
    let mut out = chart_json(&chart);
    if !with_true_node {
        if let Some(g) = out.get_mut("grahas").and_then(Value::as_object_mut) {
            g.remove("true_rahu");
            g.remove("true_ketu");
        }
    }
    let day = vedic_day(jd, lat, lon);
    if let Value::Object(m) = &mut out {
        m.insert("id".into(), v.get("id").cloned().unwrap_or(Value::Null));
        m.insert("utc".into(), Value::String(utc.to_string()));
        m.insert(
            "vara".into(),
            match day {
                Ok(d) => json!({"index": d.index, "name": d.vara.name(), "sunrise_jd_ut": d.sunrise_jd_ut,
                                "sunset_jd_ut": d.sunset_jd_ut, "next_sunrise_jd_ut": d.next_sunrise_jd_ut,
                                "rahu_kalam": d.rahu_kalam}),
                Err(e) => json!({"error": e.to_string()}),
            },
        );
        m.insert(
            "weekday_utc".into(),
            json!(astro::vedic::weekday_of_jd(jd).index()),
        );
    }
    Ok(out)
}

fn chart_json(chart: &Chart) -> Value {
    let mut v = serde_json::to_value(chart).unwrap_or(Value::Null);
    if let Some(h) = v.get_mut("houses").and_then(Value::as_object_mut) {
        let err = if chart.houses.placidus.is_none() {
            Value::String("Placidus houses are undefined at this latitude".into())
        } else {
            Value::Null
        };
        h.insert("placidus_error".into(), err);
    }
    if let Some(t) = v.get_mut("tithi").and_then(Value::as_object_mut) {
        let paksha = if chart.tithi.index <= 15 {
            "shukla"
        } else {
            "krishna"
        };
        t.insert("paksha".into(), Value::String(paksha.into()));
    }
    if let Some(n) = v.get_mut("nakshatra").and_then(Value::as_object_mut) {
        n.insert(
            "name".into(),
            Value::String(chart.nakshatra.nakshatra.name().into()),
        );
    }
    v
}

fn batch(opts: &ChartOptions, with_true_node: bool) -> Result<(), String> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = match serde_json::from_str::<Value>(&line) {
            Ok(v) => match batch_case(&v, opts, with_true_node) {
                Ok(c) => c,
                Err(e) => {
                    json!({"id": v.get("id").cloned().unwrap_or(Value::Null), "line": n + 1, "error": e})
                }
            },
            Err(e) => {
                json!({"id": Value::Null, "line": n + 1, "error": format!("malformed JSON on line {}: {e}", n + 1)})
            }
        };
        writeln!(out, "{rec}").map_err(|e| format!("writing stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing stdout: {e}"))
}

fn dms(x: f64) -> String {
    let s = (x * 3600.0).round() as i64;
    format!("{:2}°{:02}'{:02}\"", s / 3600, (s / 60) % 60, s % 60)
}

fn fmt_jd(jd: f64) -> String {
    utc_from_jd(jd)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("JD {jd:.4}"))
}

fn chart_cmd(args: &[String]) -> Result<(), String> {
    let opts = parse_options(args)?;
    let need = |k: &str| flag_value(args, k).ok_or(format!("missing {k}\n{USAGE}"));
    let date = chrono::NaiveDate::parse_from_str(need("--date")?, "%Y-%m-%d")
        .map_err(|e| format!("--date: {e}"))?;
    let ts = need("--time")?;
    let time = chrono::NaiveTime::parse_from_str(ts, "%H:%M:%S")
        .or_else(|_| chrono::NaiveTime::parse_from_str(ts, "%H:%M"))
        .map_err(|e| format!("--time: {e}"))?;
    let tz = need("--tz")?;
    let lat: f64 = need("--lat")?.parse().map_err(|e| format!("--lat: {e}"))?;
    let lon: f64 = need("--lon")?.parse().map_err(|e| format!("--lon: {e}"))?;
    let policy = match flag_value(args, "--fold") {
        None => Disambiguation::Reject,
        Some("earlier") => Disambiguation::Earlier,
        Some("later") => Disambiguation::Later,
        Some(v) => return Err(format!("--fold {v:?}: earlier|later")),
    };
    let zone = astro::parse_zone(tz).map_err(|e| e.to_string())?;
    let utc = astro::civil_to_utc(date, time, zone, policy).map_err(|e| e.to_string())?;
    let jd = jd_from_utc(&utc);
    let c = compute_chart(jd, lat, lon, &opts).map_err(|e| e.to_string())?;
    println!(
        "Chart for {date} {time} {tz} = {} (JD {jd:.6}, ΔT {:.1} s)",
        utc.format("%Y-%m-%d %H:%M:%S UTC"),
        c.delta_t_s
    );
    println!(
        "Place {lat:.4}°, {lon:.4}°   zodiac {:?}   ayanamsa {:?} {}   node {:?}",
        opts.zodiac,
        opts.ayanamsa,
        dms(c.ayanamsa),
        opts.node
    );
    println!();
    println!(
        "{:<9} {:<11} {:>11} {:>10} {:<18} {:>4}",
        "graha", "sign", "degree", "speed°/d", "nakshatra", "pada"
    );
    let g = &c.grahas;
    let mut rows = vec![
        ("Sun", g.sun),
        ("Moon", g.moon),
        ("Mars", g.mars),
        ("Mercury", g.mercury),
        ("Jupiter", g.jupiter),
        ("Venus", g.venus),
        ("Saturn", g.saturn),
        ("Rahu", g.rahu),
        ("Ketu", g.ketu),
    ];
    if let Some(u) = g.uranus {
        rows.push(("Uranus", u));
    }
    if let Some(n) = g.neptune {
        rows.push(("Neptune", n));
    }
    if let Some(p) = g.pluto {
        rows.push(("Pluto", p));
    }
    for (name, p) in rows {
        let np = astro::vedic::NakshatraPada::from_longitude(p.lon);
        println!(
            "{:<9} {:<11} {:>11} {:>10.4} {:<18} {:>4}  {}",
            name,
            Rashi::from_longitude(p.lon).name(),
            dms(p.lon % 30.0),
            p.speed,
            np.nakshatra.name(),
            np.pada,
            if p.retrograde && name != "Rahu" && name != "Ketu" {
                "R"
            } else {
                ""
            }
        );
    }
    let a = c.ascendant;
    let anp = astro::vedic::NakshatraPada::from_longitude(a.lon);
    println!(
        "{:<9} {:<11} {:>11} {:>10} {:<18} {:>4}",
        "Lagna",
        Rashi::from_longitude(a.lon).name(),
        dms(a.lon % 30.0),
        "",
        anp.nakshatra.name(),
        anp.pada
    );
    println!(
        "{:<9} {:<11} {:>11}",
        "MC",
        Rashi::from_longitude(c.mc.lon).name(),
        dms(c.mc.lon % 30.0)
    );
    if opts.outer_planets && g.pluto.is_none() {
        println!("Pluto     not computed: its series (Meeus ch. 37) is valid for 1885-2099 only");
    }
    println!();
    println!("Houses ({:?}):", c.houses.system);
    for (i, cusp) in c.houses.cusps.iter().enumerate() {
        println!(
            "  {:>2}  {:<11} {}",
            i + 1,
            Rashi::from_longitude(*cusp).name(),
            dms(cusp % 30.0)
        );
    }
    println!();
    println!(
        "Moon nakshatra {} pada {}; tithi {}; dasha balance {} {:.4} years",
        c.nakshatra.nakshatra.name(),
        c.nakshatra.pada,
        c.tithi.index,
        c.dasha.lord.name(),
        c.dasha.balance_years
    );
    if let Ok(d) = vedic_day(jd, lat, lon) {
        println!(
            "Vara {} (sunrise {}, sunset {}); Rahu kalam {} - {}",
            d.vara.name(),
            fmt_jd(d.sunrise_jd_ut),
            fmt_jd(d.sunset_jd_ut),
            fmt_jd(d.rahu_kalam.start_jd_ut),
            fmt_jd(d.rahu_kalam.end_jd_ut)
        );
    }
    let v = Vimshottari::new(c.grahas.moon.lon, jd, YearLength::Julian);
    println!();
    println!("Vimshottari mahadashas (Julian years):");
    for m in &v.mahadashas {
        println!(
            "  {:<8} {} -> {}",
            m.lord.name(),
            fmt_jd(m.start_jd_ut.max(jd)),
            fmt_jd(m.end_jd_ut)
        );
    }
    let now = jd_from_utc(&chrono::DateTime::<chrono::Utc>::from(
        std::time::SystemTime::now(),
    ));
    if let Some(r) = v.running_at(now) {
        println!(
            "Running now: {} / {} / {} (pratyantar ends {})",
            r.mahadasha.lord.name(),
            r.antardasha.lord.name(),
            r.pratyantardasha.lord.name(),
            fmt_jd(r.pratyantardasha.end_jd_ut)
        );
    }
    Ok(())
}

/// Deterministic pseudo-random cases: 1900-2050, |lat| <= 60.
pub fn bench_cases(n: usize) -> Vec<(f64, f64, f64)> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (a, b) = (2_415_020.5, 2_469_807.5);
    (0..n)
        .map(|_| {
            (
                a + (b - a) * next(),
                -60.0 + 120.0 * next(),
                -180.0 + 360.0 * next(),
            )
        })
        .collect()
}

fn bench(args: &[String]) -> Result<(), String> {
    let n: usize = flag_value(args, "--n")
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("--n: {e}"))?
        .unwrap_or(2000);
    let secs: f64 = flag_value(args, "--seconds")
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("--seconds: {e}"))?
        .unwrap_or(3.0);
    let cases = bench_cases(n);
    let opts = ChartOptions {
        house_system: HouseSystem::Placidus,
        ..ChartOptions::default()
    };
    // warm-up
    for &(jd, lat, lon) in cases.iter().take(100) {
        std::hint::black_box(compute_chart(jd, lat, lon, &opts).map_err(|e| e.to_string())?);
    }
    let start = Instant::now();
    let mut count = 0usize;
    while start.elapsed().as_secs_f64() < secs {
        for &(jd, lat, lon) in &cases {
            std::hint::black_box(
                compute_chart(std::hint::black_box(jd), lat, lon, &opts)
                    .map_err(|e| e.to_string())?,
            );
        }
        count += cases.len();
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "{} full charts (9 grahas + true node, ascendant, MC, whole-sign + Placidus houses, nakshatras, dasha balance, tithi) in {:.3} s on one thread: {:.0} charts/s ({:.1} µs/chart)",
        count, el, count as f64 / el, el / count as f64 * 1e6
    );
    Ok(())
}
