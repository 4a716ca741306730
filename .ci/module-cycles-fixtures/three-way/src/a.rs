use crate::b::helper;

pub struct Thing;

pub fn go() {
    helper();
}
