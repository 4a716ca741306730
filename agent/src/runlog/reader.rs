//! [`LogReader`]: reads the frames a run has appended so far, keeping a partly written frame until
//! the rest of it arrives.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use backup_orchestrator_proto::{Envelope, MessageCodec};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::error::RunLogError;

const CHUNK: usize = 8 * 1024;

/// An events file read from the start. [`LogReader::next_event`] returns the next complete event, or
/// `None` when the file holds nothing more yet (possibly the first bytes of a frame still being
/// written: they stay buffered, never reported as an error while the run may still finish them).
#[derive(Debug)]
pub struct LogReader {
    file: File,
    path: PathBuf,
    buf: BytesMut,
    codec: MessageCodec<Envelope>,
}

impl LogReader {
    pub fn open(path: &Path) -> Result<LogReader, RunLogError> {
        let file = File::open(path).map_err(RunLogError::io("open", path))?;
        Ok(LogReader {
            file,
            path: path.to_owned(),
            buf: BytesMut::new(),
            codec: MessageCodec::new(),
        })
    }

    /// The next complete event in the file, reading whatever was appended since the last call.
    pub fn next_event(&mut self) -> Result<Option<Envelope>, RunLogError> {
        if let Some(envelope) = self.decode()? {
            return Ok(Some(envelope));
        }
        if self.fill()? == 0 {
            return Ok(None);
        }
        self.decode()
    }

    /// Bytes of a frame read but not complete yet.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    fn decode(&mut self) -> Result<Option<Envelope>, RunLogError> {
        self.codec
            .decode(&mut self.buf)
            .map_err(|source| RunLogError::Frame {
                path: self.path.clone(),
                source,
            })
    }

    /// Appends everything the file holds past what was read; returns how many bytes that was.
    fn fill(&mut self) -> Result<usize, RunLogError> {
        let mut total = 0;
        loop {
            let start = self.buf.len();
            self.buf.resize(start + CHUNK, 0);
            match self.file.read(&mut self.buf[start..]) {
                Ok(n) => {
                    self.buf.truncate(start + n);
                    total += n;
                    if n == 0 {
                        return Ok(total);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => self.buf.truncate(start),
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(RunLogError::io("read", &self.path)(e));
                }
            }
        }
    }
}

/// Every complete event the file holds now (a trailing partial frame is left out).
pub fn read_all(path: &Path) -> Result<Vec<Envelope>, RunLogError> {
    let mut reader = LogReader::open(path)?;
    let mut events = Vec::new();
    while let Some(envelope) = reader.next_event()? {
        events.push(envelope);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::time::Instant;

    use backup_orchestrator_proto::codec::encode_frame;
    use backup_orchestrator_proto::event::Log;
    use backup_orchestrator_proto::{Event, LogLevel};

    use super::*;
    use crate::runlog::{Layout, LogWriter};

    fn log(message: &str) -> Event {
        Event::Log(Log {
            level: LogLevel::Info,
            message: message.to_owned(),
        })
    }

    #[test]
    fn runlog_reads_back_what_the_writer_appended_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let path = layout.prepare("20251103T120000Z-0001").unwrap();
        let mut writer = LogWriter::open(&path, Instant::now()).unwrap();
        let mut reader = LogReader::open(&path).unwrap();
        assert_eq!(reader.next_event().unwrap(), None);

        let written: Vec<Envelope> = (0..3)
            .map(|n| writer.append(log(&format!("line {n}"))).unwrap())
            .collect();
        let read = read_all(&path).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);

        // A reader that was already open sees the same, then the next append live.
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&written[0]));
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&written[1]));
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&written[2]));
        assert_eq!(reader.next_event().unwrap(), None);
        let later = writer.append(log("later")).unwrap();
        assert_eq!(later.seq, 3);
        assert_eq!(reader.next_event().unwrap(), Some(later));
    }

    #[test]
    fn runlog_reader_waits_for_the_rest_of_a_partly_written_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let envelope = Envelope {
            seq: 0,
            at_ms: 1,
            elapsed_ms: 0,
            event: log("split across writes"),
        };
        let frame = encode_frame(&envelope).unwrap();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut reader = LogReader::open(&path).unwrap();

        // Two bytes of the header, then half of the body: not an error, just not yet.
        file.write_all(&frame[..2]).unwrap();
        assert_eq!(reader.next_event().unwrap(), None);
        file.write_all(&frame[2..frame.len() / 2]).unwrap();
        assert_eq!(reader.next_event().unwrap(), None);
        assert_eq!(reader.pending_bytes(), frame.len() / 2);
        file.write_all(&frame[frame.len() / 2..]).unwrap();
        assert_eq!(reader.next_event().unwrap(), Some(envelope));
        assert_eq!(reader.pending_bytes(), 0);
        // read_all on a file ending inside a frame returns the complete ones.
        file.write_all(&frame[..5]).unwrap();
        assert_eq!(read_all(&path).unwrap().len(), 1);
    }
}
