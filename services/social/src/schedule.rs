//! Publishing schedules: five-field cron expressions evaluated on the wall
//! clock of an IANA time zone.
//!
//! Field matching and the search are the [`croner`] crate's (4.x); this
//! module adds zone parsing, error messages that name the bad field, and
//! the contract below, which `tests/schedule.rs` checks by counting
//! occurrences over whole local days (New York, London, Kolkata, 2026).
//!
//! # Expressions
//!
//! `minute hour day-of-month month day-of-week`, as in Vixie cron / cronie
//! (`JAN`-`DEC`, `SUN`-`SAT`, `7` = Sunday, lists, ranges, steps), plus
//! croner's `L`, `W` and `#` and the nicknames `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`. When both
//! day fields are restricted a day matches if *either* does (Vixie). No
//! seconds field and no year field: every occurrence is at second 0.
//!
//! # Daylight saving time
//!
//! A schedule is *fixed-time* when its minute and hour fields are each a
//! single number (`30 2 * * *`, `0 9 * * MON-FRI`); any other schedule
//! (`*`, steps, lists or ranges in the minute or hour) is an *interval*
//! schedule. This is croner's classification.
//!
//! * **Gap** (spring forward; e.g. New York 2026-03-08 02:00 EST → 03:00
//!   EDT): a fixed-time schedule whose time does not exist that day fires
//!   **once, at the first instant after the gap** (02:30 → 03:00 EDT,
//!   07:00 UTC). Interval schedules skip the missing wall-clock times and
//!   carry on with the new wall clock (`*/15 2 * * *` does not fire that
//!   day; `0 * * * *` fires 23 times).
//! * **Fold** (fall back; e.g. New York 2026-11-01 02:00 EDT → 01:00 EST):
//!   a fixed-time schedule whose time occurs twice fires **once, at the
//!   first occurrence** (01:30 EDT, 05:30 UTC). Interval schedules fire on
//!   both passes, so `0 * * * *` fires at every real hour: 25 times that
//!   day, one hour apart in UTC.
//! * Every other time of those days fires normally, once.
//!
//! This is what the Vixie cron(8) manual (also cronie's) promises for local
//! time changes of less than three hours: for "jobs that run at a specific
//! time ... those jobs that would have run in the interval that has been
//! skipped will be run immediately. Conversely, if time has moved backward,
//! care is taken to avoid running jobs twice", while "jobs that run more
//! frequently are scheduled normally". Vixie runs the skipped job when its
//! once-a-minute loop notices the jump, i.e. in the first minute after the
//! gap; here that is exactly the first valid instant. One difference: Vixie
//! calls a job fixed-time unless its minute or hour field *starts with*
//! `*`, so it would also treat `0,30 1 * * *` as fixed-time (one run per
//! wall-clock time in a fold), where croner and this module fire such lists
//! on both passes of a fold. Use single times (several schedules) for posts
//! that must never repeat.
//!
//! Zones without DST (`Asia/Kolkata`) have neither gaps nor folds: every
//! local day has exactly the wall-clock occurrences the fields describe.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// Names of the five fields, in order.
const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// Why a schedule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Nothing but white space.
    #[error("the cron expression is empty; expected five fields: minute hour day-of-month month day-of-week")]
    Empty,
    /// Not five fields.
    #[error("the cron expression {expr:?} has {found} field(s); expected five: minute hour day-of-month month day-of-week (no seconds or year field)")]
    FieldCount {
        /// The expression as given.
        expr: String,
        /// How many white-space separated fields it has.
        found: usize,
    },
    /// An `@` nickname that is not supported.
    #[error("unknown cron nickname {0:?}; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")]
    Nickname(String),
    /// One field does not parse or is out of range.
    #[error("the {field} field {value:?} of the cron expression {expr:?} is invalid: {reason}")]
    Field {
        /// `minute`, `hour`, `day-of-month`, `month` or `day-of-week`.
        field: &'static str,
        /// The field's text.
        value: String,
        /// The expression as given.
        expr: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The fields are valid alone but not together.
    #[error("the cron expression {expr:?} is invalid: {reason}")]
    Expression {
        /// The expression as given.
        expr: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The expression can never fire (e.g. `0 0 30 2 *`).
    #[error("the cron expression {expr:?} never fires (no calendar date matches its day-of-month and month fields)")]
    NeverFires {
        /// The expression as given.
        expr: String,
    },
    /// The zone is not an IANA zone name.
    #[error("unknown time zone {0:?}; expected an IANA name such as \"Asia/Kolkata\" or \"America/New_York\" (names are case-sensitive)")]
    UnknownZone(String),
}

/// A cron expression evaluated in an IANA time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz == other.tz
    }
}

impl Eq for Schedule {}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

fn reason(e: &CronError) -> String {
    match e {
        CronError::InvalidPattern(m)
        | CronError::IllegalCharacters(m)
        | CronError::ComponentError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Expand a nickname to its five fields.
fn expand_nickname(expr: &str) -> Result<&'static str, ScheduleError> {
    match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        _ => Err(ScheduleError::Nickname(expr.to_owned())),
    }
}

impl Schedule {
    /// Parse a five-field cron expression (or an `@` nickname) and an IANA
    /// zone name. Errors name the bad field or the bad zone; an expression
    /// that can never fire (`0 0 31 4 *`) is rejected too.
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let zone: Tz = tz
            .trim()
            .parse()
            .map_err(|_| ScheduleError::UnknownZone(tz.to_owned()))?;
        let given = expr.trim();
        if given.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let fields_text = if given.starts_with('@') {
            expand_nickname(given)?
        } else {
            given
        };
        let fields: Vec<&str> = fields_text.split_whitespace().collect();
        if fields.len() != FIELDS.len() {
            return Err(ScheduleError::FieldCount {
                expr: given.to_owned(),
                found: fields.len(),
            });
        }
        let p = parser();
        // Each field alone (the others `*`), so the error can name it.
        for (i, name) in FIELDS.iter().enumerate() {
            let probe: Vec<&str> = (0..FIELDS.len())
                .map(|j| if j == i { fields[j] } else { "*" })
                .collect();
            if let Err(e) = p.parse(&probe.join(" ")) {
                return Err(ScheduleError::Field {
                    field: name,
                    value: fields[i].to_owned(),
                    expr: given.to_owned(),
                    reason: reason(&e),
                });
            }
        }
        let cron = p
            .parse(&fields.join(" "))
            .map_err(|e| ScheduleError::Expression {
                expr: given.to_owned(),
                reason: reason(&e),
            })?;
        let schedule = Schedule {
            expr: given.to_owned(),
            tz: zone,
            cron,
        };
        if !schedule.fires_at_all() {
            return Err(ScheduleError::NeverFires {
                expr: given.to_owned(),
            });
        }
        Ok(schedule)
    }

    /// Whether any calendar date matches the day and month fields, checked
    /// over the 28 years from 2000-01-01 (a full cycle of weekdays and leap
    /// years). The time fields always match some time of a matching day.
    fn fires_at_all(&self) -> bool {
        let p = &self.cron.pattern;
        let Some(start) = NaiveDate::from_ymd_opt(2000, 1, 1) else {
            return false;
        };
        start.iter_days().take(28 * 366).any(|d| {
            let weekday =
                croner::Weekday::from_days_from_sunday(d.weekday().num_days_from_sunday());
            matches!(p.month_match(d.month()), Ok(true))
                && matches!(p.day_match(d.year(), d.month(), d.day(), weekday), Ok(true))
        })
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The zone the expression is evaluated in.
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// Whether the minute and hour fields are single values (see the module
    /// documentation for what this changes at DST transitions).
    pub fn is_fixed_time(&self) -> bool {
        self.cron.determine_job_type() == croner::JobType::FixedTime
    }

    /// The first occurrence strictly after `after`, or `None` if there is
    /// none before the year 5000.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Occurrences in `[from, to)`, ascending, each once.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        // Start a second early so an occurrence exactly at `from` is kept
        // (croner works in whole seconds); drop anything before `from`.
        let first = self.next_after(from - Duration::seconds(1));
        std::iter::successors(first, move |t| self.next_after(*t))
            .skip_while(move |t| *t < from)
            .take_while(move |t| *t < to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        for (expr, field) in [
            ("61 * * * *", "minute"),
            ("0 24 * * *", "hour"),
            ("0 0 32 * *", "day-of-month"),
            ("0 0 * 13 *", "month"),
            ("0 0 * * 8", "day-of-week"),
            ("0 x * * *", "hour"),
        ] {
            match Schedule::parse(expr, "UTC") {
                Err(ScheduleError::Field { field: f, .. }) => assert_eq!(f, field, "{expr}"),
                other => panic!("{expr}: {other:?}"),
            }
        }
    }
}
