//! Mentions crate::engine::Run in docs only.
pub mod engine;
pub mod util;

pub use engine::Run;

/* a block comment /* nested */ with crate::engine::run::go() */
pub fn main_entry<'a>(name: &'a str) -> &'a str {
    let _c = 'x';
    let _s = "use crate::util::helper; crate::engine::x";
    let _r = r#"crate::engine "quoted" super::x"#;
    engine::start();
    name
}

#[cfg(test)]
mod testutil {
    pub fn fixture() {
        crate::engine::start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::run;

    #[test]
    fn t() {
        run::go();
        main_entry("x");
    }
}
