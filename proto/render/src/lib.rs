//! Renderers (placeholder until written).
