//! Stream records as Enrich writes them: one plain TSV event per record, or (Enrich 6.11 and later, with
//! compression switched on) a zstd or gzip payload holding many events.
//!
//! A compressed payload is, once decompressed: byte 0 the format version (only 1 exists), byte 1 the
//! payload version (1 for enriched events; any value is accepted, as Snowplow's own reader does), then
//! until the end `u32` big-endian length + that many bytes of one TSV event. There is no count and no
//! bound on the decompressed size, so [`RecordEvents`] streams the decompression one event at a time
//! and checks [`RecordLimits`] before it allocates anything for an event.
//!
//! A fault (an unsupported format version, a truncated or corrupt stream, an event over the limit) ends
//! the record: the events read before it have been yielded, and the error says what went wrong and at
//! which event and byte of the decompressed payload.

use std::fmt;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// How a record is encoded, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// One TSV event, the record's bytes as they are.
    Plain,
    Zstd,
    Gzip,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// The only payload format that exists.
const FORMAT_VERSION: u8 = 1;
/// The payload version of enriched events.
const ENRICHED_PAYLOAD_VERSION: u8 = 1;
/// zstd frames that ask for a larger window than 2^25 bytes (32 MiB) are refused rather than allowed
/// to claim that much memory; Enrich's writer (default level) uses 2^21 at most.
const ZSTD_WINDOW_LOG_MAX: u32 = 25;

impl Compression {
    /// zstd's magic number, else gzip's, else a plain event: a TSV line starts with an app id, never
    /// with these bytes.
    pub fn sniff(record: &[u8]) -> Compression {
        if record.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else if record.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else {
            Compression::Plain
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Plain => "plain",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        })
    }
}

/// Caps on what one record may decompress to, checked before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordLimits {
    /// Bytes of one event (a plain record is one event).
    pub max_event_bytes: usize,
    /// Bytes of one record's decompressed payload, header and length prefixes included.
    pub max_record_bytes: u64,
}

impl Default for RecordLimits {
    /// 1 MiB per event (Enrich's own events stay far below) and 64 MiB per record: a Kinesis record is
    /// at most 10 MiB compressed, and enriched TSV compresses about tenfold.
    fn default() -> Self {
        RecordLimits { max_event_bytes: 1 << 20, max_record_bytes: 64 << 20 }
    }
}

/// What ended a record early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    #[error("format version {0} is not supported (only 1 is)")]
    UnsupportedFormat(u8),
    #[error("the payload ends inside its 2-byte header")]
    TruncatedHeader,
    #[error("the payload ends inside a length prefix ({got} of 4 bytes)")]
    TruncatedLength { got: usize },
    #[error("the payload ends {got} bytes into an event of {length} bytes")]
    TruncatedEvent { length: u64, got: usize },
    #[error("the event is {length} bytes long, over the limit of {max}")]
    EventTooLong { length: u64, max: usize },
    #[error("the decompressed record would exceed the limit of {max} bytes")]
    RecordTooLong { max: u64 },
    #[error("the compressed stream is corrupt or truncated ({0})")]
    Stream(String),
}

/// A fault and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{compression} record, event {event} at byte {offset} of the decompressed payload: {fault}")]
pub struct RecordError {
    pub compression: Compression,
    /// 1-based position of the event being read when the fault happened.
    pub event: u64,
    /// Bytes of decompressed payload read before the fault.
    pub offset: u64,
    pub fault: RecordFault,
}

enum Source<'r> {
    Plain(&'r [u8]),
    Zstd(zstd::stream::read::Decoder<'static, &'r [u8]>),
    Gzip(flate2::read::GzDecoder<&'r [u8]>),
    /// Nothing more: the record ended, or a fault ended it.
    Done,
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(bytes) => bytes.read(buf),
            Source::Zstd(d) => d.read(buf),
            Source::Gzip(d) => d.read(buf),
            Source::Done => Ok(0),
        }
    }
}

/// The events of one record, in order, one at a time (each borrowed until the next call).
///
/// ```
/// use snowplow_enriched::{RecordEvents, RecordLimits};
/// let record = b"shop\tweb\t2024-01-01 00:00:00";
/// let mut events = RecordEvents::new(record, RecordLimits::default());
/// assert_eq!(events.next_event().unwrap().unwrap(), record);
/// assert!(events.next_event().is_none());
/// ```
pub struct RecordEvents<'r> {
    compression: Compression,
    source: Source<'r>,
    /// Set when the decoder could not even start; reported by the first call.
    start_error: Option<io::Error>,
    limits: RecordLimits,
    header_read: bool,
    buf: Vec<u8>,
    events: u64,
    offset: u64,
}

impl fmt::Debug for RecordEvents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordEvents")
            .field("compression", &self.compression)
            .field("events", &self.events)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<'r> RecordEvents<'r> {
    pub fn new(record: &'r [u8], limits: RecordLimits) -> Self {
        let compression = Compression::sniff(record);
        let mut start_error = None;
        let source = match compression {
            Compression::Plain => Source::Plain(record),
            Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(record)
                .and_then(|mut d| d.window_log_max(ZSTD_WINDOW_LOG_MAX).map(|()| d))
            {
                Ok(d) => Source::Zstd(d.single_frame()),
                Err(e) => {
                    start_error = Some(e);
                    Source::Done
                }
            },
            Compression::Gzip => Source::Gzip(flate2::read::GzDecoder::new(record)),
        };
        RecordEvents {
            compression,
            source,
            start_error,
            limits,
            header_read: false,
            buf: Vec::new(),
            events: 0,
            offset: 0,
        }
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Events yielded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The next event; `None` at the end of the record or after a fault (which is returned once).
    #[allow(clippy::should_implement_trait)] // Each event borrows the decoder's buffer: not an Iterator.
    pub fn next_event(&mut self) -> Option<Result<&[u8], RecordError>> {
        // A plain record is its own event, handed over as it is.
        if let Source::Plain(bytes) = self.source
            && bytes.len() <= self.limits.max_event_bytes
        {
            self.source = Source::Done;
            self.events = 1;
            self.offset = bytes.len() as u64;
            return Some(Ok(bytes));
        }
        match self.advance() {
            Ok(true) => {
                self.events += 1;
                Some(Ok(&self.buf))
            }
            Ok(false) => None,
            Err(fault) => {
                self.source = Source::Done;
                Some(Err(RecordError {
                    compression: self.compression,
                    event: self.events + 1,
                    offset: self.offset,
                    fault,
                }))
            }
        }
    }

    /// Reads the next event into `buf`: `Ok(false)` at the end.
    fn advance(&mut self) -> Result<bool, RecordFault> {
        if let Some(e) = self.start_error.take() {
            return Err(RecordFault::Stream(e.to_string()));
        }
        if let Source::Done = self.source {
            return Ok(false);
        }
        if let Source::Plain(bytes) = self.source {
            // Only a plain record over the limit gets here (see `next_event`).
            self.source = Source::Done;
            return Err(RecordFault::EventTooLong { length: bytes.len() as u64, max: self.limits.max_event_bytes });
        }
        if !self.header_read {
            let mut header = [0u8; 2];
            let got = self.read_full(&mut header)?;
            if got < header.len() {
                return Err(RecordFault::TruncatedHeader);
            }
            if header[0] != FORMAT_VERSION {
                return Err(RecordFault::UnsupportedFormat(header[0]));
            }
            self.header_read = true;
        }
        let mut prefix = [0u8; 4];
        match self.read_full(&mut prefix)? {
            0 => {
                self.source = Source::Done;
                return Ok(false);
            }
            4 => {}
            got => return Err(RecordFault::TruncatedLength { got }),
        }
        let length = u64::from(u32::from_be_bytes(prefix));
        if length > self.limits.max_event_bytes as u64 {
            return Err(RecordFault::EventTooLong { length, max: self.limits.max_event_bytes });
        }
        if self.offset + length > self.limits.max_record_bytes {
            return Err(RecordFault::RecordTooLong { max: self.limits.max_record_bytes });
        }
        // Safe to allocate now: `length` is within the per-event cap.
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(length as usize, 0);
        let got = self.read_full(&mut buf);
        self.buf = buf;
        let got = got?;
        if (got as u64) < length {
            return Err(RecordFault::TruncatedEvent { length, got });
        }
        Ok(true)
    }

    /// Fills `buf` unless the payload ends first; the count read. Counts the bytes into `offset` and
    /// checks the record cap as it goes.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, RecordFault> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecordFault::Stream(e.to_string())),
            }
        }
        if self.offset > self.limits.max_record_bytes {
            return Err(RecordFault::RecordTooLong { max: self.limits.max_record_bytes });
        }
        Ok(filled)
    }
}

/// Writes events as one compressed record, as Enrich does (format version 1, payload version 1); for
/// tests, fixtures and benchmarks. `Plain` takes exactly one event.
pub fn encode_record<E: AsRef<[u8]>>(compression: Compression, events: &[E]) -> io::Result<Vec<u8>> {
    fn payload<W: Write, E: AsRef<[u8]>>(mut w: W, events: &[E]) -> io::Result<W> {
        w.write_all(&[FORMAT_VERSION, ENRICHED_PAYLOAD_VERSION])?;
        for event in events {
            let event = event.as_ref();
            let length = u32::try_from(event.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an event over 4 GiB"))?;
            w.write_all(&length.to_be_bytes())?;
            w.write_all(event)?;
        }
        Ok(w)
    }
    match compression {
        Compression::Plain => match events {
            [one] => Ok(one.as_ref().to_vec()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "a plain record holds exactly one event")),
        },
        // A streaming encoder, as Enrich's: the frame carries no content size.
        Compression::Zstd => payload(zstd::stream::write::Encoder::new(Vec::new(), 3)?, events)?.finish(),
        Compression::Gzip => {
            payload(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()), events)?.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &[u8], limits: RecordLimits) -> (Vec<Vec<u8>>, Option<RecordError>) {
        let mut events = RecordEvents::new(record, limits);
        let mut out = Vec::new();
        while let Some(next) = events.next_event() {
            match next {
                Ok(event) => out.push(event.to_vec()),
                Err(e) => {
                    assert!(events.next_event().is_none(), "a fault ends the record");
                    return (out, Some(e));
                }
            }
        }
        (out, None)
    }

    fn raw_zstd(payload: &[u8]) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.write_all(payload).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_through_both_compressions() {
        let events: Vec<Vec<u8>> = (0..50).map(|i| format!("app\tweb\tevent {i}").into_bytes()).collect();
        for compression in [Compression::Zstd, Compression::Gzip] {
            let record = encode_record(compression, &events).unwrap();
            assert_eq!(Compression::sniff(&record), compression);
            assert_eq!(decode(&record, RecordLimits::default()), (events.clone(), None), "{compression}");
        }
        let empty: [&[u8]; 0] = [];
        assert_eq!(decode(&encode_record(Compression::Zstd, &empty).unwrap(), RecordLimits::default()), (vec![], None));
    }

    #[test]
    fn caps_are_checked_before_allocating() {
        // A length prefix claiming 4 GiB in a tiny record.
        let record = raw_zstd(&[1, 1, 0xFF, 0xFF, 0xFF, 0xFF, b'x']);
        let (events, error) = decode(&record, RecordLimits::default());
        assert!(events.is_empty());
        let error = error.unwrap();
        assert_eq!(error.fault, RecordFault::EventTooLong { length: u64::from(u32::MAX), max: 1 << 20 });
        assert_eq!((error.event, error.offset), (1, 6));

        let events = vec![vec![b'a'; 100]; 10];
        let record = encode_record(Compression::Gzip, &events).unwrap();
        let limits = RecordLimits { max_event_bytes: 1000, max_record_bytes: 350 };
        let (got, error) = decode(&record, limits);
        assert_eq!(got.len(), 3, "2 + 3 × 104 bytes fit in 350");
        assert_eq!(
            error.unwrap().to_string(),
            "gzip record, event 4 at byte 318 of the decompressed payload: the decompressed record would exceed the limit of 350 bytes"
        );

        let plain = vec![b'p'; 20];
        let (_, error) = decode(&plain, RecordLimits { max_event_bytes: 10, max_record_bytes: 100 });
        assert_eq!(error.unwrap().fault, RecordFault::EventTooLong { length: 20, max: 10 });
    }

    #[test]
    fn faults_keep_the_events_before_them() {
        let record = raw_zstd(&[1, 1, 0, 0, 0, 2, b'o', b'k', 0, 0, 0, 9, b'a', b'b']);
        let (events, error) = decode(&record, RecordLimits::default());
        assert_eq!(events, [b"ok".to_vec()]);
        assert_eq!(
            error.unwrap().to_string(),
            "zstd record, event 2 at byte 14 of the decompressed payload: the payload ends 2 bytes into an event of 9 bytes"
        );
        let (events, error) = decode(&raw_zstd(&[1, 1, 0, 0, 0, 1, b'x', 0, 0]), RecordLimits::default());
        assert_eq!((events.len(), error.unwrap().fault), (1, RecordFault::TruncatedLength { got: 2 }));
        let (_, error) = decode(&raw_zstd(&[1]), RecordLimits::default());
        assert_eq!(error.unwrap().fault, RecordFault::TruncatedHeader);
        let (_, error) = decode(&raw_zstd(&[7, 1, 0, 0, 0, 0]), RecordLimits::default());
        assert_eq!(error.unwrap().fault, RecordFault::UnsupportedFormat(7));
        // Garbage after a magic number.
        let (events, error) = decode(&[0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3], RecordLimits::default());
        assert!(events.is_empty());
        assert!(matches!(error.unwrap().fault, RecordFault::Stream(_)));
        let (events, error) = decode(&[0x1F, 0x8B, 0xFF], RecordLimits::default());
        assert!(events.is_empty());
        assert!(matches!(error.unwrap().fault, RecordFault::Stream(_)));
    }
}
