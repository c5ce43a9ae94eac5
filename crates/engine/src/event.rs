//! A FreeSWITCH event as the engine reads it: header names and decoded
//! values. The ESL codec (in the daemon) builds these from the wire; tests
//! build them by hand.

/// One event: `Event-Name`, `Event-Subclass`, `Unique-ID`, `variable_*`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    headers: Vec<(String, String)>,
}

impl Event {
    /// An event with these (already URL-decoded) headers.
    pub fn new(headers: Vec<(String, String)>) -> Self {
        Event { headers }
    }

    /// Builds an event from `name: value` pairs (for tests and replays).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Event::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The value of header `name` (case-sensitive, as FreeSWITCH writes them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Event-Name`.
    pub fn name(&self) -> Option<&str> {
        self.get("Event-Name")
    }

    /// `Event-Subclass` (for `CUSTOM` events).
    pub fn subclass(&self) -> Option<&str> {
        self.get("Event-Subclass")
    }

    /// A header read as a port number.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.get(name)
            .and_then(|v| v.trim().parse().ok())
            .filter(|p| *p != 0)
    }
}
