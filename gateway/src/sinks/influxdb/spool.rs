//! The disk spool: batches that could not be written yet, kept in order on disk until the server takes them.
//!
//! Layout: `data_dir/spool/{seq:016x}.seg`, oldest segment first. A segment is the 8-byte header `HWSPOOL1`
//! followed by records:
//!
//! ```text
//! magic u32 LE (0x52535748) | payload length u32 LE | line count u32 LE | CRC32 of (line count ‖ payload) u32 LE | payload
//! ```
//!
//! where the payload is the batch's lines joined by `\n`. Every append is followed by `fsync`, so a batch the
//! spool accepted survives `kill -9` and power loss. Records leave the spool only when [`Spool::ack`] says the
//! server took them (at-least-once: a crash between the write and the ack sends that batch again, which InfluxDB
//! stores once, as a point is identified by its series and timestamp).
//!
//! On open, every segment is scanned: a record whose checksum does not match (a torn write at the tail, or a
//! damaged disk) is counted and skipped, never trusted and never fatal. New records always go to a fresh
//! segment after a restart, so a torn tail is never appended to.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const SEGMENT_MAGIC: &[u8; 8] = b"HWSPOOL1";
const RECORD_MAGIC: u32 = 0x5253_5748;
const RECORD_HEADER: u64 = 16;
/// Sequence number of the first segment of an empty spool; room below it for batches put back at the front.
const FIRST_SEQ: u64 = 1 << 40;

/// Where one record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordId {
    seq: u64,
    offset: u64,
}

/// A batch read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledBatch {
    pub id: RecordId,
    pub lines: Vec<u8>,
    pub n_lines: u32,
}

#[derive(Debug)]
struct RecordMeta {
    offset: u64,
    len: u32,
    n_lines: u32,
}

impl RecordMeta {
    fn size(&self) -> u64 {
        RECORD_HEADER + u64::from(self.len)
    }
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    records: VecDeque<RecordMeta>,
}

/// The segment open for appending.
#[derive(Debug)]
struct Active {
    seq: u64,
    file: File,
    len: u64,
}

/// Why a batch was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({bytes} of {max_bytes} bytes)")]
    Full { bytes: u64, max_bytes: u64 },
    #[error("batch of {size} bytes is larger than the whole spool ({max_bytes} bytes)")]
    TooLarge { size: u64, max_bytes: u64 },
    #[error("spool io: {0}")]
    Io(#[from] io::Error),
}

/// What opening an existing spool found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub records: u64,
    pub lines: u64,
    pub corrupt_records: u64,
}

/// A bounded FIFO of batches on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    active: Option<Active>,
    next_seq: u64,
    bytes: u64,
    lines: u64,
    corrupt_records: u64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.seg"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn crc(n_lines: u32, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&n_lines.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

impl Spool {
    /// Opens (creating it when missing) the spool in `dir` and indexes the segments left by an earlier run.
    pub fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> io::Result<(Spool, OpenReport)> {
        fs::create_dir_all(dir)?;
        let mut seqs: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
            })
            .collect();
        seqs.sort_unstable();
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: segment_bytes.max(1),
            segments: VecDeque::new(),
            active: None,
            next_seq: seqs.last().map_or(FIRST_SEQ, |s| s + 1),
            bytes: 0,
            lines: 0,
            corrupt_records: 0,
        };
        let mut report = OpenReport::default();
        for seq in seqs {
            let path = segment_path(dir, seq);
            let data = fs::read(&path)?;
            let (records, corrupt) = scan_segment(&data);
            report.corrupt_records += corrupt;
            if records.is_empty() {
                fs::remove_file(&path)?;
                continue;
            }
            report.records += records.len() as u64;
            let lines: u64 = records.iter().map(|r| u64::from(r.n_lines)).sum();
            report.lines += lines;
            spool.lines += lines;
            spool.bytes +=
                SEGMENT_MAGIC.len() as u64 + records.iter().map(RecordMeta::size).sum::<u64>();
            spool.segments.push_back(Segment { seq, path, records });
        }
        spool.corrupt_records = report.corrupt_records;
        sync_dir(dir)?;
        Ok((spool, report))
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Bytes of the spool's records and segment headers.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Lines waiting in the spool.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Records found damaged so far, at open or when read.
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt_records
    }

    fn record_size(lines: &[u8]) -> u64 {
        RECORD_HEADER + lines.len() as u64
    }

    /// Whether a batch of `lines` would fit now.
    fn check_room(&self, size: u64, new_segment: bool) -> Result<(), SpoolError> {
        let size = size
            + if new_segment {
                SEGMENT_MAGIC.len() as u64
            } else {
                0
            };
        if size > self.max_bytes {
            return Err(SpoolError::TooLarge {
                size,
                max_bytes: self.max_bytes,
            });
        }
        if self.bytes + size > self.max_bytes {
            return Err(SpoolError::Full {
                bytes: self.bytes,
                max_bytes: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Appends a batch at the back and syncs it to disk.
    pub fn append(&mut self, lines: &[u8], n_lines: u32) -> Result<(), SpoolError> {
        let size = Self::record_size(lines);
        let rotate = self
            .active
            .as_ref()
            .is_none_or(|a| a.len >= self.segment_bytes);
        self.check_room(size, rotate)?;
        if rotate {
            let seq = self.next_seq;
            self.next_seq += 1;
            let file = self.create_segment(seq)?;
            self.active = Some(Active {
                seq,
                file,
                len: SEGMENT_MAGIC.len() as u64,
            });
            self.bytes += SEGMENT_MAGIC.len() as u64;
            self.segments.push_back(Segment {
                seq,
                path: segment_path(&self.dir, seq),
                records: VecDeque::new(),
            });
        }
        let active = self
            .active
            .as_mut()
            .expect("an active segment was just ensured");
        let offset = active.len;
        if let Err(error) = write_record(&mut active.file, lines, n_lines) {
            // The file may now end in a partial record; never append behind it.
            self.active = None;
            return Err(error.into());
        }
        active.len += size;
        let segment = self
            .segments
            .back_mut()
            .expect("the active segment is the newest");
        debug_assert_eq!(segment.seq, active.seq);
        segment.records.push_back(RecordMeta {
            offset,
            len: lines.len() as u32,
            n_lines,
        });
        self.bytes += size;
        self.lines += u64::from(n_lines);
        Ok(())
    }

    /// Puts a batch back at the front (it is older than everything spooled), synced to disk.
    pub fn prepend(&mut self, lines: &[u8], n_lines: u32) -> Result<(), SpoolError> {
        let Some(front) = self.segments.front() else {
            return self.append(lines, n_lines);
        };
        let size = Self::record_size(lines);
        self.check_room(size, true)?;
        let seq = front.seq - 1;
        let mut file = self.create_segment(seq)?;
        write_record(&mut file, lines, n_lines)?;
        let offset = SEGMENT_MAGIC.len() as u64;
        self.bytes += offset + size;
        self.lines += u64::from(n_lines);
        let records = VecDeque::from([RecordMeta {
            offset,
            len: lines.len() as u32,
            n_lines,
        }]);
        self.segments.push_front(Segment {
            seq,
            path: segment_path(&self.dir, seq),
            records,
        });
        Ok(())
    }

    fn create_segment(&self, seq: u64) -> io::Result<File> {
        let path = segment_path(&self.dir, seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        file.write_all(SEGMENT_MAGIC)?;
        file.sync_all()?;
        sync_dir(&self.dir)?;
        Ok(file)
    }

    /// Reads the oldest batch. A record damaged since it was written is counted, dropped from the spool and
    /// skipped.
    pub fn peek(&mut self) -> io::Result<Option<SpooledBatch>> {
        loop {
            let Some(segment) = self.segments.front() else {
                return Ok(None);
            };
            let Some(meta) = segment.records.front() else {
                self.remove_front_segment()?;
                continue;
            };
            let mut file = File::open(&segment.path)?;
            file.seek(SeekFrom::Start(meta.offset))?;
            let mut buf = vec![0; meta.size() as usize];
            let read_ok = file.read_exact(&mut buf).is_ok();
            if read_ok
                && u32_at(&buf, 0) == RECORD_MAGIC
                && crc(meta.n_lines, &buf[16..]) == u32_at(&buf, 12)
            {
                let id = RecordId {
                    seq: segment.seq,
                    offset: meta.offset,
                };
                let n_lines = meta.n_lines;
                buf.drain(..16);
                return Ok(Some(SpooledBatch {
                    id,
                    lines: buf,
                    n_lines,
                }));
            }
            self.corrupt_records += 1;
            let id = RecordId {
                seq: segment.seq,
                offset: meta.offset,
            };
            self.ack(id)?;
        }
    }

    /// Removes the record `id` after the server took it. An id that is no longer at the front (its segment was
    /// dropped meanwhile) is ignored.
    pub fn ack(&mut self, id: RecordId) -> io::Result<()> {
        let Some(segment) = self.segments.front_mut() else {
            return Ok(());
        };
        if segment.seq != id.seq
            || segment
                .records
                .front()
                .is_none_or(|m| m.offset != id.offset)
        {
            return Ok(());
        }
        let meta = segment.records.pop_front().expect("checked above");
        self.bytes -= meta.size();
        self.lines -= u64::from(meta.n_lines);
        if segment.records.is_empty() {
            self.remove_front_segment()?;
        }
        Ok(())
    }

    /// Deletes the oldest segment to make room; returns the number of lines it held.
    pub fn drop_oldest(&mut self) -> io::Result<Option<u64>> {
        let Some(segment) = self.segments.front() else {
            return Ok(None);
        };
        let lines: u64 = segment.records.iter().map(|r| u64::from(r.n_lines)).sum();
        let bytes: u64 = segment.records.iter().map(RecordMeta::size).sum();
        self.lines -= lines;
        self.bytes -= bytes;
        if let Some(s) = self.segments.front_mut() {
            s.records.clear();
        }
        self.remove_front_segment()?;
        Ok(Some(lines))
    }

    /// Deletes the front segment, whose records are all gone.
    fn remove_front_segment(&mut self) -> io::Result<()> {
        let segment = self.segments.pop_front().expect("caller checked");
        debug_assert!(segment.records.is_empty());
        self.bytes -= SEGMENT_MAGIC.len() as u64;
        if self.active.as_ref().is_some_and(|a| a.seq == segment.seq) {
            self.active = None;
        }
        fs::remove_file(&segment.path)?;
        sync_dir(&self.dir)
    }
}

fn write_record(file: &mut File, lines: &[u8], n_lines: u32) -> io::Result<()> {
    let mut record = Vec::with_capacity(16 + lines.len());
    record.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    record.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    record.extend_from_slice(&n_lines.to_le_bytes());
    record.extend_from_slice(&crc(n_lines, lines).to_le_bytes());
    record.extend_from_slice(lines);
    file.write_all(&record)?;
    file.sync_data()
}

/// Indexes the valid records of one segment file and counts the damaged ones.
fn scan_segment(data: &[u8]) -> (VecDeque<RecordMeta>, u64) {
    let mut records = VecDeque::new();
    if data.len() < SEGMENT_MAGIC.len() || &data[..SEGMENT_MAGIC.len()] != SEGMENT_MAGIC {
        return (records, 1);
    }
    let mut at = SEGMENT_MAGIC.len();
    let mut corrupt = 0;
    while at < data.len() {
        let rest = &data[at..];
        if rest.len() < RECORD_HEADER as usize || u32_at(rest, 0) != RECORD_MAGIC {
            // A torn header, or bytes that are not a record: nothing after this can be located safely.
            corrupt += 1;
            break;
        }
        let len = u32_at(rest, 4) as usize;
        let n_lines = u32_at(rest, 8);
        let Some(payload) = rest.get(16..16 + len) else {
            corrupt += 1; // torn payload at the tail
            break;
        };
        if crc(n_lines, payload) == u32_at(rest, 12) {
            records.push_back(RecordMeta {
                offset: at as u64,
                len: len as u32,
                n_lines,
            });
        } else {
            corrupt += 1; // the length is plausible, so the next record can still be found
        }
        at += 16 + len;
    }
    (records, corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(i: u32) -> Vec<u8> {
        format!("m v={i} {i}\nm v={i} {}", i + 1).into_bytes()
    }

    fn drain(spool: &mut Spool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(b) = spool.peek().unwrap() {
            out.push(b.lines.clone());
            spool.ack(b.id).unwrap();
        }
        out
    }

    #[test]
    fn batches_come_back_in_order_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, report) = Spool::open(dir.path(), 1 << 20, 64).unwrap();
        assert_eq!(report, OpenReport::default());
        for i in 0..10 {
            spool.append(&batch(i), 2).unwrap();
        }
        assert_eq!(spool.lines(), 20);
        drop(spool);
        let (mut spool, report) = Spool::open(dir.path(), 1 << 20, 64).unwrap();
        assert_eq!(
            (report.records, report.lines, report.corrupt_records),
            (10, 20, 0)
        );
        spool.append(&batch(10), 2).unwrap();
        spool.prepend(&batch(99), 2).unwrap();
        let expected: Vec<_> = [99].into_iter().chain(0..=10).map(batch).collect();
        assert_eq!(drain(&mut spool), expected);
        assert_eq!((spool.bytes(), spool.lines()), (0, 0));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "acked segments are deleted"
        );
    }

    #[test]
    fn a_torn_tail_is_counted_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        for i in 0..3 {
            spool.append(&batch(i), 2).unwrap();
        }
        drop(spool);
        let path = fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let len = fs::metadata(&path).unwrap().len();
        // A crash in the middle of the third record's write.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let (mut spool, report) = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!((report.records, report.corrupt_records), (2, 1));
        assert_eq!(drain(&mut spool), vec![batch(0), batch(1)]);
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum_and_only_that_record_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        for i in 0..3 {
            spool.append(&batch(i), 2).unwrap();
        }
        drop(spool);
        let path = fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut data = fs::read(&path).unwrap();
        let second = 8 + 16 + batch(0).len() + 16 + 3;
        data[second] ^= 0x20;
        fs::write(&path, data).unwrap();
        let (mut spool, report) = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!((report.records, report.corrupt_records), (2, 1));
        assert_eq!(drain(&mut spool), vec![batch(0), batch(2)]);
        // Garbage that is not a segment at all is counted, removed, and never fatal.
        fs::write(dir.path().join("0000010000000000.seg"), b"junk").unwrap();
        let (spool, report) = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!(
            (report.records, report.corrupt_records, spool.is_empty()),
            (0, 1, true)
        );
    }

    #[test]
    fn the_bound_holds_and_drop_oldest_frees_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let record = 16 + batch(0).len() as u64;
        // Two records per segment, room for two segments.
        let max = 2 * (8 + 2 * record);
        let (mut spool, _) = Spool::open(dir.path(), max, 2 * record).unwrap();
        for i in 0..4 {
            spool.append(&batch(i), 2).unwrap();
        }
        assert_eq!(spool.bytes(), max);
        assert!(matches!(
            spool.append(&batch(4), 2),
            Err(SpoolError::Full { .. })
        ));
        assert_eq!(spool.drop_oldest().unwrap(), Some(4));
        spool.append(&batch(4), 2).unwrap();
        assert!(spool.bytes() <= max);
        assert_eq!(drain(&mut spool), vec![batch(2), batch(3), batch(4)]);
        assert!(matches!(
            spool.append(&vec![b'x'; max as usize], 1),
            Err(SpoolError::TooLarge { .. })
        ));
    }
}
