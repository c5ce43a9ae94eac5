//! sipwall-engine: the guard's deterministic core. Packets and FreeSWITCH
//! events go in with the time; verdicts and [`Action`]s come out. No clock,
//! socket or file is touched, so the daemon, `sipwall replay` and tests on
//! virtual time drive the very same code.
//!
//! ```text
//!   Engine::handle_accepted(now, Direction, ip bytes) ─► Verdict      sipwall run (the kernel judged)
//!   Engine::handle_packet(now, Direction, &Packet)   ─► Decision     sipwall replay (rules + guard)
//!   Engine::handle_event(now, &Event)
//!   Engine::poll_action() ─► Action::{Ban, BanPrefix, BanSuppressed, Unban, BanExpired, Allow,
//!                                     Verified, OpenPinhole, ClosePinhole}
//!   Engine::poll_timeout() ─► next end of a ban or pinhole; Engine::handle_timeout(now)
//! ```
//!
//! How the types fit: [`Engine`] is the one stateful value. A packet is
//! read once into a [`Packet`] ([`Direction`] says which way it travels
//! relative to the host). The daemon sees only packets the kernel's rules
//! already accepted, so [`Engine::handle_accepted`] inspects without
//! judging; replay has no kernel, so [`Engine::handle_packet`] judges as
//! the kernel would (conntrack-lite, then the input chain of the
//! `sipwall-ruleset` IR over the engine's own [`bans::Bans`] and
//! [`pinhole::Pinholes`] as its sets) and says what decided
//! ([`Decision`], [`DecidedBy`]). Accepted SIP goes through `sipwall-sip`
//! to the detectors (scanner, flood, transaction outcomes counted in
//! sliding windows). What the caller must do comes out as [`Action`]s, in
//! order; counters as [`Stats`].
//!
//! Time is the caller's, as in quinn-proto's `Connection`: every entry
//! takes `now` (a [`Timestamp`]), and the engine never reads a clock nor
//! lets time pass on its own. [`Engine::poll_timeout`] says when the next
//! ban or pinhole ends; the caller calls [`Engine::handle_timeout`] then
//! (the daemon from its loop, replay between packets at each deadline).
//! Tables only traffic fills (flows, reassembly buffers, quiet calls) are
//! pruned on the packet and event path, at most once a second, so an
//! idle engine has no timer but its real ones.
//!
//! Trust: packets and events come from the network. Nothing in them can
//! make the engine panic, and every table is bounded in entries and bytes
//! (flows, streams, transactions, calls, tracked sources, issued nonces),
//! the bounds documented where they are set; tables keyed by network input
//! hash with random seeds; UDP evidence, which anyone can forge, never
//! bans a source that proved it receives the host's answers (the
//! return-routability table).

mod action;
pub mod bans;
mod deadlines;
mod engine;
mod event;
pub mod evidence;
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
pub use evidence::{Counted, Evidence, Step};
pub use packet::{Direction, Packet, PacketError, Transport};
pub use sipwall_ruleset::eval::Verdict;
pub use time::Timestamp;
