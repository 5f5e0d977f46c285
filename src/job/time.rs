//! `start` and `ustart` in job templates: datetimes as lava's Python templates see them. Printed,
//! one reads as Python prints a naive datetime (`2026-01-02 03:04:05.000000`); it also has
//! `strftime(fmt)`, `isoformat()`, `date()` and the attributes `year` … `microsecond`.
use chrono::{Datelike, NaiveDateTime, Timelike};
use minijinja::value::{Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use std::fmt::Write as _;
use std::sync::Arc;

/// A naive datetime for templates.
#[derive(Debug, Clone, Copy)]
pub struct TemplateTime(pub NaiveDateTime);

impl TemplateTime {
    /// As Python's `str(datetime)` with microseconds.
    pub fn python(&self) -> String {
        self.0.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
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
                Ok(Value::from(
                    self.0.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                ))
            }
            "date" => {
                let () = from_args(args)?;
                Ok(Value::from(self.0.format("%Y-%m-%d").to_string()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
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

    fn render(template: &str) -> Result<String, Error> {
        let t = NaiveDateTime::parse_from_str("2026-01-02 03:04:05.000123", "%Y-%m-%d %H:%M:%S%.f")
            .unwrap();
        let env = minijinja::Environment::new();
        env.render_str(
            template,
            minijinja::context! { start => Value::from_object(TemplateTime(t)) },
        )
    }

    #[test]
    fn prints_as_python_and_formats_like_strftime() {
        assert_eq!(render("{{ start }}").unwrap(), "2026-01-02 03:04:05.000123");
        assert_eq!(
            render("{{ start.strftime('%Y%m%d') }}").unwrap(),
            "20260102"
        );
        assert_eq!(
            render("{{ start.isoformat() }}").unwrap(),
            "2026-01-02T03:04:05.000123"
        );
        assert_eq!(render("{{ start.date() }}").unwrap(), "2026-01-02");
        assert_eq!(
            render("{{ start.year }}-{{ start.month }}").unwrap(),
            "2026-1"
        );
        assert!(render("{{ start.strftime('%Q') }}").is_err());
        assert!(render("{{ start.nope() }}").is_err());
    }
}
