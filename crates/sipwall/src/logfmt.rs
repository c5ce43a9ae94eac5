//! The daemon's log lines: logfmt (`ts=… level=warn msg="…" addr="…"`),
//! one line per event whatever its fields hold, or JSON with
//! `--log-format json`. Either can be grepped and shipped as is.
//!
//! Strings are always quoted, with `"`, `\` and every control character
//! escaped, so a value from the network (already made printable by
//! `remote_text::printable`) can neither end the line nor forge a key.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How the daemon writes its log.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `key=value` pairs, strings quoted.
    #[default]
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing `format` to stderr (a second
/// call, as in tests, leaves the first in place).
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        );
    let _ = match format {
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// The logfmt event formatter.
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let mut line = format!("ts={ts} level={level}");
        event.record(&mut Pairs(&mut line));
        writeln!(w, "{line}")
    }
}

/// Appends each field as ` key=value`.
struct Pairs<'a>(&'a mut String);

impl Pairs<'_> {
    fn key(&mut self, field: &Field) {
        let name = match field.name() {
            "message" => "msg",
            n => n,
        };
        let _ = write!(self.0, " {name}=");
    }
}

impl Visit for Pairs<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        quote(self.0, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        quote(self.0, &format!("{value:?}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
}

/// `"value"` with `"`, `\` and control characters escaped.
fn quote(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, f: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || buf.clone());
        match format {
            LogFormat::Logfmt => {
                tracing::subscriber::with_default(builder.event_format(Logfmt).finish(), f)
            }
            LogFormat::Json => {
                tracing::subscriber::with_default(builder.json().flatten_event(true).finish(), f)
            }
        }
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_remote_value_cannot_end_the_line_or_forge_a_key() {
        let evil = "x\" level=error msg=\"forged\nts=0 level=error";
        let text = logged(
            LogFormat::Logfmt,
            || tracing::warn!(addr = %"203.0.113.7", user_agent = evil, count = 3u64, "banned"),
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        let line = text.lines().next().unwrap();
        assert!(line.starts_with("ts="), "{line}");
        assert!(
            line.ends_with(
                " level=warn msg=\"banned\" addr=\"203.0.113.7\" user_agent=\"x\\\" level=error msg=\\\"forged\\nts=0 level=error\" count=3"
            ),
            "{line}"
        );
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let text = logged(
            LogFormat::Json,
            || tracing::info!(addr = %"2001:db8::7", "pinhole opened"),
        );
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "pinhole opened");
        assert_eq!(v["addr"], "2001:db8::7");
    }
}
