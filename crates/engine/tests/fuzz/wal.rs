//! The write-ahead log reader on damaged files.
//!
//! A valid log is written (random records, small segments, sometimes reopened
//! with its numbering moved forward), one segment file is damaged, and the log
//! is reopened. The contract (module docs of `osprey_engine::wal`): a torn
//! tail in the last segment is cut; damage anywhere else is an error.
//!
//! Properties:
//! - opening and reading never panic;
//! - when the log opens, it reads back a prefix of the records written, each
//!   with its own seq and bytes: never a record that was not written, never a
//!   hole;
//! - when the damaged file is not the last segment and its bytes changed, the
//!   log does not open;
//! - a log that opened takes the next record at `last_seq() + 1` and keeps it
//!   across another reopen.

use std::fs;
use std::path::{Path, PathBuf};

use osprey_engine::wal::{Wal, WalOptions};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::damage::{self, Damage};

/// What to write: for each session, how far to move numbering forward when
/// reopening (`open_after`) and the payloads to append.
#[derive(Debug, Clone)]
struct Log {
    capacity: u64,
    sessions: Vec<(u8, Vec<Vec<u8>>)>,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        6 => vec(any::<u8>(), 1..48),
        2 => vec(any::<u8>(), 48..300),
    ]
}

fn log() -> impl Strategy<Value = Log> {
    let session = (prop_oneof![3 => Just(0u8), 1 => 1u8..4], vec(payload(), 0..12));
    (prop::sample::select(vec![64u64, 128, 256, 512, 4096]), vec(session, 1..4))
        .prop_map(|(capacity, sessions)| Log { capacity, sessions })
}

/// Writes `log` into `dir`; returns every record as `(seq, payload)`.
fn write(dir: &Path, log: &Log) -> Vec<(u64, Vec<u8>)> {
    let options = WalOptions { segment_capacity: log.capacity };
    let mut written = Vec::new();
    let mut next = 1;
    for (i, (jump, payloads)) in log.sessions.iter().enumerate() {
        let min_next_seq = if i == 0 { 1 } else { next + u64::from(*jump) };
        let wal = Wal::open_after(dir, options, min_next_seq).expect("a fresh log opens");
        for payload in payloads {
            let seq = wal.append(payload).expect("append");
            written.push((seq, payload.clone()));
        }
        wal.sync().expect("sync");
        next = wal.last_seq() + 1;
    }
    written
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("log directory lists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

/// Offsets just past each complete record of a valid segment, header included.
fn record_ends(segment: &[u8]) -> Vec<usize> {
    let mut ends = vec![8];
    let mut at = 8;
    while at + 16 <= segment.len() {
        let len = u32::from_le_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        at += 16 + len;
        ends.push(at);
    }
    ends
}

/// Whether `damaged` is `original`, a valid segment, cut back to the end of
/// one of its records.
pub fn is_clean_cut(original: &[u8], damaged: &[u8]) -> bool {
    damaged.len() < original.len() && original.starts_with(damaged) && record_ends(original).contains(&damaged.len())
}

fn check(log: &Log, target: usize, damages: &[Damage], allow_clean_cut: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let written = write(dir.path(), log);
    let files = segments(dir.path());
    let target = &files[target % files.len()];
    let is_last = Some(target) == files.last();
    let original = fs::read(target).expect("segment reads");
    let mut damaged = original.clone();
    damage::apply_all(&mut damaged, damages);
    let changed = damaged != original;
    // See `clean_cut_of_an_earlier_segment_is_accepted` below: a known gap,
    // kept out of the random runs until it is fixed.
    if !allow_clean_cut && !is_last && is_clean_cut(&original, &damaged) {
        return Err(TestCaseError::reject("clean cut of an earlier segment (known issue)"));
    }
    fs::write(target, &damaged).expect("damaged segment writes");

    let options = WalOptions { segment_capacity: log.capacity };
    let Ok(wal) = Wal::open(dir.path(), options) else { return Ok(()) };
    let got = wal.read_from(1).expect("a log that opened reads back");
    prop_assert!(
        written.starts_with(&got),
        "read back {} records that are not a prefix of the {} written; damaged {} (last: {})",
        got.len(),
        written.len(),
        target.display(),
        is_last
    );
    prop_assert!(
        is_last || !changed,
        "damage to {}, which is not the last segment, was accepted; read {} of {} records",
        target.display(),
        got.len(),
        written.len()
    );

    // The log goes on from where it stands, and keeps what it takes.
    let last = wal.last_seq();
    prop_assert!(last >= got.last().map_or(0, |(seq, _)| *seq));
    let seq = wal.append(b"after").expect("append after recovery");
    prop_assert_eq!(seq, last + 1);
    wal.sync().expect("sync after recovery");
    drop(wal);
    let wal = Wal::open(dir.path(), options).expect("a recovered log reopens");
    let mut expected = got;
    expected.push((seq, b"after".to_vec()));
    prop_assert_eq!(wal.read_from(1).expect("reads"), expected);
    Ok(())
}

proptest! {
    #![proptest_config(crate::config(256))]

    #[test]
    fn damaged_log_reads_a_prefix_or_fails(
        log in log(),
        target in any::<usize>(),
        damages in damage::damages(),
    ) {
        check(&log, target, &damages, false)?;
    }
}

/// Found by `damaged_log_reads_a_prefix_or_fails` (about one case in a
/// thousand, which is why it excludes such cuts): cutting a segment that is
/// not the last one exactly at a record boundary goes unnoticed. The log opens
/// and reads records 1..=1 and then 3.., silently dropping record 2, an
/// acknowledged (synced) write. The module docs promise that damage outside
/// the last segment is an error; the reader cannot tell this cut from the gap
/// `open_after` leaves, because neither the segment nor its successor records
/// where the segment ended.
#[test]
#[ignore = "known bug: a clean cut of an earlier WAL segment drops records silently"]
fn clean_cut_of_an_earlier_segment_is_accepted() {
    let log = Log { capacity: 64, sessions: vec![(0, vec![vec![1; 8], vec![2; 8], vec![3; 8]])] };
    // 64-byte segments hold two 24-byte records: segment 1 has seqs 1 and 2,
    // segment 3 has seq 3. Cut segment 1 after its first record (8 + 24 bytes).
    let damages = [Damage::Truncate { pos: damage::Pos::Start(32) }];
    check(&log, 0, &damages, true).unwrap();
}
