//! sipwall-sip (being built).
