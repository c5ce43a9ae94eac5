//! sipwall-ruleset (being built).
