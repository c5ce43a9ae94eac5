//! sipwall-freeswitch (being built).
