//! Datetimes in job templates (`start`, `ustart`, `job.ts_start`, `job.ts_dispatch`,
//! `globals.lava.master_start` …) as lava's Python templates see them: time-zone aware, whole
//! seconds, printed as Python prints an aware datetime (`2026-01-02 03:04:05+11:00`), with
//! `strftime(fmt)`, `isoformat()`, `date()`, `timestamp()` and the attributes `year` …
//! `microsecond`. Anything else a template calls on one is an error naming it.
use chrono::{DateTime, Datelike, FixedOffset, Local, Timelike, Utc};
use minijinja::value::{Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use std::fmt::Write as _;
use std::sync::Arc;

/// An aware datetime for templates.
#[derive(Debug, Clone, Copy)]
pub struct TemplateTime(pub DateTime<FixedOffset>);

impl TemplateTime {
    /// Now in the local time zone, rounded down to the second (lava's `now_tz()`).
    pub fn now_local() -> TemplateTime {
        let now = Local::now().fixed_offset();
        TemplateTime(now.with_nanosecond(0).unwrap_or(now))
    }

    /// The same instant in UTC.
    pub fn utc(&self) -> TemplateTime {
        TemplateTime(self.0.with_timezone(&Utc).fixed_offset())
    }

    fn offset(&self) -> String {
        let secs = self.0.offset().local_minus_utc();
        let sign = if secs < 0 { '-' } else { '+' };
        let a = secs.abs();
        let mut s = format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60);
        if a % 60 != 0 {
            let _ = write!(s, ":{:02}", a % 60);
        }
        s
    }

    fn iso(&self, sep: char) -> String {
        let micro = self.0.nanosecond() / 1000;
        let frac = if micro == 0 {
            String::new()
        } else {
            format!(".{micro:06}")
        };
        format!(
            "{}{sep}{}{frac}{}",
            self.0.format("%Y-%m-%d"),
            self.0.format("%H:%M:%S"),
            self.offset()
        )
    }

    /// As Python's `str(datetime)`.
    pub fn python(&self) -> String {
        self.iso(' ')
    }

    /// As Python's `datetime.isoformat()` (also what `json_default` writes).
    pub fn isoformat(&self) -> String {
        self.iso('T')
    }
}

fn unsupported(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("datetime.{what} is not supported by lava-build job run"),
    )
}

impl Object for TemplateTime {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = self.0;
        Some(Value::from(match key.as_str()? {
            "year" => t.year() as i64,
            "month" => t.month() as i64,
            "day" => t.day() as i64,
            "hour" => t.hour() as i64,
            "minute" => t.minute() as i64,
            "second" => t.second() as i64,
            "microsecond" => (t.nanosecond() / 1000) as i64,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (&str,) = from_args(args)?;
                let mut out = String::new();
                // An unknown % directive makes chrono's formatter fail: a template error, no panic.
                write!(out, "{}", self.0.format(format)).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("strftime: {format:?} is not a valid format"),
                    )
                })?;
                Ok(Value::from(out))
            }
            "isoformat" => {
                let () = from_args(args)?;
                Ok(Value::from(self.isoformat()))
            }
            "date" => {
                let () = from_args(args)?;
                Ok(Value::from(self.0.format("%Y-%m-%d").to_string()))
            }
            "timestamp" => {
                let () = from_args(args)?;
                Ok(Value::from(self.0.timestamp() as f64))
            }
            other => Err(unsupported(&format!("{other}()"))),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        f.write_str(&self.python())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TemplateTime {
        TemplateTime(DateTime::parse_from_rfc3339("2026-01-02T03:04:05+11:00").unwrap())
    }

    fn render(template: &str) -> Result<String, Error> {
        let env = minijinja::Environment::new();
        env.render_str(
            template,
            minijinja::context! { start => Value::from_object(t()), ustart => Value::from_object(t().utc()) },
        )
    }

    #[test]
    fn prints_as_python_prints_an_aware_datetime() {
        assert_eq!(render("{{ start }}").unwrap(), "2026-01-02 03:04:05+11:00");
        assert_eq!(render("{{ ustart }}").unwrap(), "2026-01-01 16:04:05+00:00");
        assert_eq!(
            render("{{ start.strftime('%Y%m%d %z') }}").unwrap(),
            "20260102 +1100"
        );
        assert_eq!(
            render("{{ start.isoformat() }}").unwrap(),
            "2026-01-02T03:04:05+11:00"
        );
        assert_eq!(render("{{ start.date() }}").unwrap(), "2026-01-02");
        assert_eq!(
            render("{{ start.year }}-{{ start.month }}").unwrap(),
            "2026-1"
        );
        assert_eq!(render("{{ ustart.timestamp() }}").unwrap(), "1767283445.0");
        assert!(render("{{ start.strftime('%Q') }}").is_err());
        let e = render("{{ start.astimezone() }}").unwrap_err().to_string();
        assert!(e.contains("datetime.astimezone() is not supported"), "{e}");
    }

    #[test]
    fn now_is_whole_seconds() {
        assert_eq!(TemplateTime::now_local().0.nanosecond(), 0);
    }
}
