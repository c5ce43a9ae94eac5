//! sipwall-engine: the guard's deterministic core. Packets and FreeSWITCH
//! events go in with the time; verdicts and [`Action`]s come out. No clock,
//! socket or file is touched, so the daemon, `sipwall replay` and tests on
//! virtual time drive the very same code.
//!
//! ```text
//!   Engine::handle(now, Direction, ip bytes) ─► Decision { verdict, by }
//!   Engine::handle_event(now, &Event)
//!   Engine::poll_action() ─► Action::{Ban, BanPrefix, BanSuppressed, Unban, BanExpired, Allow,
//!                                     Verified, OpenPinhole, ClosePinhole}
//!   Engine::poll_timeout() / handle_timeout(now)
//! ```
//!
//! Inside: [`flow::Flows`] (conntrack-lite and helper expectations, the
//! SIP helper's from SDP and the H.323 helpers' as far as [`h323`] reads) feed
//! the ruleset IR of `sipwall-ruleset`, whose ban and pinhole sets are the
//! engine's own [`bans::Bans`] and [`pinhole::Pinholes`]; accepted SIP goes
//! through `sipwall-sip` to the detectors ([`scanner`], [`flood`],
//! [`transaction`] outcomes counted in [`window`]s).
//!
//! Trust: packets and events come from the network. Nothing in them can
//! make the engine panic, and every table is bounded in entries and bytes
//! (flows, streams, transactions, calls, tracked sources, issued nonces),
//! the bounds documented where they are set; tables keyed by network input
//! hash with random seeds ([`keyed`]); UDP evidence, which anyone can forge,
//! never bans a source that proved it receives the host's answers
//! ([`routable`]).

mod action;
pub mod bans;
mod deadlines;
mod engine;
mod event;
mod flood;
mod flow;
mod h323;
mod keyed;
mod packet;
pub mod pinhole;
pub mod reassembly;
pub mod remote_text;
mod routable;
mod scanner;
mod time;
pub mod transaction;
mod window;
mod witnesses;

pub use action::{Action, BanReason, CloseReason, PinholeKey, Shield};
pub use engine::{DecidedBy, Decision, Engine, Stats};
pub use event::Event;
pub use packet::{Direction, Packet, PacketError, Transport};
pub use sipwall_ruleset::eval::Verdict;
pub use time::Timestamp;
