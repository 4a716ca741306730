//! [`LogReader`]: reads the frames a run has appended so far, keeping a partly written frame until
//! the rest of it arrives.
//!
//! A log can be damaged: written by an older agent that left half a frame before its next one on a
//! full disk, or changed by hand. The reader then returns every whole frame before the damage and
//! reports the rest as [`RunLogError::Damaged`] ("event log incomplete on HOST: …"), once; after
//! that the log reads as ended. A decode error never reaches the user as such.
//!
//! The writer cuts the file back after a failed append (a full disk; see `writer.rs`), possibly
//! after this reader read the start of the frame that failed. So a partial frame is never kept
//! across reads: each read starts again at the end of the last whole frame, and sees the file as
//! it is now.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use backup_orchestrator_proto::{Envelope, MessageCodec};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::error::RunLogError;
use super::state_dir::open_nofollow;
use crate::identity::hostname;

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
    /// Events returned so far.
    events: u64,
    /// Bytes of those events.
    offset: u64,
    /// The damage was reported: nothing more is read.
    damaged: bool,
}

impl LogReader {
    /// Opens `path` for reading; a symlink is refused (the state directory holds none).
    pub fn open(path: &Path) -> Result<LogReader, RunLogError> {
        let file = open_nofollow(std::fs::OpenOptions::new().read(true), path)
            .map_err(RunLogError::io("open", path))?;
        Ok(LogReader {
            file,
            path: path.to_owned(),
            buf: BytesMut::new(),
            codec: MessageCodec::new(),
            events: 0,
            offset: 0,
            damaged: false,
        })
    }

    /// The next complete event in the file, reading whatever was appended since the last call.
    pub fn next_event(&mut self) -> Result<Option<Envelope>, RunLogError> {
        if self.damaged {
            return Ok(None);
        }
        if let Some(envelope) = self.decode()? {
            return Ok(Some(envelope));
        }
        if !self.buf.is_empty() {
            // Part of a frame: read it again from its start (it may have been cut away since).
            self.buf.clear();
            self.file
                .seek(SeekFrom::Start(self.offset))
                .map_err(RunLogError::io("read", &self.path))?;
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
        let before = self.buf.len();
        match self.codec.decode(&mut self.buf) {
            Ok(Some(envelope)) => {
                self.events += 1;
                self.offset += (before - self.buf.len()) as u64;
                Ok(Some(envelope))
            }
            Ok(None) => Ok(None),
            Err(source) => {
                self.damaged = true;
                self.buf.clear();
                Err(RunLogError::Damaged {
                    host: hostname(),
                    path: self.path.clone(),
                    events: self.events,
                    offset: self.offset,
                    source: Box::new(source),
                })
            }
        }
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

/// What a log holds now: its whole events, and why it ends early if it does.
#[derive(Debug, Default)]
pub struct LogContents {
    /// Every whole event before any damage (a trailing partial frame is left out).
    pub events: Vec<Envelope>,
    /// [`RunLogError::Damaged`]: the log cannot be read past `events`.
    pub damage: Option<RunLogError>,
}

/// Every complete event the file holds now. Only a file that cannot be opened or read is an
/// error; damage is in [`LogContents::damage`].
pub fn read_all(path: &Path) -> Result<LogContents, RunLogError> {
    let mut reader = LogReader::open(path)?;
    let mut contents = LogContents::default();
    loop {
        match reader.next_event() {
            Ok(Some(envelope)) => contents.events.push(envelope),
            Ok(None) => return Ok(contents),
            Err(damage @ RunLogError::Damaged { .. }) => {
                contents.damage = Some(damage);
                return Ok(contents);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every whole event in `bytes`, a log's contents, up to any damage (for tests of the writer).
#[cfg(test)]
pub(crate) fn decode_all(
    bytes: &[u8],
) -> Result<Vec<Envelope>, backup_orchestrator_proto::FrameError> {
    let mut buf = BytesMut::from(bytes);
    let mut codec = MessageCodec::<Envelope>::new();
    let mut events = Vec::new();
    while let Some(envelope) = codec.decode(&mut buf)? {
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
        let read = read_all(&path).unwrap().events;
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
        assert_eq!(read_all(&path).unwrap().events.len(), 1);
    }

    fn sample(n: usize) -> Vec<Envelope> {
        (0..n)
            .map(|i| Envelope {
                seq: i as u64,
                at_ms: 1_700_000_000_000 + i as u64,
                elapsed_ms: i as u64 * 7,
                event: log(&"x".repeat(i * 13 % 50)),
            })
            .collect()
    }

    /// The frames' bytes, and where each frame ends.
    fn frames(events: &[Envelope]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for envelope in events {
            bytes.extend_from_slice(&encode_frame(envelope).unwrap());
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    fn read_bytes(bytes: &[u8]) -> LogContents {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        std::fs::write(&path, bytes).unwrap();
        read_all(&path).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn reader_returns_every_whole_frame_before_a_truncation(
            n in 1usize..12,
            cut in proptest::num::usize::ANY,
        ) {
            let events = sample(n);
            let (bytes, ends) = frames(&events);
            let cut = cut % (bytes.len() + 1);
            let contents = read_bytes(&bytes[..cut]);
            let whole = ends.iter().filter(|end| **end <= cut).count();
            proptest::prop_assert_eq!(&contents.events[..], &events[..whole]);
            proptest::prop_assert!(contents.damage.is_none());
        }

        #[test]
        fn reader_returns_every_whole_frame_before_a_flipped_byte(
            n in 1usize..12,
            at in proptest::num::usize::ANY,
            mask in 1u8..,
            cut in proptest::num::usize::ANY,
        ) {
            let events = sample(n);
            let (mut bytes, ends) = frames(&events);
            let at = at % bytes.len();
            bytes[at] ^= mask;
            let cut = at + 1 + cut % (bytes.len() - at);
            let contents = read_bytes(&bytes[..cut]);
            let before = ends.iter().filter(|end| **end <= at).count();
            proptest::prop_assert!(contents.events.len() >= before, "{contents:?}");
            proptest::prop_assert_eq!(&contents.events[..before], &events[..before]);
            if let Some(damage) = &contents.damage {
                let text = damage.to_string();
                proptest::prop_assert!(text.starts_with("event log incomplete on "), "{text}");
            }
        }
    }

    #[test]
    fn reader_rereads_a_frame_the_writer_cut_back_and_wrote_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let events = sample(3);
        let (bytes, ends) = frames(&events);
        std::fs::write(&path, &bytes[..ends[0] + 5]).unwrap();
        let mut reader = LogReader::open(&path).unwrap();
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&events[0]));
        assert_eq!(reader.next_event().unwrap(), None);
        // The append failed and was cut back; then two other whole frames arrive in its place.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(ends[0] as u64).unwrap();
        let mut later = sample(3);
        later[1].event = log("a different, longer event: the marker of the lost ones");
        let (later_bytes, _) = frames(&later);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&later_bytes[ends[0]..]).unwrap();
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&later[1]));
        assert_eq!(reader.next_event().unwrap().as_ref(), Some(&later[2]));
        assert_eq!(reader.next_event().unwrap(), None);
    }

    #[test]
    fn reader_reports_a_half_frame_followed_by_more_frames_as_incomplete() {
        // What an older writer left on a full disk: half a frame, then whole ones after it.
        let events = sample(3);
        let (bytes, ends) = frames(&events);
        let mut damaged = bytes[..ends[0]].to_vec();
        damaged.extend_from_slice(&bytes[ends[0]..ends[0] + 9]);
        damaged.extend_from_slice(&bytes[ends[0]..]);
        let contents = read_bytes(&damaged);
        assert_eq!(contents.events, events[..1]);
        let text = contents.damage.unwrap().to_string();
        assert!(text.starts_with("event log incomplete on "), "{text}");
        assert!(text.contains("unreadable after 1 events"), "{text}");
    }
}
