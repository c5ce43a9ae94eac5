//! Copies of packets from NFLOG groups (`log group N` rules): the daemon's
//! tap. The groups are configured for immediate delivery (queue threshold
//! 1, no flush timer): the kernel's default batching delays a copy by up to
//! a second, which would delay every ban by as much.

use crate::error::NetfilterError;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::nflog::{
    config_request, ConfigCmd, ConfigMode, ConfigNla, PacketNla, Timeout, ULogMessage,
};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

/// One logged packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The NFLOG group it was logged to (tells the direction).
    pub group: u16,
    /// The IP packet.
    pub packet: Vec<u8>,
}

/// A reader of NFLOG groups.
pub struct NflogReader {
    socket: Socket,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NflogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NflogReader")
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> NetfilterError + '_ {
    move |e| NetfilterError::Netlink(format!("{what}: {e}"))
}

impl NflogReader {
    /// Binds `groups` in the current network namespace.
    pub fn open(groups: &[u16]) -> Result<Self, NetfilterError> {
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(io("netlink socket"))?;
        socket.bind_auto().map_err(io("netlink bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("netlink connect"))?;
        // Copies arrive in bursts under attack: a large receive buffer keeps
        // the kernel from dropping them (ENOBUFS).
        let _ = socket.set_rx_buf_sz(8 << 20);
        let mut r = NflogReader {
            socket,
            buf: vec![0; 1 << 18],
        };
        for family in [NetfilterProtoFamily::IPv4, NetfilterProtoFamily::IPv6] {
            // Needed by old kernels only; harmless (and may fail) on new ones.
            let _ = r.request(config_request(family, 0, vec![ConfigCmd::PfBind.into()]));
        }
        for &g in groups {
            let nlas: Vec<ConfigNla> = vec![
                ConfigCmd::Bind.into(),
                ConfigMode::new_packet(0xffff).into(),
                ConfigNla::QThresh(1),
                Timeout::new(0).into(),
            ];
            r.request(config_request(NetfilterProtoFamily::Unspec, g, nlas))
                .map_err(|e| match e {
                    // The kernel gives a group to one socket; EPERM is its
                    // way of saying another process holds it.
                    NetfilterError::Netlink(m) if m.contains("Operation not permitted") => {
                        NetfilterError::Netlink(format!(
                            "NFLOG group {g} is held by another process (another `sipwall run`, ulogd?): one reader per group ({m})"
                        ))
                    }
                    other => other,
                })?;
        }
        Ok(r)
    }

    fn request(&mut self, msg: NetlinkMessage<NetfilterMessage>) -> Result<(), NetfilterError> {
        let mut out = vec![0; msg.header.length as usize];
        msg.serialize(&mut out);
        self.socket.send(&out, 0).map_err(io("netlink send"))?;
        let n = self
            .socket
            .recv(&mut &mut self.buf[..], 0)
            .map_err(io("netlink recv"))?;
        let answer = NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[..n])
            .map_err(|e| NetfilterError::Netlink(format!("nflog answer: {e}")))?;
        if let NetlinkPayload::Error(e) = answer.payload {
            if let Some(code) = e.code {
                return Err(NetfilterError::Netlink(format!(
                    "nflog configuration refused: {}",
                    std::io::Error::from_raw_os_error(-code.get())
                )));
            }
        }
        Ok(())
    }

    /// Waits for the next copies (one datagram may carry several).
    pub fn recv(&mut self) -> Result<Vec<Logged>, NetfilterError> {
        let n = self
            .socket
            .recv(&mut &mut self.buf[..], 0)
            .map_err(io("nflog recv"))?;
        let mut out = Vec::new();
        let mut at = 0;
        while at < n {
            let Ok(msg) = NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[at..n]) else {
                break;
            };
            let len = msg.header.length as usize;
            if let NetlinkPayload::InnerMessage(NetfilterMessage {
                header,
                inner: NetfilterMessageInner::ULog(ULogMessage::Packet(nlas)),
                ..
            }) = msg.payload
            {
                for nla in nlas {
                    if let PacketNla::Payload(packet) = nla {
                        out.push(Logged {
                            group: header.res_id,
                            packet,
                        });
                    }
                }
            }
            if len == 0 {
                break;
            }
            at += (len + 3) & !3;
        }
        Ok(out)
    }
}
