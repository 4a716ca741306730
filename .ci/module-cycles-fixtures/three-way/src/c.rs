pub fn last() -> crate::Thing {
    crate::Thing
}
