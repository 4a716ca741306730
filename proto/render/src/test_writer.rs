//! [`SharedWriter`]: an in-memory `Write` a test hands to a reporter and reads back afterwards.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// Clones share one buffer: give one to the reporter, keep one to read.
#[derive(Clone, Default)]
pub(crate) struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl SharedWriter {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
