//! Cron schedules in IANA zones across DST transitions. "Fires once" is
//! checked by counting the occurrences over the whole local day
//! `[local midnight, next local midnight)`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use social::schedule::{Schedule, ScheduleError};

fn sched(expr: &str, tz: &str) -> Schedule {
    match Schedule::parse(expr, tz) {
        Ok(s) => s,
        Err(e) => panic!("{expr} in {tz}: {e}"),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Start of the local day (midnight exists in all the zones tested).
fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// All occurrences on the local date `d` of the schedule's zone.
fn on_day(s: &Schedule, d: NaiveDate) -> Vec<DateTime<Utc>> {
    let tz = s.zone();
    let from = local_midnight(tz, d);
    let to = local_midnight(tz, d.succ_opt().unwrap());
    let v: Vec<_> = s.occurrences(from, to).collect();
    for t in &v {
        assert_eq!(
            t.with_timezone(&tz).date_naive(),
            d,
            "{s}: {t} is not on {d}"
        );
    }
    v
}

fn local_hm(s: &Schedule, t: DateTime<Utc>) -> String {
    t.with_timezone(&s.zone()).format("%H:%M %Z").to_string()
}

// ---- spring forward: the local time does not exist ----

#[test]
fn new_york_spring_forward_0230_fires_once_at_0300_edt() {
    // 2026-03-08 02:00 EST (07:00 UTC) -> 03:00 EDT.
    let s = sched("30 2 * * *", "America/New_York");
    assert!(s.is_fixed_time());
    let day = on_day(&s, date(2026, 3, 8));
    assert_eq!(day, vec![utc("2026-03-08T07:00:00Z")]);
    assert_eq!(local_hm(&s, day[0]), "03:00 EDT");
    // the days around it are normal: 02:30 EST = 07:30 UTC, 02:30 EDT = 06:30 UTC
    assert_eq!(
        on_day(&s, date(2026, 3, 7)),
        vec![utc("2026-03-07T07:30:00Z")]
    );
    assert_eq!(
        on_day(&s, date(2026, 3, 9)),
        vec![utc("2026-03-09T06:30:00Z")]
    );
    // next_after walks through the gap and does not fire again at 03:30
    assert_eq!(
        s.next_after(utc("2026-03-08T06:59:00Z")),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        s.next_after(utc("2026-03-08T07:00:00Z")),
        Some(utc("2026-03-09T06:30:00Z"))
    );
}

#[test]
fn london_spring_forward_0130_fires_once_at_0200_bst() {
    // 2026-03-29 01:00 GMT (01:00 UTC) -> 02:00 BST.
    let s = sched("30 1 * * *", "Europe/London");
    let day = on_day(&s, date(2026, 3, 29));
    assert_eq!(day, vec![utc("2026-03-29T01:00:00Z")]);
    assert_eq!(local_hm(&s, day[0]), "02:00 BST");
    assert_eq!(
        on_day(&s, date(2026, 3, 28)),
        vec![utc("2026-03-28T01:30:00Z")]
    );
    assert_eq!(
        on_day(&s, date(2026, 3, 30)),
        vec![utc("2026-03-30T00:30:00Z")]
    );
}

#[test]
fn the_first_minute_of_the_gap_also_moves_to_its_end() {
    let ny = sched("0 2 * * *", "America/New_York");
    assert_eq!(
        on_day(&ny, date(2026, 3, 8)),
        vec![utc("2026-03-08T07:00:00Z")]
    );
    let ldn = sched("59 1 * * *", "Europe/London");
    assert_eq!(
        on_day(&ldn, date(2026, 3, 29)),
        vec![utc("2026-03-29T01:00:00Z")]
    );
}

#[test]
fn other_times_on_spring_forward_days_fire_normally() {
    for (expr, tz, d, want) in [
        (
            "59 1 * * *",
            "America/New_York",
            date(2026, 3, 8),
            "2026-03-08T06:59:00Z",
        ),
        (
            "0 3 * * *",
            "America/New_York",
            date(2026, 3, 8),
            "2026-03-08T07:00:00Z",
        ),
        (
            "0 9 * * *",
            "America/New_York",
            date(2026, 3, 8),
            "2026-03-08T13:00:00Z",
        ),
        (
            "0 0 * * *",
            "America/New_York",
            date(2026, 3, 8),
            "2026-03-08T05:00:00Z",
        ),
        (
            "59 0 * * *",
            "Europe/London",
            date(2026, 3, 29),
            "2026-03-29T00:59:00Z",
        ),
        (
            "0 2 * * *",
            "Europe/London",
            date(2026, 3, 29),
            "2026-03-29T01:00:00Z",
        ),
        (
            "0 9 * * *",
            "Europe/London",
            date(2026, 3, 29),
            "2026-03-29T08:00:00Z",
        ),
    ] {
        let s = sched(expr, tz);
        assert_eq!(on_day(&s, d), vec![utc(want)], "{expr} {tz}");
    }
}

#[test]
fn interval_schedules_skip_the_missing_hour() {
    // croner / Vixie: jobs that run more often are scheduled normally, so
    // the wall-clock times inside the gap simply do not happen.
    let s = sched("*/15 2 * * *", "America/New_York");
    assert!(!s.is_fixed_time());
    assert!(on_day(&s, date(2026, 3, 8)).is_empty());
    assert_eq!(on_day(&s, date(2026, 3, 9)).len(), 4);
}

// ---- fall back: the local time happens twice ----

#[test]
fn new_york_fall_back_0130_fires_once_at_the_first_pass() {
    // 2026-11-01 02:00 EDT (06:00 UTC) -> 01:00 EST: 01:30 is 05:30 and 06:30 UTC.
    let s = sched("30 1 * * *", "America/New_York");
    let day = on_day(&s, date(2026, 11, 1));
    assert_eq!(day, vec![utc("2026-11-01T05:30:00Z")]);
    assert_eq!(local_hm(&s, day[0]), "01:30 EDT");
    // from inside the fold (either pass) the next run is the next day
    for after in [
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:29:59Z",
    ] {
        assert_eq!(
            s.next_after(utc(after)),
            Some(utc("2026-11-02T06:30:00Z")),
            "{after}"
        );
    }
    assert_eq!(
        on_day(&s, date(2026, 10, 31)),
        vec![utc("2026-10-31T05:30:00Z")]
    );
    assert_eq!(
        on_day(&s, date(2026, 11, 2)),
        vec![utc("2026-11-02T06:30:00Z")]
    );
}

#[test]
fn london_fall_back_0130_fires_once_at_the_first_pass() {
    // 2026-10-25 02:00 BST (01:00 UTC) -> 01:00 GMT: 01:30 is 00:30 and 01:30 UTC.
    let s = sched("30 1 * * *", "Europe/London");
    let day = on_day(&s, date(2026, 10, 25));
    assert_eq!(day, vec![utc("2026-10-25T00:30:00Z")]);
    assert_eq!(local_hm(&s, day[0]), "01:30 BST");
    assert_eq!(
        s.next_after(utc("2026-10-25T01:10:00Z")),
        Some(utc("2026-10-26T01:30:00Z"))
    );
}

#[test]
fn other_times_on_fall_back_days_fire_normally() {
    for (expr, tz, d, want) in [
        (
            "0 1 * * *",
            "America/New_York",
            date(2026, 11, 1),
            "2026-11-01T05:00:00Z",
        ),
        (
            "59 0 * * *",
            "America/New_York",
            date(2026, 11, 1),
            "2026-11-01T04:59:00Z",
        ),
        (
            "0 2 * * *",
            "America/New_York",
            date(2026, 11, 1),
            "2026-11-01T07:00:00Z",
        ),
        (
            "0 9 * * *",
            "America/New_York",
            date(2026, 11, 1),
            "2026-11-01T14:00:00Z",
        ),
        (
            "0 2 * * *",
            "Europe/London",
            date(2026, 10, 25),
            "2026-10-25T02:00:00Z",
        ),
        (
            "0 9 * * *",
            "Europe/London",
            date(2026, 10, 25),
            "2026-10-25T09:00:00Z",
        ),
    ] {
        let s = sched(expr, tz);
        assert_eq!(on_day(&s, d), vec![utc(want)], "{expr} {tz}");
    }
}

// ---- hourly schedules across the transitions ----

/// Occurrences are strictly increasing and every gap between them is `step`.
fn assert_evenly_spaced(v: &[DateTime<Utc>], step: Duration) {
    for w in v.windows(2) {
        assert_eq!(w[1] - w[0], step, "{} -> {}", w[0], w[1]);
    }
}

#[test]
fn hourly_fires_on_every_real_hour_across_transitions() {
    for (tz, spring, fall) in [
        ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
        ("Europe/London", date(2026, 3, 29), date(2026, 10, 25)),
    ] {
        let s = sched("0 * * * *", tz);
        let sp = on_day(&s, spring);
        assert_eq!(sp.len(), 23, "{tz} spring: {sp:?}");
        assert_evenly_spaced(&sp, Duration::hours(1));
        let fa = on_day(&s, fall);
        assert_eq!(fa.len(), 25, "{tz} fall: {fa:?}");
        assert_evenly_spaced(&fa, Duration::hours(1));
        // across both transitions and the whole year: one per real hour
        let from = local_midnight(s.zone(), date(2026, 1, 1));
        let to = local_midnight(s.zone(), date(2027, 1, 1));
        let year: Vec<_> = s.occurrences(from, to).collect();
        assert_eq!(year.len(), 365 * 24, "{tz}");
        assert_evenly_spaced(&year, Duration::hours(1));
        // a half-hourly schedule likewise
        let h = sched("*/30 * * * *", tz);
        assert_eq!(on_day(&h, spring).len(), 46, "{tz}");
        assert_eq!(on_day(&h, fall).len(), 50, "{tz}");
    }
}

// ---- every day of the year, every zone ----

#[test]
fn fixed_time_schedules_fire_exactly_once_on_every_local_day_of_2026() {
    for tz in ["America/New_York", "Europe/London", "Asia/Kolkata"] {
        for expr in [
            "30 2 * * *",
            "30 1 * * *",
            "0 2 * * *",
            "0 9 * * *",
            "59 23 * * *",
        ] {
            let s = sched(expr, tz);
            let from = local_midnight(s.zone(), date(2026, 1, 1));
            let to = local_midnight(s.zone(), date(2027, 1, 1));
            let v: Vec<_> = s.occurrences(from, to).collect();
            assert_eq!(v.len(), 365, "{expr} {tz}");
            let mut days: Vec<_> = v
                .iter()
                .map(|t| t.with_timezone(&s.zone()).date_naive())
                .collect();
            days.dedup();
            assert_eq!(days.len(), 365, "{expr} {tz}: a day fired twice");
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{expr} {tz}");
        }
    }
}

#[test]
fn kolkata_has_no_transitions() {
    let s = sched("30 2 * * *", "Asia/Kolkata");
    // IST is UTC+05:30 all year: 02:30 IST = 21:00 UTC the day before
    for d in [
        date(2026, 3, 8),
        date(2026, 3, 29),
        date(2026, 10, 25),
        date(2026, 11, 1),
    ] {
        let v = on_day(&s, d);
        let want = Utc.from_utc_datetime(&d.pred_opt().unwrap().and_hms_opt(21, 0, 0).unwrap());
        assert_eq!(v, vec![want], "{d}");
    }
    let h = sched("0 * * * *", "Asia/Kolkata");
    for d in [
        date(2026, 3, 8),
        date(2026, 3, 29),
        date(2026, 10, 25),
        date(2026, 11, 1),
    ] {
        assert_eq!(on_day(&h, d).len(), 24, "{d}");
    }
}

// ---- the API itself ----

#[test]
fn next_after_is_strict_and_occurrences_are_half_open() {
    let s = sched("0 9 * * *", "Asia/Kolkata"); // 03:30 UTC
    let at = utc("2026-05-01T03:30:00Z");
    assert_eq!(s.next_after(at), Some(utc("2026-05-02T03:30:00Z")));
    assert_eq!(s.next_after(at - Duration::milliseconds(1)), Some(at));
    let v: Vec<_> = s.occurrences(at, at + Duration::days(3)).collect();
    assert_eq!(v, vec![at, at + Duration::days(1), at + Duration::days(2)]);
    // a start a fraction of a second after an occurrence excludes it
    let v: Vec<_> = s
        .occurrences(at + Duration::milliseconds(500), at + Duration::days(1))
        .collect();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn day_of_week_is_the_local_day() {
    // 01:00 IST Monday is Sunday 19:30 UTC
    let s = sched("0 1 * * MON", "Asia/Kolkata");
    assert_eq!(
        s.next_after(utc("2026-05-01T00:00:00Z")),
        Some(utc("2026-05-03T19:30:00Z"))
    );
    let w = sched("0 9 * * 1-5", "America/New_York");
    let from = utc("2026-03-02T00:00:00Z");
    assert_eq!(w.occurrences(from, from + Duration::days(14)).count(), 10);
}

#[test]
fn nicknames_expand() {
    let s = sched("@daily", "Europe/London");
    assert_eq!(
        on_day(&s, date(2026, 7, 1)),
        vec![utc("2026-06-30T23:00:00Z")]
    );
    let h = sched("@hourly", "Europe/London");
    assert_eq!(on_day(&h, date(2026, 10, 25)).len(), 25);
}

#[test]
fn errors_name_what_is_wrong() {
    let err = |e: &str, tz: &str| match Schedule::parse(e, tz) {
        Err(err) => err,
        Ok(s) => panic!("{e} {tz} parsed as {s}"),
    };
    for (expr, field) in [
        ("60 * * * *", "minute"),
        ("0 25 * * *", "hour"),
        ("0 0 0 * *", "day-of-month"),
        ("0 0 * 0 *", "month"),
        ("0 0 * * 9", "day-of-week"),
        ("0 0 * * FUNDAY", "day-of-week"),
    ] {
        let e = err(expr, "UTC");
        assert!(
            matches!(&e, ScheduleError::Field { field: f, .. } if *f == field),
            "{expr}: {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(field) && msg.contains(expr), "{msg}");
    }
    let e = err("0 9 * *", "UTC");
    assert!(
        matches!(e, ScheduleError::FieldCount { found: 4, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("4 field"), "{e}");
    let e = err("0 0 9 * * *", "UTC"); // seconds are not accepted
    assert!(
        matches!(e, ScheduleError::FieldCount { found: 6, .. }),
        "{e:?}"
    );
    assert_eq!(err("  ", "UTC"), ScheduleError::Empty);
    assert!(matches!(err("@reboot", "UTC"), ScheduleError::Nickname(_)));
    let e = err("0 9 * * *", "Mars/Olympus_Mons");
    assert_eq!(e, ScheduleError::UnknownZone("Mars/Olympus_Mons".into()));
    assert!(e.to_string().contains("Mars/Olympus_Mons"), "{e}");
    assert!(matches!(
        err("0 9 * * *", "asia/kolkata"),
        ScheduleError::UnknownZone(_)
    ));
    let e = err("0 0 30 2 *", "UTC");
    assert!(matches!(e, ScheduleError::NeverFires { .. }), "{e:?}");
    assert!(e.to_string().contains("never fires"), "{e}");
    // 29 February is rare, not impossible
    let leap = sched("0 0 29 2 *", "UTC");
    assert_eq!(
        leap.next_after(utc("2026-01-01T00:00:00Z")),
        Some(utc("2028-02-29T00:00:00Z"))
    );
}

/// The documented difference from Vixie cron: a list in the minute or hour
/// field makes an interval schedule (croner), so in a fold it fires on both
/// passes; Vixie would fire `0,30 1 * * *` once per wall-clock time.
#[test]
fn lists_in_a_fold_fire_on_both_passes() {
    let s = sched("0,30 1 * * *", "America/New_York");
    assert!(!s.is_fixed_time());
    let day = on_day(&s, date(2026, 11, 1));
    let want: Vec<_> = [
        "2026-11-01T05:00:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
    ]
    .into_iter()
    .map(utc)
    .collect();
    assert_eq!(day, want);
    // two single-time schedules keep "once a day" each
    for e in ["0 1 * * *", "30 1 * * *"] {
        assert_eq!(
            on_day(&sched(e, "America/New_York"), date(2026, 11, 1)).len(),
            1
        );
    }
}
