mod clock;
pub mod run;

pub use clock::Clock;
pub use run::Run;

pub fn start() {
    run::go();
    crate::util::helper();
}

#[cfg(test)]
pub fn fake() {
    crate::testutil::fixture();
}
