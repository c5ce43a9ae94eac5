//! Media: pinholes from SDP and FreeSWITCH (media = pinhole), and the
//! kernel helpers' expectations the engine models (SIP's from SDP, H.323's
//! as far as [`crate::h323`] reads).

use super::judge::in_ranges;
use super::Engine;
use crate::flow::{Expectation, FlowKey, EXPECTATION_TIMEOUT};
use crate::packet::{Direction, Packet, Transport};
use crate::pinhole::Owner;
use crate::time::Timestamp;
use sipwall_ruleset::ir::CtState;
use sipwall_sip::{Message, Method, Sdp, Summary};
use std::net::IpAddr;
use std::time::Duration;

/// nf_conntrack_h323's expectation policy: timeout and how many.
const H323_EXPECTATION_TIMEOUT: Duration = Duration::from_secs(240);
const H323_EXPECTATIONS_PER_CALL: usize = 20;
/// H.245 connections remembered at most.
const MAX_H245: usize = 4096;

impl Engine {
    /// nf_conntrack_h323's Q.931 and H.245 helpers, as far as
    /// [`crate::h323`] reads them: on an answered connection to or from a
    /// Q.931 port, the H.245 address the sender announces for itself is
    /// expected from the other end (TCP); on an H.245 connection (one such
    /// expectation admitted; `ct` is its state before this packet), the
    /// RTP and RTCP ports of an OpenLogicalChannelAck (UDP: the even port
    /// and the odd one above it, as the kernel rounds them). For the
    /// helpers' 240 s.
    pub(super) fn h323(
        &mut self,
        now: Timestamp,
        p: &Packet<'_>,
        key: FlowKey,
        ct: Option<CtState>,
    ) {
        let Transport::Tcp { sport, dport, .. } = p.transport else {
            return;
        };
        if self.q931.is_empty() {
            return;
        }
        if ct == Some(CtState::Related) && !self.h245.contains_key(&key) {
            if self.h245.len() >= MAX_H245 {
                let flows = &self.flows;
                self.h245.retain(|k, _| flows.is_tracked(now, k));
            }
            if self.h245.len() < MAX_H245 {
                self.h245.insert(key, ());
            }
        }
        if p.payload.is_empty() || !self.flows.is_answered(now, &key) {
            return;
        }
        let on = |port| in_ranges(&self.q931, port);
        let announced: Vec<(u8, IpAddr, u16)> = if on(sport) || on(dport) {
            crate::h323::h245_addresses(p.payload)
                .map(|(a, port)| (6, a, port))
                .collect()
        } else if self.h245.contains_key(&key) {
            crate::h323::media_addresses(p.payload)
                .flat_map(|(a, port)| [(17, a, port & !1), (17, a, port | 1)])
                .collect()
        } else {
            return;
        };
        let call = crate::keyed::digest(b'h', &[format!("{key:?}").as_bytes()]);
        for (proto, addr, port) in announced {
            // The kernel takes only the sender's own address, and no port 0.
            if addr != p.src || port == 0 {
                continue;
            }
            self.flows.expect(
                Expectation {
                    proto,
                    dst: addr,
                    dport: port,
                    src: Some(p.dst),
                    call,
                    expires: now + H323_EXPECTATION_TIMEOUT,
                },
                H323_EXPECTATIONS_PER_CALL,
            );
        }
    }

    /// Makes the call of an INVITE read only as far as its summary.
    pub(super) fn invite_seen(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        s: &Summary<'_>,
    ) {
        if let (Some(Method::Invite), Some(call_id)) = (s.method(), s.call_id) {
            let endpoints = match dir {
                Direction::In => (p.src, p.dst),
                Direction::Out => (p.dst, p.src),
            };
            self.pinholes
                .open(now, Owner::dialog(call_id), Some(endpoints));
        }
    }

    /// Pinholes from the SDP on the wire (media = pinhole). Only an INVITE
    /// makes a call; anything else about a call the engine does not hold,
    /// or from an address that did not exchange the call's INVITE, changes
    /// nothing (a stray 200 OK or a forged BYE cannot fill the table or
    /// close another's media).
    pub(super) fn pinhole_media(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        m: &Message<'_>,
    ) {
        let (Some(call_id), Some(cseq)) = (m.call_id(), m.cseq()) else {
            return;
        };
        let owner = Owner::dialog(call_id);
        if let Some(c) = self.pinholes.get(now, owner) {
            if !(c.is_endpoint(p.src) && c.is_endpoint(p.dst)) {
                return;
            }
        } else if matches!(m.method(), Some(Method::Invite)) {
            let (remote, local) = match dir {
                Direction::In => (p.src, p.dst),
                Direction::Out => (p.dst, p.src),
            };
            if self
                .pinholes
                .open(now, owner, Some((remote, local)))
                .is_none()
            {
                return;
            }
        } else {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        let carries_offer_or_answer = match m.method() {
            Some(Method::Bye | Method::Cancel) => {
                self.pinholes.end(owner, &mut out);
                false
            }
            Some(Method::Invite) => {
                if let Some(c) = self.pinholes.get(now, owner) {
                    if !c.confirmed {
                        c.invite_cseq = Some(cseq.number);
                    }
                }
                true
            }
            Some(Method::Ack | Method::Update | Method::Prack) => true,
            Some(_) => false,
            None => {
                let status = m.status().unwrap_or(0);
                let to_invite = cseq.method == Method::Invite;
                if to_invite && (200..300).contains(&status) {
                    if let Some(c) = self.pinholes.get(now, owner) {
                        c.confirmed = true;
                    }
                }
                let failed_setup = to_invite && status >= 300 && {
                    let c = self.pinholes.get(now, owner);
                    c.is_some_and(|c| {
                        !c.confirmed && c.invite_cseq.is_none_or(|n| n == cseq.number)
                    })
                };
                if failed_setup {
                    self.pinholes.end(owner, &mut out);
                    false
                } else {
                    status < 300
                        && matches!(cseq.method, Method::Invite | Method::Update | Method::Prack)
                }
            }
        };
        if carries_offer_or_answer {
            if let Some(sdp) = m.sdp() {
                match dir {
                    Direction::Out => {
                        self.pinholes
                            .set_ports(now, owner, &local_ports(&sdp), &mut out)
                    }
                    Direction::In => {
                        if let Some(remote) = media_address(&sdp) {
                            self.pinholes.set_remote(now, owner, remote, &mut out);
                        }
                    }
                }
            }
        }
        self.emit(&mut out);
        self.scratch = out;
    }

    /// nf_conntrack_sip's expectations (media = helper), as notes/kernel.md
    /// describes them: SDP in INVITE/UPDATE/ACK/PRACK and in 1xx/2xx to
    /// INVITE/UPDATE/PRACK; INVITE renews, BYE and failed INVITEs delete.
    pub(super) fn helper_media(&mut self, now: Timestamp, p: &Packet<'_>, m: &Message<'_>) {
        let (Some(call_id), Some(cseq)) = (m.call_id(), m.cseq()) else {
            return;
        };
        let call = Owner::dialog(call_id).id();
        let parse = match m.method() {
            Some(Method::Invite) => {
                self.flows.unexpect(call);
                true
            }
            Some(Method::Update | Method::Ack | Method::Prack) => true,
            Some(Method::Bye) => {
                self.flows.unexpect(call);
                false
            }
            Some(_) => false,
            None => {
                let status = m.status().unwrap_or(0);
                let relevant =
                    matches!(cseq.method, Method::Invite | Method::Update | Method::Prack);
                if cseq.method == Method::Invite && status >= 300 {
                    self.flows.unexpect(call);
                }
                relevant && status < 300
            }
        };
        let Some(sdp) = parse.then(|| m.sdp()).flatten() else {
            return;
        };
        let session = sdp.connection().and_then(|c| connection_ip(&c));
        for media in sdp
            .media()
            .filter(|x| matches!(x.kind, "audio" | "video" | "image") && x.port != 0)
            .take(3)
        {
            let Some(addr) = media
                .connection
                .as_ref()
                .and_then(connection_ip)
                .or(session)
            else {
                continue;
            };
            if self.direct_media && addr != p.src {
                continue;
            }
            let rtp = media.port & !1;
            for dport in [rtp, rtp.saturating_add(1)] {
                self.flows.expect(
                    Expectation {
                        proto: 17,
                        dst: addr,
                        dport,
                        src: self.direct_media.then_some(p.dst),
                        call,
                        expires: now + EXPECTATION_TIMEOUT,
                    },
                    8,
                );
            }
        }
    }
}

fn connection_ip(c: &sipwall_sip::Connection<'_>) -> Option<IpAddr> {
    match c.address {
        sipwall_sip::ConnectionAddress::Ip(ip) => Some(ip),
        _ => None,
    }
}

/// The remote media address of an SDP: the first media's, else the session's.
fn media_address(sdp: &Sdp<'_>) -> Option<IpAddr> {
    sdp.media()
        .filter(|m| m.port != 0)
        .find_map(|m| m.connection.as_ref().and_then(connection_ip))
        .or_else(|| sdp.connection().as_ref().and_then(connection_ip))
}

/// The local ports an SDP this host sends will receive media on: RTP,
/// and RTCP (the next port, or `a=rtcp`) unless `a=rtcp-mux`.
fn local_ports(sdp: &Sdp<'_>) -> Vec<u16> {
    let mut ports = Vec::new();
    for m in sdp.media().filter(|m| m.port != 0) {
        ports.push(m.port);
        if !m.rtcp_mux {
            ports.push(m.rtcp.map_or(m.port.saturating_add(1), |r| r.port));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}
