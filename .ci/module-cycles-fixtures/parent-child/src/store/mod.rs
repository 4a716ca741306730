mod writer;

pub struct Error;

pub fn save() -> Result<(), Error> {
    writer::write()
}
