//! Flowlu's date values: naive portal-local `YYYY-MM-DD[ HH:mm[:ss]]` texts (no time zone is
//! invented) and zero dates (`0000-00-00`), Flowlu's "not set". Pure; used by the settings'
//! start date, the cursor and the pager.

/// Whether `text` is a zero date (`0000-00-00`, `0000-00-00 00:00:00`): Flowlu's "not set".
pub(crate) fn is_zero_date(text: &str) -> bool {
    text.trim()
        .strip_prefix("0000-00-00")
        .is_some_and(|rest| rest.chars().all(|c| matches!(c, '0' | ':' | ' ' | 'T')))
}

/// Seconds since 1970-01-01 of a naive `YYYY-MM-DD[ HH:mm[:ss]]` (no time zone is involved),
/// `None` when it is not a real date and time (`2024-02-30`, `2024-13-45`, `25:00`).
pub(crate) fn naive_seconds(text: &str) -> Option<i64> {
    parse_naive(text)
}

/// Seconds since 1970-01-01 of a naive `YYYY-MM-DD[ HH:mm[:ss]]` (no time zone is involved:
/// the same arithmetic is undone by [`format_naive`]).
pub(crate) fn parse_naive(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next().flatten().unwrap_or(0));
    let ss = t.next().flatten().unwrap_or(0);
    let days_in_month = match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1..=12).contains(&m)
        && (1..=days_in_month).contains(&day)
        && (0..24).contains(&hh)
        && (0..60).contains(&mm)
        && (0..61).contains(&ss);
    valid.then(|| days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `YYYY-MM-DD HH:mm:ss` of [`parse_naive`]'s seconds.
pub(crate) fn format_naive(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of [`days_from_civil`]'s day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}
