//! sipwall-netfilter (being built).
