use super::Error;

pub fn write() -> Result<(), Error> {
    Ok(())
}
