//! SIP inspection of one message: the scanner and flood detectors,
//! malformed counting, transactions opened and answered, and what the
//! host's own messages prove about return routes.

use super::Engine;
use crate::action::BanReason;
use crate::evidence::Trigger;
use crate::packet::{Direction, Packet};
use crate::remote_text::printable;
use crate::scanner::Request;
use crate::time::Timestamp;
use sipwall_policy::MediaMode;
use sipwall_sip::{Message, Method, Summary};
use std::net::IpAddr;

/// A SIP parse error's kind, one word for counting: the part of the
/// message at fault for a malformed one, else the error's class
/// (`unsupported`, `limit`).
pub(super) fn sip_fault(e: &sipwall_sip::Error) -> &'static str {
    use sipwall_sip::Defect;
    match e {
        sipwall_sip::Error::Malformed { defect, .. } => match defect {
            Defect::StartLine(_) => "start-line",
            Defect::RequestUri(_) => "request-uri",
            Defect::StatusCode => "status-code",
            Defect::HeaderLine(_) => "header-line",
            Defect::Header { .. } => "header",
            Defect::Body(_) => "body",
            Defect::Sdp(_) => "sdp",
            _ => "malformed",
        },
        other => other.class(),
    }
}

/// The longest User-Agent, Request-URI or event field kept in evidence, in bytes.
const MAX_EVIDENCE_FIELD: usize = 256;

impl Engine {
    pub(super) fn malformed_sip(
        &mut self,
        now: Timestamp,
        dir: Direction,
        src: IpAddr,
        routable: bool,
        kind: &'static str,
    ) -> Option<BanReason> {
        self.stats.count_malformed(kind);
        if dir != Direction::In || !self.guard.malformed.ban {
            return None;
        }
        let c = crate::evidence::Counted::malformed(now, kind);
        self.count(src, "malformed", c);
        let n = self.malformed.count(now, src);
        if n >= self.guard.malformed.max as usize {
            let evidence = format!(
                "{n} malformed SIP messages within {:?}",
                self.guard.malformed.window
            );
            if self.ban_source(
                now,
                src,
                BanReason::Malformed,
                evidence,
                true,
                routable,
                None,
            ) {
                return Some(BanReason::Malformed);
            }
        }
        None
    }

    pub(super) fn message(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        bytes: &[u8],
        stream: bool,
    ) -> Option<BanReason> {
        let parsed = Message::parse(bytes);
        // Only a message the parser refuses is read again, leniently: a
        // scanner's malformed probe is still a scanner's, and an INVITE
        // the parser refuses still sets up a call.
        let summary = parsed
            .as_ref()
            .err()
            .and_then(|_| Summary::read(bytes).ok());
        if dir == Direction::In {
            let request = match &parsed {
                Ok(m) => Request::of_message(m),
                Err(_) => summary.as_ref().and_then(Request::of_summary),
            };
            if let Some((reason, evidence, r)) = request.and_then(|r| {
                let reason = self.scanner.check(&r, p.dst)?;
                Some((reason, describe_request(&r), r))
            }) {
                let trigger = Trigger {
                    method: r.method.as_str().as_bytes(),
                    account: Some(r.uri),
                };
                // A scanner's request carries no echo of anything the host
                // sent: only a TCP stream makes it return-routable.
                if self.ban_source(
                    now,
                    p.src,
                    reason.clone(),
                    evidence,
                    true,
                    stream,
                    Some(trigger),
                ) {
                    self.stats.sip_messages += 1;
                    return Some(reason);
                }
            }
        }
        let m = match parsed {
            Ok(m) => m,
            Err(e) => {
                // An INVITE the parser refuses (SIPp writes `c=IN IP6
                // [addr]`) still sets a call up: the answer's SDP is what
                // opens its pinholes, and only an INVITE makes a call.
                if let (MediaMode::Pinhole, Some(s)) = (self.media, &summary) {
                    self.invite_seen(now, dir, p, s);
                }
                return self.malformed_sip(now, dir, p.src, stream, sip_fault(&e));
            }
        };
        self.stats.sip_messages += 1;
        let mut banned = None;
        let routable = stream || (dir == Direction::In && self.echoes(now, p.src, &m));
        // Responses cost the engine as much as requests: both count toward
        // the per-source limit.
        if dir == Direction::In && self.guard.flood.enabled && self.flood.over(now, p.src) {
            let evidence = format!(
                "over {} messages/s (burst {})",
                self.guard.flood.rate, self.guard.flood.burst
            );
            let trigger = Trigger {
                method: m
                    .method()
                    .map_or(b"response".as_slice(), |x| x.as_str().as_bytes()),
                account: m.request_uri().map(|u| u.as_str().as_bytes()),
            };
            if self.ban_source(
                now,
                p.src,
                BanReason::Flood,
                evidence,
                false,
                routable,
                Some(trigger),
            ) {
                banned = Some(BanReason::Flood);
            }
        }
        match (dir, m.is_request()) {
            (Direction::In, true) => self.transactions.request(now, p.src, &m, routable),
            (Direction::Out, true) => {
                if let Some(branch) = m.top_via().and_then(|v| v.branch()) {
                    self.routes.requested(now, p.dst, branch);
                }
            }
            (Direction::Out, false) => {
                self.note_sent(now, p.dst, &m);
                if let Some(outcome) = self.transactions.response(now, &m) {
                    self.outcome(now, outcome);
                }
            }
            _ => {}
        }
        if banned.is_none() {
            match self.media {
                MediaMode::Pinhole => self.pinhole_media(now, dir, p, &m),
                MediaMode::Helper | MediaMode::Range if self.helper_assigned => {
                    self.helper_media(now, p, &m)
                }
                _ => {}
            }
        }
        banned
    }

    /// Whether a message echoes what the host sent its source: a request
    /// the nonce of a challenge or (an ACK) the To tag of a 2xx, a response
    /// the Via branch of the host's request. An ACK that does completes a
    /// dialog, and so does a 2xx to the host's INVITE (or REGISTER, or
    /// OPTIONS ping): either verifies the source.
    fn echoes(&mut self, now: Timestamp, src: IpAddr, m: &Message<'_>) -> bool {
        if !m.is_request() {
            let branch = m.top_via().and_then(|v| v.branch());
            let routable = branch.is_some_and(|b| self.routes.answers_request(now, src, b));
            let completes = m.status().is_some_and(|s| (200..300).contains(&s))
                && m.cseq().is_some_and(|c| {
                    matches!(
                        c.method,
                        Method::Invite | Method::Register | Method::Options
                    )
                });
            if routable && completes {
                self.verify(now, src);
            }
            return routable;
        }
        let nonce = m
            .authorization()
            .or_else(|| m.proxy_authorization())
            .and_then(|a| a.param("nonce"));
        let mut routable = nonce.is_some_and(|n| self.routes.echoes_nonce(now, src, n));
        if matches!(m.method(), Some(Method::Ack)) {
            let tag = m.to().and_then(|t| t.tag());
            if let (Some(call_id), Some(tag)) = (m.call_id(), tag) {
                if self.routes.acks_answer(now, src, call_id, tag) {
                    self.verify(now, src);
                    routable = true;
                }
            }
        }
        routable
    }

    /// Notes what the host sends `to` that only `to` can echo: a
    /// challenge's nonce, a 2xx-to-INVITE's To tag.
    fn note_sent(&mut self, now: Timestamp, to: IpAddr, m: &Message<'_>) {
        let challenge = match m.status() {
            Some(401) => m.www_authenticate(),
            Some(407) => m.proxy_authenticate(),
            Some(200..=299) => {
                let to_invite = m.cseq().is_some_and(|c| c.method == Method::Invite);
                let tag = m.to().and_then(|t| t.tag());
                if let (true, Some(call_id), Some(tag)) = (to_invite, m.call_id(), tag) {
                    self.routes.answered(now, to, call_id, tag);
                }
                None
            }
            _ => None,
        };
        if let Some(nonce) = challenge.and_then(|c| c.param("nonce")) {
            self.routes.challenged(now, to, nonce);
        }
    }
}

fn describe_request(r: &Request<'_>) -> String {
    let method = printable(r.method.as_str().as_bytes(), MAX_EVIDENCE_FIELD);
    let ruri = printable(r.uri, MAX_EVIDENCE_FIELD);
    match r.fingerprint.user_agent {
        Some(ua) => format!(
            "{method} {ruri} (User-Agent: {})",
            printable(ua, MAX_EVIDENCE_FIELD)
        ),
        None => format!("{method} {ruri} (no User-Agent)"),
    }
}
