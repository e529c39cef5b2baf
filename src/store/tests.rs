use super::*;
use std::time::Instant;

fn header() -> StoreHeader {
    StoreHeader {
        format_version: STORE_FORMAT_VERSION,
        store_id: *b"store-id-0123456",
        threshold: 2,
        total: 3,
        commitments: vec![[0x11; 32], [0x22; 32]],
        kcv: [0x33; 32],
        slot_count: 2,
        created_unix: 1_750_000_000,
    }
}

fn key() -> SealKey {
    SealKey::from_bytes(&[0x5A; 32]).unwrap()
}

fn unsealed(dir: &Path) -> Store {
    let mut s = Store::open(dir).unwrap();
    s.set_seal_key(key());
    s
}

fn new_store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut s = Store::create(&dir, &header()).unwrap();
    s.set_seal_key(key());
    (tmp, s)
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

fn is_corrupt(r: &Result<Option<SlotContent>, StoreError>, kind: u16, id: u64) -> bool {
    matches!(r, Err(StoreError::RecordCorrupt { kind: k, id: i }) if *k == kind && *i == id)
}

#[test]
fn record_kind_numbers() {
    for k in [RecordKind::Token, RecordKind::Object, RecordKind::Meta] {
        assert_eq!(RecordKind::from_u16(k.as_u16()), Some(k));
    }
    assert_eq!(RecordKind::Object as u16, 2);
    assert_eq!(RecordKind::from_u16(0), None);
    assert_eq!(RecordKind::from_u16(4), None);
}

#[test]
fn create_open_round_trip_header() {
    let (tmp, s) = new_store();
    let dir = tmp.path().join("store");
    assert_eq!(s.header(), &header());
    assert_eq!(s.dir(), dir.as_path());
    assert!(s.is_unsealed());
    drop(s);
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.header(), &header());
    assert!(!s.is_unsealed());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let mode = std::fs::metadata(dir.join(DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn create_twice_refused() {
    let (tmp, _s) = new_store();
    let dir = tmp.path().join("store");
    match Store::create(&dir, &header()) {
        Err(StoreError::AlreadyExists(p)) => assert_eq!(p, dir),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    // The existing store is untouched.
    assert_eq!(Store::open(&dir).unwrap().header(), &header());
}

#[test]
fn create_rejects_invalid_header() {
    let tmp = tempfile::tempdir().unwrap();
    let mut h = header();
    h.threshold = 4;
    assert!(matches!(
        Store::create(tmp.path(), &h),
        Err(StoreError::HeaderCorrupt(_))
    ));
    assert!(!tmp.path().join(DB_FILE).exists());
}

#[test]
fn open_missing_gives_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    match Store::open(&missing) {
        Err(e @ StoreError::NotFound(_)) => {
            assert!(e.to_string().contains(&*missing.to_string_lossy()));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // Existing but empty directory: still NotFound, and nothing is created.
    assert!(matches!(
        Store::open(tmp.path()),
        Err(StoreError::NotFound(_))
    ));
    assert!(!tmp.path().join(DB_FILE).exists());
}

#[test]
fn open_rejects_other_version_and_corrupt_header() {
    let (tmp, s) = new_store();
    drop(s);
    let dir = tmp.path().join("store");
    let mut enc = header().encode().unwrap();
    enc[4] = 7;
    raw(&dir)
        .execute("UPDATE header SET blob = ?1 WHERE id = 1", [&enc])
        .unwrap();
    assert!(matches!(
        Store::open(&dir),
        Err(StoreError::UnsupportedVersion(7))
    ));
    raw(&dir)
        .execute("UPDATE header SET blob = x'0102' WHERE id = 1", [])
        .unwrap();
    assert!(matches!(
        Store::open(&dir),
        Err(StoreError::HeaderCorrupt(_))
    ));
    raw(&dir).execute("DELETE FROM header", []).unwrap();
    assert!(matches!(
        Store::open(&dir),
        Err(StoreError::HeaderCorrupt(_))
    ));
}

#[test]
fn open_rejects_non_database_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(DB_FILE), vec![0xEE; 4096]).unwrap();
    assert!(Store::open(tmp.path()).is_err());
    assert!(matches!(
        Store::create(tmp.path(), &header()),
        Err(StoreError::AlreadyExists(_))
    ));
}

#[test]
fn put_get_list_delete() {
    let (_tmp, mut s) = new_store();
    s.write(|tx| {
        tx.put(RecordKind::Object, 5, 0, b"obj five")?;
        tx.put(RecordKind::Object, 3, 1, b"obj three")?;
        tx.put(RecordKind::Object, 9, 0, b"obj nine")?;
        tx.put(RecordKind::Object, u64::MAX, 0, b"obj max")?;
        tx.put(RecordKind::Token, 5, 0, b"token")?;
        tx.put(RecordKind::Meta, 1, 0, b"")?;
        Ok(())
    })
    .unwrap();

    let (slot, plain) = s.get(RecordKind::Object, 5).unwrap().unwrap();
    assert_eq!((slot, plain.as_slice()), (0, &b"obj five"[..]));
    let (slot, plain) = s.get(RecordKind::Token, 5).unwrap().unwrap();
    assert_eq!((slot, plain.as_slice()), (0, &b"token"[..]));
    assert!(s.get(RecordKind::Meta, 1).unwrap().unwrap().1.is_empty());
    assert!(s.get(RecordKind::Object, 4).unwrap().is_none());
    assert_eq!(
        s.get(RecordKind::Object, u64::MAX)
            .unwrap()
            .unwrap()
            .1
            .as_slice(),
        b"obj max"
    );

    let all = s.list(RecordKind::Object, None).unwrap();
    let ids: Vec<u64> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![3, 5, 9, u64::MAX]);
    assert_eq!(all[0].slot, 1);
    assert_eq!(all[0].plain.as_slice(), b"obj three");
    let slot0: Vec<u64> = s
        .list(RecordKind::Object, Some(0))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(slot0, vec![5, 9, u64::MAX]);
    assert!(s.list(RecordKind::Object, Some(7)).unwrap().is_empty());
    assert_eq!(s.count(RecordKind::Object, None).unwrap(), 4);
    assert_eq!(s.count(RecordKind::Object, Some(0)).unwrap(), 3);
    assert_eq!(s.count(RecordKind::Token, Some(1)).unwrap(), 0);
    let dbg = format!("{:?}", all[0]);
    assert!(!dbg.contains("three") && dbg.contains("plain_len"));

    // Replace moves the record to a new slot with new content.
    s.write(|tx| tx.put(RecordKind::Object, 5, 1, b"obj five v2"))
        .unwrap();
    let (slot, plain) = s.get(RecordKind::Object, 5).unwrap().unwrap();
    assert_eq!((slot, plain.as_slice()), (1, &b"obj five v2"[..]));
    assert_eq!(s.count(RecordKind::Object, None).unwrap(), 4);

    // Delete one, then a whole slot.
    assert!(s.write(|tx| tx.delete(RecordKind::Object, 9)).unwrap());
    assert!(!s.write(|tx| tx.delete(RecordKind::Object, 9)).unwrap());
    assert!(s.get(RecordKind::Object, 9).unwrap().is_none());
    assert_eq!(
        s.write(|tx| tx.delete_slot(RecordKind::Object, 1)).unwrap(),
        2
    );
    let left: Vec<u64> = s
        .list(RecordKind::Object, None)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![u64::MAX]);
    // Other kinds are unaffected by delete_slot.
    assert!(s.get(RecordKind::Token, 5).unwrap().is_some());
}

#[test]
fn read_modify_write_inside_transaction() {
    let (_tmp, mut s) = new_store();
    s.write(|tx| tx.put(RecordKind::Meta, 1, 0, &1u64.to_le_bytes()))
        .unwrap();
    for _ in 0..5 {
        s.write(|tx| {
            let (slot, cur) = tx
                .get(RecordKind::Meta, 1)?
                .ok_or(StoreError::HeaderCorrupt("missing".into()))?;
            let mut b = [0u8; 8];
            b.copy_from_slice(&cur);
            tx.put(
                RecordKind::Meta,
                1,
                slot,
                &(u64::from_le_bytes(b) * 2).to_le_bytes(),
            )
        })
        .unwrap();
    }
    let v = s.get(RecordKind::Meta, 1).unwrap().unwrap().1;
    assert_eq!(v.as_slice(), &32u64.to_le_bytes());
    // Inside a transaction, its own uncommitted writes are visible.
    let seen = s
        .write(|tx| {
            tx.put(RecordKind::Meta, 2, 0, b"fresh")?;
            Ok(tx.get(RecordKind::Meta, 2)?.map(|(_, p)| p.to_vec()))
        })
        .unwrap();
    assert_eq!(seen.as_deref(), Some(&b"fresh"[..]));
}

#[test]
fn sealed_store_refuses_record_access() {
    let (tmp, s) = new_store();
    drop(s);
    let dir = tmp.path().join("store");
    let mut s = Store::open(&dir).unwrap();
    assert!(!s.is_unsealed());
    assert!(matches!(
        s.get(RecordKind::Object, 1),
        Err(StoreError::Sealed)
    ));
    assert!(matches!(
        s.list(RecordKind::Object, None),
        Err(StoreError::Sealed)
    ));
    let mut ran = false;
    let r = s.write(|tx| {
        ran = true;
        tx.put(RecordKind::Object, 1, 0, b"x")
    });
    assert!(matches!(r, Err(StoreError::Sealed)));
    assert!(!ran);
    // Counting needs no key.
    assert_eq!(s.count(RecordKind::Object, None).unwrap(), 0);
    assert!(StoreError::Sealed.to_string().contains("sealed"));
}

#[test]
fn wrong_key_gives_record_corrupt() {
    let (tmp, mut s) = new_store();
    s.write(|tx| tx.put(RecordKind::Object, 42, 0, b"secret"))
        .unwrap();
    drop(s);
    let mut s = Store::open(&tmp.path().join("store")).unwrap();
    s.set_seal_key(SealKey::from_bytes(&[0xA5; 32]).unwrap());
    assert!(is_corrupt(&s.get(RecordKind::Object, 42), 2, 42));
    assert!(matches!(
        s.list(RecordKind::Object, None),
        Err(StoreError::RecordCorrupt { kind: 2, id: 42 })
    ));
    // Read-modify-write with the wrong key fails and writes nothing.
    let r = s.write(|tx| tx.get(RecordKind::Object, 42).map(|_| ()));
    assert!(matches!(r, Err(StoreError::RecordCorrupt { .. })));
}

#[test]
fn direct_tampering_detected() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    s.write(|tx| {
        tx.put(RecordKind::Object, 1, 0, b"first record")?;
        tx.put(RecordKind::Object, 2, 0, b"second record")?;
        tx.put(RecordKind::Object, 3, 0, b"third record")?;
        tx.put(RecordKind::Token, 7, 0, b"a token")?;
        Ok(())
    })
    .unwrap();
    let db = raw(&dir);

    // (a) flip one byte of the ciphertext of record 1.
    let mut blob: Vec<u8> = db
        .query_row(
            "SELECT blob FROM records WHERE kind = 2 AND id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    blob[20] ^= 0x80;
    db.execute(
        "UPDATE records SET blob = ?1 WHERE kind = 2 AND id = 1",
        [&blob],
    )
    .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 1), 2, 1));
    assert!(matches!(
        s.list(RecordKind::Object, None),
        Err(StoreError::RecordCorrupt { kind: 2, id: 1 })
    ));
    assert!(s.get(RecordKind::Object, 2).unwrap().is_some());

    // (b) move record 2's blob to id 20, and copy record 3's blob over record 2.
    db.execute("UPDATE records SET id = 20 WHERE kind = 2 AND id = 2", [])
        .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 20), 2, 20));
    db.execute(
        "INSERT INTO records (kind, id, slot, blob)
         SELECT kind, 2, slot, blob FROM records WHERE kind = 2 AND id = 3",
        [],
    )
    .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 2), 2, 2));
    assert!(s.get(RecordKind::Object, 3).unwrap().is_some());

    // Moving a blob to another kind is caught too.
    db.execute("UPDATE records SET kind = 3 WHERE kind = 1 AND id = 7", [])
        .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Meta, 7), 3, 7));

    // (c) change the slot column of record 3.
    db.execute("UPDATE records SET slot = 1 WHERE kind = 2 AND id = 3", [])
        .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 3), 2, 3));
    assert!(matches!(
        s.list(RecordKind::Object, Some(1)),
        Err(StoreError::RecordCorrupt { kind: 2, id: 3 })
    ));
    // A slot outside u32 and a truncated blob are corruption as well, not panics.
    db.execute("UPDATE records SET slot = -1 WHERE kind = 2 AND id = 3", [])
        .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 3), 2, 3));
    db.execute(
        "UPDATE records SET blob = x'0100' WHERE kind = 2 AND id = 20",
        [],
    )
    .unwrap();
    assert!(is_corrupt(&s.get(RecordKind::Object, 20), 2, 20));
}

#[test]
fn closure_error_rolls_back() {
    let (tmp, mut s) = new_store();
    s.write(|tx| tx.put(RecordKind::Object, 1, 0, b"keep"))
        .unwrap();
    let r: Result<(), StoreError> = s.write(|tx| {
        tx.put(RecordKind::Object, 1, 0, b"overwritten")?;
        tx.put(RecordKind::Object, 2, 0, b"new")?;
        tx.delete_slot(RecordKind::Object, 0)?;
        tx.alloc_id()?;
        Err(StoreError::Io("simulated failure".into()))
    });
    assert!(matches!(r, Err(StoreError::Io(m)) if m == "simulated failure"));
    assert_eq!(
        s.get(RecordKind::Object, 1).unwrap().unwrap().1.as_slice(),
        b"keep"
    );
    assert!(s.get(RecordKind::Object, 2).unwrap().is_none());
    // The id allocated in the rolled-back transaction is not consumed... (ids start at 1)
    assert_eq!(s.write(|tx| tx.alloc_id()).unwrap(), 1);
    // ...and nothing of the failed transaction reached disk.
    drop(s);
    let s = unsealed(&tmp.path().join("store"));
    assert_eq!(s.count(RecordKind::Object, None).unwrap(), 1);
}

#[test]
fn alloc_id_monotonic_across_reopen() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    let a = s
        .write(|tx| Ok((tx.alloc_id()?, tx.alloc_id()?, tx.alloc_id()?)))
        .unwrap();
    assert_eq!(a, (1, 2, 3));
    s.write(|tx| tx.put(RecordKind::Object, 3, 0, b"x"))
        .unwrap();
    s.write(|tx| tx.delete(RecordKind::Object, 3)).unwrap();
    drop(s);
    let mut s = unsealed(&dir);
    assert_eq!(s.write(|tx| tx.alloc_id()).unwrap(), 4);
    // A second store on the same directory shares the counter.
    let mut t = unsealed(&dir);
    assert_eq!(t.write(|tx| tx.alloc_id()).unwrap(), 5);
    assert_eq!(s.write(|tx| tx.alloc_id()).unwrap(), 6);
}

#[test]
fn external_change_detection() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    assert!(!s.external_change().unwrap());
    s.write(|tx| tx.put(RecordKind::Object, 1, 0, b"own"))
        .unwrap();
    assert!(
        !s.external_change().unwrap(),
        "own write reported as external"
    );

    let mut other = unsealed(&dir);
    assert!(!other.external_change().unwrap());
    other
        .write(|tx| tx.put(RecordKind::Object, 2, 0, b"theirs"))
        .unwrap();
    assert!(s.external_change().unwrap());
    assert!(!s.external_change().unwrap(), "change reported twice");
    assert_eq!(
        s.get(RecordKind::Object, 2).unwrap().unwrap().1.as_slice(),
        b"theirs"
    );
    // The other side sees this side's writes as external.
    s.write(|tx| tx.delete(RecordKind::Object, 1)).unwrap();
    assert!(other.external_change().unwrap());
    // A rolled-back transaction elsewhere is not a change.
    let _ = other.write(|tx| -> Result<(), StoreError> {
        tx.put(RecordKind::Object, 3, 0, b"never")?;
        Err(StoreError::Busy)
    });
    assert!(!s.external_change().unwrap());
}

#[test]
fn external_change_is_cheap() {
    let (_tmp, s) = new_store();
    let n = 20_000u32;
    let start = Instant::now();
    for _ in 0..n {
        s.external_change().unwrap();
    }
    let per_call = start.elapsed() / n;
    eprintln!("external_change: {per_call:?} per call");
    assert!(
        per_call < Duration::from_micros(200),
        "{per_call:?} per call"
    );
}

#[test]
fn committed_write_visible_to_fresh_open() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    s.write(|tx| tx.put(RecordKind::Token, 1, 0, b"durable"))
        .unwrap();
    // `s` stays open: the fresh store must see the commit without any checkpoint.
    let fresh = unsealed(&dir);
    assert_eq!(
        fresh
            .get(RecordKind::Token, 1)
            .unwrap()
            .unwrap()
            .1
            .as_slice(),
        b"durable"
    );
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2);
}

#[test]
fn concurrent_writers_do_not_lose_updates() {
    let (tmp, s) = new_store();
    drop(s);
    let dir = tmp.path().join("store");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut st = unsealed(&dir);
                let mut ids = Vec::new();
                for _ in 0..25 {
                    ids.push(
                        st.write(|tx| {
                            let id = tx.alloc_id()?;
                            tx.put(RecordKind::Object, id, 0, &id.to_le_bytes())?;
                            Ok(id)
                        })
                        .unwrap(),
                    );
                }
                ids
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
    let s = unsealed(&dir);
    assert_eq!(s.count(RecordKind::Object, None).unwrap(), 100);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn scan_dir(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && contains(&std::fs::read(&path).unwrap(), needle) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[test]
fn no_plaintext_on_disk() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    let marker: [u8; 32] = *b"PLAINTEXT-MARKER-0123456789abcde";
    let mut big = Vec::new();
    for _ in 0..200 {
        big.extend_from_slice(&marker);
    }
    s.write(|tx| {
        tx.put(RecordKind::Object, 1, 0, &marker)?;
        tx.put(RecordKind::Object, 2, 0, &big)?;
        tx.put(RecordKind::Object, 3, 1, &marker)?;
        tx.put(RecordKind::Token, 4, 0, &marker)?;
        Ok(())
    })
    .unwrap();
    s.write(|tx| {
        tx.delete(RecordKind::Object, 1)?;
        tx.put(RecordKind::Object, 2, 0, b"overwritten")?;
        tx.delete_slot(RecordKind::Object, 1)?;
        Ok(())
    })
    .unwrap();
    for i in 10..60u64 {
        s.write(|tx| tx.put(RecordKind::Meta, i, 0, &marker))
            .unwrap();
    }
    s.write(|tx| tx.delete_slot(RecordKind::Meta, 0)).unwrap();

    // While open (WAL and shm present) ...
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(files.len() >= 2, "expected db and wal files");
    assert_eq!(scan_dir(&dir, &marker), Vec::<String>::new());
    // ... and after close (checkpointed into the main file).
    drop(s);
    assert_eq!(scan_dir(&dir, &marker), Vec::<String>::new());
    // The scan does find what is stored in plain, so it would have found the marker.
    assert!(!scan_dir(&dir, b"store-id-0123456").is_empty());
}

const CHILD_ENV: &str = "CUSTOS_STORE_TEST_CHILD_DIR";

/// Body run in a child process by `separate_processes_share_the_store`.
#[test]
#[ignore = "run as a child process by separate_processes_share_the_store"]
fn child_process_writer() {
    let dir = PathBuf::from(std::env::var_os(CHILD_ENV).expect("child test needs its directory"));
    let mut s = unsealed(&dir);
    for _ in 0..20 {
        let id = s
            .write(|tx| {
                let id = tx.alloc_id()?;
                tx.put(RecordKind::Object, id, 1, &id.to_le_bytes())?;
                Ok(id)
            })
            .unwrap();
        assert_eq!(
            s.get(RecordKind::Object, id).unwrap().unwrap().1.as_slice(),
            &id.to_le_bytes()
        );
    }
}

#[test]
fn separate_processes_share_the_store() {
    let (tmp, s) = new_store();
    let dir = tmp.path().join("store");
    assert!(!s.external_change().unwrap());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "store::tests::child_process_writer",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &dir)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "child process failed");
    }
    assert!(s.external_change().unwrap());
    let mut s = s;
    s.set_seal_key(key());
    let ids: Vec<u64> = s
        .list(RecordKind::Object, Some(1))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, (1..=60).collect::<Vec<u64>>());
}

#[test]
fn create_reuses_empty_leftover_but_not_foreign_database() {
    let tmp = tempfile::tempdir().unwrap();
    // A leftover empty file (interrupted creation) does not block creation.
    std::fs::write(tmp.path().join(DB_FILE), b"").unwrap();
    assert!(matches!(
        Store::open(tmp.path()),
        Err(StoreError::NotFound(_))
    ));
    let s = Store::create(tmp.path(), &header()).unwrap();
    assert_eq!(s.header(), &header());

    // A foreign SQLite database is neither opened as a store nor overwritten.
    let other = tempfile::tempdir().unwrap();
    let c = Connection::open(other.path().join(DB_FILE)).unwrap();
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(c);
    assert!(matches!(
        Store::open(other.path()),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        Store::create(other.path(), &header()),
        Err(StoreError::AlreadyExists(_))
    ));
    let c = Connection::open(other.path().join(DB_FILE)).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "foreign database was modified");
}
