//! systemd (being written)
