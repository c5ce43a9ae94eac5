//! SIP framing: which packets carry SIP (the policy's SIP ports), and
//! their payloads cut into messages: a UDP datagram is one (keep-alives
//! aside), a TCP stream is reassembled across segments through
//! [`crate::reassembly`] and ends with its connection.

use super::inspect::sip_fault;
use super::judge::in_ranges;
use super::Engine;
use crate::action::BanReason;
use crate::flow::FlowKey;
use crate::packet::{Direction, Packet, Transport};
use crate::reassembly::MAX_BUFFER;
use crate::time::Timestamp;
use sipwall_sip::{framing, Frame};

impl Engine {
    pub(super) fn is_sip(&self, p: &Packet<'_>, dir: Direction) -> bool {
        let (ranges, sport, dport) = match p.transport {
            Transport::Udp { sport, dport } => (&self.sip_udp, sport, dport),
            Transport::Tcp { sport, dport, .. } => (&self.sip_tcp, sport, dport),
            _ => return false,
        };
        match dir {
            Direction::In => in_ranges(ranges, dport),
            // FreeSWITCH answers from its profile port and calls out to a peer's SIP port.
            Direction::Out => in_ranges(ranges, sport) || in_ranges(ranges, dport),
        }
    }

    /// Inspects SIP; returns the reason when the sender got banned by it.
    pub(super) fn inspect(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        key: FlowKey,
        stream: bool,
    ) -> Option<BanReason> {
        if let Transport::Tcp {
            sport,
            dport,
            fin_or_rst: true,
            ..
        } = p.transport
        {
            // The connection ends: what it left unframed goes with it.
            let banned = self.inspect_payload(now, dir, p, key, stream);
            self.streams.end(key, (p.src, sport), (p.dst, dport));
            return banned;
        }
        self.inspect_payload(now, dir, p, key, stream)
    }

    fn inspect_payload(
        &mut self,
        now: Timestamp,
        dir: Direction,
        p: &Packet<'_>,
        key: FlowKey,
        stream: bool,
    ) -> Option<BanReason> {
        if p.payload.is_empty() {
            return None;
        }
        let mut banned = None;
        match p.transport {
            Transport::Tcp { sport, .. } => {
                let stream_key = (key, p.src, sport);
                let mut buf = self.streams.take(&stream_key);
                buf.extend_from_slice(p.payload);
                let mut used = 0;
                loop {
                    match framing::frame(&buf[used..]) {
                        Frame::Complete(len) => {
                            let end = used + len;
                            let msg = buf[used..end].to_vec();
                            banned = banned.or(self.message(now, dir, p, &msg, stream));
                            used = end;
                        }
                        Frame::KeepAlive(len) => used += len,
                        Frame::Incomplete => break,
                        Frame::Malformed(e) => {
                            banned = banned.or(self.malformed_sip(
                                now,
                                dir,
                                p.src,
                                stream,
                                sip_fault(&e),
                            ));
                            used = buf.len();
                            break;
                        }
                    }
                }
                buf.drain(..used);
                if buf.len() <= MAX_BUFFER {
                    self.streams.put(stream_key, buf);
                } else {
                    banned =
                        banned.or(self.malformed_sip(now, dir, p.src, stream, "stream-buffer"));
                }
            }
            _ => {
                if p.payload.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
                    return None; // keep-alive
                }
                banned = self.message(now, dir, p, p.payload, false);
            }
        }
        banned
    }
}
