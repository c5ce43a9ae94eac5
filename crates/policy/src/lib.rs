//! sipwall-policy (being built).
