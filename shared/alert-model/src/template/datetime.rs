//! `@DateTime(format[, offset])`: "now" (UTC), shifted by an offset, in a .NET-style format.
//!
//! Formats: `Iso` (`2026-11-28T16:58:39Z`), `Unix` (epoch seconds), a .NET standard format letter
//! (`d`, `D`, `f`, `F`, `g`, `G`, `M`, `o`, `R`, `s`, `t`, `T`, `u`, `U`, `Y`, invariant culture), or a
//! .NET custom format (`yyyy-MM-ddTHH:mm:ss.fff`, `dd/MM/yyyy HH:mm`, `ddd, dd MMM yyyy`, `hh:mm tt`,
//! `zzz`, `'quoted text'`, `\x`), translated specifier by specifier onto chrono's calendar fields.
//! Offsets: ± seconds, or `FirstDayOfMonth`, `LastDayOfMonth`, `FirstDayOfPreviousMonth`,
//! `LastDayOfPreviousMonth`, `FirstDayOfNextMonth`, `LastDayOfNextMonth` (these move the date and keep
//! the time of day).

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Timelike, Utc};

const NAMED_OFFSETS: &[&str] = &[
    "FirstDayOfMonth",
    "LastDayOfMonth",
    "FirstDayOfPreviousMonth",
    "LastDayOfPreviousMonth",
    "FirstDayOfNextMonth",
    "LastDayOfNextMonth",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Whether `text` is an offset argument (± seconds or a named offset).
pub(super) fn looks_like_offset(text: &str) -> bool {
    parse_seconds(text).is_some() || NAMED_OFFSETS.iter().any(|name| name.eq_ignore_ascii_case(text))
}

fn parse_seconds(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Renders `@DateTime(format, offset)` for `now`.
pub(super) fn render(now: DateTime<Utc>, format: &str, offset: Option<&str>) -> Result<String, String> {
    let at = match offset.map(str::trim).filter(|text| !text.is_empty()) {
        None => now,
        Some(text) => shift(now, text)?,
    };
    formatted(at, 0, at.timestamp(), format)
}

/// Renders `at` in time zone `zone` with `format` (the formats of [`render`]); `zzz` and `K` give
/// the zone's offset at that time.
pub(super) fn render_in(at: DateTime<Utc>, zone: chrono_tz::Tz, format: &str) -> Result<String, String> {
    use chrono::Offset as _;
    let local = at.with_timezone(&zone);
    let offset = local.offset().fix().local_minus_utc();
    formatted(local.naive_local().and_utc(), offset, at.timestamp(), format)
}

/// `wall` (the local time, written as UTC) whose offset from UTC is `offset` seconds, in `format`;
/// `Unix` gives `epoch`.
fn formatted(wall: DateTime<Utc>, offset: i32, epoch: i64, format: &str) -> Result<String, String> {
    let at = wall;
    let format = format.trim();
    if format.eq_ignore_ascii_case("iso") {
        return custom(at, offset, "yyyy-MM-ddTHH:mm:ssK");
    }
    if format.eq_ignore_ascii_case("unix") {
        return Ok(epoch.to_string());
    }
    if format.is_empty() {
        return Err(
            "DateTime: the format is empty (use Iso, Unix or a format such as yyyy-MM-dd)".to_owned(),
        );
    }
    let standard = match format {
        "d" => Some("MM/dd/yyyy"),
        "D" => Some("dddd, dd MMMM yyyy"),
        "f" => Some("dddd, dd MMMM yyyy HH:mm"),
        "F" | "U" => Some("dddd, dd MMMM yyyy HH:mm:ss"),
        "g" => Some("MM/dd/yyyy HH:mm"),
        "G" => Some("MM/dd/yyyy HH:mm:ss"),
        "M" | "m" => Some("MMMM dd"),
        "O" | "o" => Some("yyyy-MM-ddTHH:mm:ss.fffffffK"),
        "R" | "r" => Some("ddd, dd MMM yyyy HH:mm:ss 'GMT'"),
        "s" => Some("yyyy-MM-ddTHH:mm:ss"),
        "t" => Some("HH:mm"),
        "T" => Some("HH:mm:ss"),
        "u" => Some("yyyy-MM-dd HH:mm:ssZ"),
        "Y" | "y" => Some("yyyy MMMM"),
        _ => None,
    };
    custom(at, offset, standard.unwrap_or(format))
}

/// Applies an offset argument.
fn shift(now: DateTime<Utc>, text: &str) -> Result<DateTime<Utc>, String> {
    if let Some(seconds) = parse_seconds(text) {
        return TimeDelta::try_seconds(seconds)
            .and_then(|delta| now.checked_add_signed(delta))
            .ok_or_else(|| format!("DateTime: offset `{text}` seconds is out of range"));
    }
    let first_of_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1);
    let month_shift = |first: NaiveDate, months: i32| match months {
        0 => Some(first),
        m if m > 0 => first.checked_add_months(Months::new(m.unsigned_abs())),
        m => first.checked_sub_months(Months::new(m.unsigned_abs())),
    };
    let (months, last) = match text.to_ascii_lowercase().as_str() {
        "firstdayofmonth" => (0, false),
        "lastdayofmonth" => (0, true),
        "firstdayofpreviousmonth" => (-1, false),
        "lastdayofpreviousmonth" => (-1, true),
        "firstdayofnextmonth" => (1, false),
        "lastdayofnextmonth" => (1, true),
        _ => {
            return Err(format!(
                "DateTime: unknown offset `{text}` (expected ± seconds or one of {})",
                NAMED_OFFSETS.join(", ")
            ));
        }
    };
    let date = first_of_month
        .and_then(|first| month_shift(first, months))
        .and_then(|first| {
            if last {
                first
                    .checked_add_months(Months::new(1))
                    .and_then(|next| next.pred_opt())
            } else {
                Some(first)
            }
        });
    date.map(|date| date.and_time(now.time()).and_utc())
        .ok_or_else(|| format!("DateTime: offset `{text}` is out of range"))
}

/// Formats `at` (a wall-clock time `offset` seconds ahead of UTC) with a .NET custom format string.
fn custom(at: DateTime<Utc>, offset: i32, format: &str) -> Result<String, String> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::with_capacity(format.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        match c {
            'y' => {
                let year = at.year();
                match run {
                    1 => out.push_str(&(year % 100).to_string()),
                    2 => out.push_str(&format!("{:02}", year % 100)),
                    n => out.push_str(&format!("{year:0n$}")),
                }
            }
            'M' => match run {
                1 => out.push_str(&at.month().to_string()),
                2 => out.push_str(&format!("{:02}", at.month())),
                3 => out.push_str(&MONTHS[at.month0() as usize][..3]),
                _ => out.push_str(MONTHS[at.month0() as usize]),
            },
            'd' => {
                let weekday = DAYS[at.weekday().num_days_from_monday() as usize];
                match run {
                    1 => out.push_str(&at.day().to_string()),
                    2 => out.push_str(&format!("{:02}", at.day())),
                    3 => out.push_str(&weekday[..3]),
                    _ => out.push_str(weekday),
                }
            }
            'H' => two(&mut out, at.hour(), run),
            'h' => two(&mut out, at.hour12().1, run),
            'm' => two(&mut out, at.minute(), run),
            's' => two(&mut out, at.second(), run),
            'f' | 'F' => {
                if run > 9 {
                    return Err(format!(
                        "DateTime: `{}` asks for more than 9 fraction digits",
                        c.to_string().repeat(run)
                    ));
                }
                let nanos = at.nanosecond() % 1_000_000_000;
                let digits = format!("{nanos:09}");
                let digits = &digits[..run];
                if c == 'f' {
                    out.push_str(digits);
                } else {
                    out.push_str(digits.trim_end_matches('0'));
                }
            }
            't' => {
                let pm = at.hour12().0;
                let text = if pm { "PM" } else { "AM" };
                out.push_str(if run == 1 { &text[..1] } else { text });
            }
            'z' => out.push_str(&zone_offset(offset, run)),
            'K' if offset == 0 => out.push_str(&"Z".repeat(run)),
            'K' => out.push_str(&zone_offset(offset, 3).repeat(run)),
            'g' => out.push_str("A.D."),
            '\'' | '"' => {
                let Some(close) = chars[i + 1..].iter().position(|&q| q == c) else {
                    return Err(format!("DateTime: unterminated quoted text in format `{format}`"));
                };
                out.extend(&chars[i + 1..i + 1 + close]);
                i += close + 2;
                continue;
            }
            '\\' => {
                if let Some(next) = chars.get(i + 1) {
                    out.push(*next);
                }
                i += 2;
                continue;
            }
            '%' => {
                i += 1;
                continue;
            }
            other => {
                out.push(other);
                i += 1;
                continue;
            }
        }
        i += run;
    }
    Ok(out)
}

/// `+1`, `+01` or `+01:00` (.NET `z`, `zz`, `zzz`) for an offset in seconds.
fn zone_offset(offset: i32, run: usize) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    match run {
        1 => format!("{sign}{hours}"),
        2 => format!("{sign}{hours:02}"),
        _ => format!("{sign}{hours:02}:{minutes:02}"),
    }
}

fn two(out: &mut String, value: u32, run: usize) {
    if run == 1 {
        out.push_str(&value.to_string());
    } else {
        out.push_str(&format!("{value:02}"));
    }
}
