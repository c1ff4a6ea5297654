use super::*;

fn key(n: u8) -> Key {
    [n; KEY_LEN]
}

fn small() -> SpoolConfig {
    SpoolConfig {
        max_bytes: 10_000,
        segment_bytes: 200,
        max_entry_bytes: 1000,
        dedup_window: 4,
        max_batch: 64,
    }
}

fn payloads(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect()
}

#[test]
fn entries_come_back_in_order_with_offsets_that_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, recovery) = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(recovery, Recovery::default());
    let mut offsets = Vec::new();
    for n in 0..10u8 {
        match spool
            .append_blocking(key(n), format!("entry {n}").into_bytes())
            .unwrap()
        {
            Appended::Written(offset) => offsets.push(offset),
            other => panic!("{other:?}"),
        }
    }
    let reader = SpoolReader::new(dir.path());
    let all = reader.read(None, 100).unwrap();
    assert_eq!(
        payloads(&all),
        (0..10).map(|n| format!("entry {n}")).collect::<Vec<_>>()
    );
    assert_eq!(all.iter().map(|e| e.offset).collect::<Vec<_>>(), offsets);
    for pair in all.windows(2) {
        assert_eq!(pair[0].next, pair[1].offset);
    }
    // Frames of 31 bytes, segments of at most 200: several segments, read across them.
    assert!(segments(dir.path()).unwrap().len() >= 2);
    let rest = reader.read(Some(all[3].next), 3).unwrap();
    assert_eq!(payloads(&rest), ["entry 4", "entry 5", "entry 6"]);
    assert_eq!(reader.read(Some(all[9].next), 100).unwrap(), Vec::new());
    assert_eq!(reader.committed().unwrap(), all[9].next);
}

#[test]
fn a_key_seen_in_the_window_is_a_duplicate_and_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), small()).unwrap();
    let first = spool.append_blocking(key(1), b"a".to_vec()).unwrap();
    assert_eq!(first, Appended::Written(0));
    assert_eq!(
        spool.append_blocking(key(1), b"a again".to_vec()).unwrap(),
        Appended::Duplicate(0)
    );
    // Four more keys push key 1 out of a window of 4.
    for n in 2..6 {
        spool.append_blocking(key(n), b"x".to_vec()).unwrap();
    }
    assert!(matches!(
        spool.append_blocking(key(1), b"a late".to_vec()).unwrap(),
        Appended::Written(_)
    ));
    let all = SpoolReader::new(dir.path()).read(None, 100).unwrap();
    assert_eq!(payloads(&all), ["a", "x", "x", "x", "x", "a late"]);
    // The window is rebuilt from disk on open.
    drop(spool);
    let (spool, recovery) = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(recovery.entries, 6);
    assert_eq!(
        spool.append_blocking(key(5), b"x".to_vec()).unwrap(),
        Appended::Duplicate(all[4].offset)
    );
}

#[test]
fn a_full_spool_refuses_and_accepts_again_once_released() {
    let dir = tempfile::tempdir().unwrap();
    let config = SpoolConfig {
        max_bytes: 100,
        segment_bytes: 40,
        ..small()
    };
    let (spool, _) = Spool::open(dir.path(), config).unwrap();
    // A 24-byte header and 10 bytes: 34 bytes a frame; two fit in 100, a third (102) does not.
    let ten = b"0123456789".to_vec();
    assert_eq!(
        spool.append_blocking(key(1), ten.clone()).unwrap(),
        Appended::Written(0)
    );
    assert_eq!(
        spool.append_blocking(key(2), ten.clone()).unwrap(),
        Appended::Written(34)
    );
    assert_eq!(spool.append_blocking(key(3), ten.clone()), Err(AppendError::Full));
    assert_eq!(
        spool.append_blocking(key(4), vec![0; 1001]),
        Err(AppendError::TooLarge)
    );
    let reader = SpoolReader::new(dir.path());
    let all = reader.read(None, 10).unwrap();
    assert_eq!(all.len(), 2, "a refused entry is not written");
    // A reader that checkpointed past the first segment releases it.
    assert_eq!(reader.release(all[0].next).unwrap(), 34);
    assert_eq!(spool.append_blocking(key(3), ten).unwrap(), Appended::Written(68));
    assert!(matches!(
        reader.read(Some(0), 10),
        Err(ReadError::Released { asked: 0, oldest: 34 })
    ));
    assert_eq!(payloads(&reader.read(Some(34), 10).unwrap()).len(), 2);
}

#[test]
fn recovery_cuts_a_torn_tail_and_keeps_every_whole_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    for n in 0..3u8 {
        spool.append_blocking(key(n), vec![b'x'; 20]).unwrap();
    }
    drop(spool);
    let (_, last) = segments(dir.path()).unwrap().pop().unwrap();
    // A frame half written: a crash during a write nobody was answered for.
    let mut file = OpenOptions::new().append(true).open(&last).unwrap();
    file.write_all(&frame(&key(9), &[b'y'; 20])[..30]).unwrap();
    drop(file);
    let (spool, recovery) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            entries: 3,
            truncated_bytes: 30,
            end: 3 * 44
        }
    );
    // A write after recovery goes into a new segment; offsets never reused.
    assert_eq!(
        spool.append_blocking(key(9), vec![b'z'; 20]).unwrap(),
        Appended::Written(132)
    );
    let all = SpoolReader::new(dir.path()).read(None, 10).unwrap();
    assert_eq!(all.iter().map(|e| e.offset).collect::<Vec<_>>(), [0, 44, 88, 132]);
    assert_eq!(all[3].payload, vec![b'z'; 20]);
}

#[test]
fn damage_before_the_tail_refuses_the_open_and_a_bad_offset_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), small()).unwrap();
    for n in 0..10u8 {
        spool.append_blocking(key(n), vec![b'x'; 20]).unwrap();
    }
    drop(spool);
    let reader = SpoolReader::new(dir.path());
    assert!(matches!(reader.read(Some(5), 10), Err(ReadError::NotAnEntry(5))));
    assert!(matches!(
        reader.read(Some(1_000_000), 10),
        Err(ReadError::NotAnEntry(1_000_000))
    ));
    let (_, first) = segments(dir.path()).unwrap().remove(0);
    let mut bytes = fs::read(&first).unwrap();
    bytes[30] ^= 0xff;
    fs::write(&first, bytes).unwrap();
    let err = Spool::open(dir.path(), small()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(
        err.to_string()
            .ends_with("a damaged entry at byte 0 (not the tail)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_each_answered_once_with_distinct_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
    let mut tasks = Vec::new();
    for n in 0..200u32 {
        let spool = spool.clone();
        tasks.push(tokio::spawn(async move {
            let mut k = [0u8; KEY_LEN];
            k[..4].copy_from_slice(&n.to_le_bytes());
            spool.append(k, n.to_string().into_bytes()).await
        }));
    }
    let mut offsets = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Appended::Written(offset) => offsets.push(offset),
            other => panic!("{other:?}"),
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(offsets.len(), 200);
    let all = SpoolReader::new(dir.path()).read(None, 1000).unwrap();
    assert_eq!(all.len(), 200);
    let mut seen: Vec<u32> = all
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).parse().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
}
