//! What wakes the daemon's loop, and in which order it is taken.
//!
//! Two channels: packets and events on a bounded one (up to
//! [`INPUTS`] waiting, the NFLOG/NFQUEUE readers' back-pressure), control
//! requests on their own. The loop asks for control first, before every
//! input, so `sipwall status` or `bans add` never waits behind a full
//! packet channel; a flood delays an answer by one packet, not 65,536.
//!
//! The loop sleeps on the packet channel only. A control request wakes it
//! with a [`Input::Wake`] marker, sent with `try_send` after the request:
//! when the packet channel is full the marker is not needed (the loop is
//! busy and looks at control before its next packet) and must not block
//! the client's thread. The request goes in before the marker, so a loop
//! woken by it always finds it.

use super::held::Held;
use crate::control::{Request, Response};
use std::sync::mpsc::{
    sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError,
};
use std::time::Duration;

/// Packets and events that may wait for the loop.
pub const INPUTS: usize = 65_536;

/// A control request and where to answer it.
pub type Call = (Request, Sender<Response>);

/// A packet, an event or a state change for the loop.
pub enum Input {
    /// A packet copy from the tap.
    Packet(sipwall_netfilter::Logged),
    /// Packets held in a queue, each to be answered exactly once.
    Queued(Held),
    /// A FreeSWITCH event (decoded headers).
    Event(Vec<(String, String)>),
    /// The event socket connected (true) or went away (false).
    EslState(bool),
    /// What FreeSWITCH says it listens on (`sofia xmlstatus`).
    EslListening(Vec<sipwall_freeswitch::esl::Listening>),
    /// A list banned elsewhere changed (a fetcher's update).
    Blocklist(super::blocklists::Update),
    /// The CrowdSec watcher pushed these outbox rows (or dropped them as
    /// ended): the loop deletes them from the ledger.
    CrowdsecPushed(Vec<i64>),
    /// A control request is waiting on the control channel.
    Wake,
}

/// What the loop takes next.
pub enum Next {
    /// A control request: answer it before anything else.
    Control(Call),
    /// A packet, an event or a state change.
    Input(Input),
}

/// Where control requests go in: the control channel, and a wake-up on the
/// packet channel.
#[derive(Clone)]
pub struct ControlSender {
    calls: SyncSender<Call>,
    wake: SyncSender<Input>,
}

impl ControlSender {
    /// Hands `call` to the loop; `Err` when the loop is gone. Blocks only
    /// while the control channel is full (more clients than it holds).
    pub fn send(&self, call: Call) -> Result<(), ()> {
        self.calls.send(call).map_err(drop)?;
        match self.wake.try_send(Input::Wake) {
            // Full: the loop is busy and looks at control before each input.
            Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(()),
        }
    }
}

/// The loop's end of both channels.
pub struct Inbox {
    inputs: Receiver<Input>,
    calls: Receiver<Call>,
}

/// Makes the channels: the inbox, where packets and events go in, and
/// where control requests go in (`clients` of them may wait).
pub fn new(clients: usize) -> (Inbox, SyncSender<Input>, ControlSender) {
    let (tx, inputs) = sync_channel(INPUTS);
    let (calls_tx, calls) = sync_channel(clients);
    let control = ControlSender {
        calls: calls_tx,
        wake: tx.clone(),
    };
    (Inbox { inputs, calls }, tx, control)
}

impl Inbox {
    /// The next thing waiting, control first; `Ok(None)` when nothing is.
    /// `Err(())` when every sender is gone.
    pub fn try_next(&self) -> Result<Option<Next>, ()> {
        if let Ok(call) = self.calls.try_recv() {
            return Ok(Some(Next::Control(call)));
        }
        loop {
            return match self.inputs.try_recv() {
                Ok(Input::Wake) => match self.calls.try_recv() {
                    Ok(call) => Ok(Some(Next::Control(call))),
                    // Its request was taken already, before an input.
                    Err(_) => continue,
                },
                Ok(input) => Ok(Some(Next::Input(input))),
                Err(TryRecvError::Empty) => Ok(None),
                Err(TryRecvError::Disconnected) => Err(()),
            };
        }
    }

    /// Like [`Inbox::try_next`], but waits up to `wait` for something;
    /// `Ok(None)` when the time ran out.
    pub fn next(&self, wait: Duration) -> Result<Option<Next>, ()> {
        if let Some(next) = self.try_next()? {
            return Ok(Some(next));
        }
        let until = std::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            return match self.inputs.recv_timeout(left) {
                Ok(Input::Wake) => match self.calls.try_recv() {
                    Ok(call) => Ok(Some(Next::Control(call))),
                    Err(_) => continue,
                },
                Ok(input) => Ok(Some(Next::Input(input))),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn event(i: usize) -> Input {
        Input::Event(vec![("n".to_owned(), i.to_string())])
    }

    #[test]
    fn a_control_request_is_answered_before_a_full_packet_channel() {
        let (inbox, tx, control) = new(4);
        for i in 0..INPUTS {
            tx.try_send(event(i)).expect("room for every input");
        }
        assert!(matches!(tx.try_send(event(0)), Err(TrySendError::Full(_))));
        // The client's thread does not block on the full channel.
        let (reply, _answer) = std::sync::mpsc::channel();
        let sent = Instant::now();
        control.send((Request::Status, reply)).unwrap();
        assert!(sent.elapsed() < Duration::from_secs(1));
        match inbox.try_next() {
            Ok(Some(Next::Control((Request::Status, _)))) => {}
            _ => panic!("the control request did not come first"),
        }
        // Then the packets, in order.
        match inbox.try_next() {
            Ok(Some(Next::Input(Input::Event(h)))) => assert_eq!(h[0].1, "0"),
            _ => panic!("the first input did not follow"),
        }
    }

    #[test]
    fn a_control_request_wakes_a_loop_waiting_on_no_packets() {
        let (inbox, _tx, control) = new(4);
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let (reply, _answer) = std::sync::mpsc::channel();
            control.send((Request::Status, reply)).unwrap();
            // Held until the loop has taken the request.
            std::thread::sleep(Duration::from_millis(200));
        });
        let start = Instant::now();
        match inbox.next(Duration::from_secs(30)) {
            Ok(Some(Next::Control((Request::Status, _)))) => {}
            _ => panic!("no control request"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        client.join().unwrap();
    }

    #[test]
    fn a_wake_whose_request_was_taken_already_is_skipped() {
        let (inbox, tx, control) = new(4);
        let (reply, _answer) = std::sync::mpsc::channel();
        control.send((Request::Status, reply)).unwrap();
        tx.send(event(7)).unwrap();
        assert!(matches!(inbox.try_next(), Ok(Some(Next::Control(_)))));
        // The Wake left behind is not an input.
        match inbox.try_next() {
            Ok(Some(Next::Input(Input::Event(h)))) => assert_eq!(h[0].1, "7"),
            _ => panic!("the wake was taken for an input"),
        }
        assert!(matches!(inbox.try_next(), Ok(None)));
    }
}
