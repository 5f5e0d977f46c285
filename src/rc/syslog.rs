//! The old rc.d scripts' syslog contract, kept on top of our own log: every record of a boot step
//! (a tracing event with a `step` field) is also sent to the syslog socket (`/dev/log`, which
//! journald or rsyslog owns) with facility `local0` and identifier `rclocal.<step>`, so existing
//! filters and alarms keep matching. A missing socket just means no copy there.
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Where the syslog daemon listens (journald's or rsyslog's socket).
pub const DEFAULT_SOCKET: &str = "/dev/log";
/// Facility local0.
const LOCAL0: u8 = 16;
/// Longest message sent (the rest is cut): well under any datagram limit.
const MAX_MESSAGE: usize = 16 * 1024;

/// The syslog identifier of a step: `rclocal.<step>`; `crontab.<user>` is `rclocal.crontab`, a site
/// script `rc.d/<name>` is `rclocal.<name>`.
pub fn identifier(step: &str) -> String {
    let base = if let Some(name) = step.strip_prefix("rc.d/") {
        name
    } else {
        step.split_once('.').map_or(step, |(head, _)| head)
    };
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' && c != '[' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("rclocal.{clean}")
}

fn severity(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// One datagram as the C library's syslog() writes it: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`.
pub fn datagram(step: &str, level: &tracing::Level, message: &str) -> Vec<u8> {
    let mut msg = message;
    if msg.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg = &msg[..cut];
    }
    format!(
        "<{}>{} {}[{}]: {msg}",
        LOCAL0 * 8 + severity(level),
        chrono::Local::now().format("%b %e %H:%M:%S"),
        identifier(step),
        std::process::id()
    )
    .into_bytes()
}

/// A tracing layer sending step records to the syslog socket.
pub struct SyslogLayer {
    socket: Mutex<Option<UnixDatagram>>,
    path: PathBuf,
    delivering: Arc<AtomicBool>,
}

impl SyslogLayer {
    /// A layer for the socket at `path`; when nothing listens there, it sends nothing.
    pub fn new(path: PathBuf) -> Self {
        // Connecting a datagram socket sends nothing: it only tells whether a daemon listens.
        let socket = UnixDatagram::unbound()
            .and_then(|probe| probe.connect(&path))
            .and_then(|()| UnixDatagram::unbound())
            .ok();
        SyslogLayer {
            delivering: Arc::new(AtomicBool::new(socket.is_some())),
            socket: Mutex::new(socket),
            path,
        }
    }

    /// True while step records reach the socket (false once it is found gone).
    pub fn delivering(&self) -> Arc<AtomicBool> {
        self.delivering.clone()
    }
}

#[derive(Default)]
struct Fields {
    step: Option<String>,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "step" => self.step = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "step" => self.step = Some(format!("{value:?}").trim_matches('"').to_string()),
            "message" => self.message = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SyslogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(step) = fields.step else { return };
        let Ok(mut guard) = self.socket.lock() else {
            return;
        };
        if let Some(sock) = guard.as_ref() {
            let bytes = datagram(&step, event.metadata().level(), &fields.message);
            if let Err(e) = sock.send_to(&bytes, &self.path)
                && matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                )
            {
                // No syslog daemon (a container, an image build): stop trying.
                *guard = None;
                self.delivering.store(false, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_old_tags() {
        assert_eq!(identifier("shell0"), "rclocal.shell0");
        assert_eq!(identifier("crontab.ec2-user"), "rclocal.crontab");
        assert_eq!(identifier("rc.d/30-mount-data"), "rclocal.30-mount-data");
        assert_eq!(identifier("rc.d/a b:c"), "rclocal.a_b_c");
    }

    #[test]
    fn datagrams_carry_local0_and_the_severity() {
        let d = String::from_utf8(datagram("swap", &tracing::Level::ERROR, "no room")).unwrap();
        assert!(d.starts_with("<131>"), "{d}");
        assert!(
            d.ends_with(&format!(" rclocal.swap[{}]: no room", std::process::id())),
            "{d}"
        );
        let d = datagram("shell", &tracing::Level::INFO, &"é".repeat(MAX_MESSAGE));
        assert!(d.starts_with(b"<134>") && d.len() < MAX_MESSAGE + 100);
    }
}
