pub fn helper() {
    crate::c::last();
}
