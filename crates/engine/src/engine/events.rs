//! FreeSWITCH events: authentication outcomes it reports, and the media
//! ports of its channels (media = pinhole).

use super::Engine;
use crate::event::Event;
use crate::pinhole::Owner;
use crate::remote_text::printable;
use crate::time::Timestamp;
use crate::transaction::Outcome;
use crate::witnesses::Witness;
use sipwall_policy::MediaMode;

impl Engine {
    /// Reads a FreeSWITCH event.
    pub fn handle_event(&mut self, now: Timestamp, ev: &Event) {
        self.sweep(now);
        match (ev.name(), ev.subclass()) {
            (Some("CUSTOM"), Some("sofia::register_failure")) => {
                let Some(src) = ev.get("network-ip").and_then(|a| a.parse().ok()) else {
                    return;
                };
                let half = crate::transaction::MAX_ACCOUNT / 2 - 1;
                let account = format!(
                    "{}@{}",
                    printable(ev.get("to-user").unwrap_or("").as_bytes(), half),
                    printable(ev.get("to-host").unwrap_or("").as_bytes(), half)
                );
                // FreeSWITCH does not say whether the failed request was
                // return-routable: it weighs as unverified evidence.
                self.auth_failure(now, src, account, false, Witness::Event, ("REGISTER", None));
            }
            (Some("CUSTOM"), Some("sofia::register")) => {
                let Some(src) = ev.get("network-ip").and_then(|a| a.parse().ok()) else {
                    return;
                };
                // FreeSWITCH authenticated the source: it got the challenge.
                self.outcome(
                    now,
                    Outcome::Registered {
                        src,
                        routable: true,
                    },
                );
            }
            (Some("CHANNEL_PROGRESS_MEDIA" | "CHANNEL_ANSWER" | "CALL_UPDATE"), _)
                if self.media == MediaMode::Pinhole =>
            {
                let Some(uuid) = ev.get("Unique-ID") else {
                    return;
                };
                let owner = Owner::channel(uuid.as_bytes());
                let mux = ev.get("variable_rtcp_mux").is_some_and(|v| v == "true");
                let mut ports = Vec::new();
                for name in ["variable_local_media_port", "variable_local_video_port"] {
                    if let Some(p) = ev.port(name) {
                        ports.push(p);
                        if !mux {
                            ports.push(p.saturating_add(1));
                        }
                    }
                }
                if ports.is_empty() {
                    return;
                }
                let mut out = std::mem::take(&mut self.scratch);
                if let Some(remote) = ev
                    .get("variable_remote_media_ip")
                    .and_then(|a| a.parse().ok())
                {
                    self.pinholes.set_remote(now, owner, remote, &mut out);
                }
                self.pinholes.set_ports(now, owner, &ports, &mut out);
                self.emit(&mut out);
                self.scratch = out;
            }
            (Some("CHANNEL_HANGUP_COMPLETE" | "CHANNEL_DESTROY"), _) => {
                let Some(uuid) = ev.get("Unique-ID") else {
                    return;
                };
                let mut out = std::mem::take(&mut self.scratch);
                self.pinholes.end(Owner::channel(uuid.as_bytes()), &mut out);
                self.emit(&mut out);
                self.scratch = out;
            }
            _ => {}
        }
    }
}
