use super::Clock;

pub struct Run(pub Clock);

pub fn go() {
    inner::step();
}

mod inner {
    pub fn step() {
        super::super::clock::Clock;
    }
}
