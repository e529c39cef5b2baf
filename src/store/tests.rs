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
    // A write with the wrong key fails on the integrity state and writes nothing.
    let r = s.write(|tx| tx.get(RecordKind::Object, 42).map(|_| ()));
    assert!(matches!(r, Err(StoreError::IntegrityFailure(_))), "{r:?}");
    assert!(matches!(s.snapshot(), Err(StoreError::IntegrityFailure(_))));
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

// ----- whole-store integrity: the sealed state, the header digest and rollback ------------

fn blob_of(db: &Connection, kind: u16, id: i64) -> Vec<u8> {
    db.query_row(
        "SELECT blob FROM records WHERE kind = ?1 AND id = ?2",
        params![kind, id],
        |r| r.get(0),
    )
    .unwrap()
}

fn set_blob(db: &Connection, kind: u16, id: i64, blob: &[u8]) {
    let n = db
        .execute(
            "UPDATE records SET blob = ?3 WHERE kind = ?1 AND id = ?2",
            params![kind, id, blob],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn state_blob(db: &Connection) -> Vec<u8> {
    db.query_row("SELECT blob FROM state WHERE id = 1", [], |r| r.get(0))
        .unwrap()
}

fn integrity_failure<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::IntegrityFailure(why)) => why,
        other => panic!("expected an integrity failure, got {other:?}"),
    }
}

/// A store with two objects in slot 0, one in slot 1, a token record per slot and a meta
/// record, each written by its own transaction.
fn populated() -> (tempfile::TempDir, Store, PathBuf) {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    for (kind, id, slot, text) in [
        (RecordKind::Token, 1, 0, &b"token zero"[..]),
        (RecordKind::Token, 2, 1, b"token one"),
        (RecordKind::Object, 10, 0, b"object ten"),
        (RecordKind::Object, 11, 0, b"object eleven"),
        (RecordKind::Object, 12, 1, b"object twelve"),
        (RecordKind::Meta, 20, 0, b"meta"),
    ] {
        s.write(|tx| tx.put(kind, id, slot, text)).unwrap();
    }
    (tmp, s, dir)
}

#[test]
fn snapshot_returns_everything_and_counts_generations() {
    let (_tmp, mut s, _dir) = populated();
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.generation, 6);
    assert_eq!(snap.tokens.len(), 2);
    assert_eq!(
        snap.objects.iter().map(|r| r.id).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    assert_eq!(&*snap.meta[0].plain, b"meta");
    // Replacing, deleting and deleting a slot keep the state consistent.
    s.write(|tx| tx.put(RecordKind::Object, 10, 0, b"object ten, changed"))
        .unwrap();
    s.write(|tx| tx.delete(RecordKind::Object, 11).map(drop))
        .unwrap();
    assert!(!s.write(|tx| tx.delete(RecordKind::Object, 99)).unwrap());
    assert_eq!(
        s.write(|tx| tx.delete_slot(RecordKind::Object, 1)).unwrap(),
        1
    );
    // Four changing transactions; the delete of a missing record wrote nothing and so
    // committed nothing.
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.generation, 9);
    assert_eq!(snap.objects.len(), 1);
    assert_eq!(&*snap.objects[0].plain, b"object ten, changed");
    // A failed transaction changes neither the records nor the generation.
    let r: Result<(), _> = s.write(|tx| {
        tx.put(RecordKind::Object, 30, 0, b"never")?;
        Err(StoreError::Busy)
    });
    assert!(r.is_err());
    assert_eq!(s.snapshot().unwrap().generation, 9);
    // Nor does a transaction that only reads.
    s.write(|tx| tx.get(RecordKind::Object, 10).map(drop))
        .unwrap();
    assert_eq!(s.snapshot().unwrap().generation, 9);
}

#[test]
fn flipped_bytes_in_every_kind_of_record_are_refused() {
    for (kind, id) in [(1u16, 1i64), (2, 10), (3, 20)] {
        let (_tmp, s, dir) = populated();
        let db = raw(&dir);
        let good = blob_of(&db, kind, id);
        for at in [0, 1, 5, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            set_blob(&db, kind, id, &bad);
            assert!(
                matches!(s.snapshot(), Err(StoreError::RecordCorrupt { kind: k, .. }) if k == kind),
                "kind {kind} byte {at}"
            );
        }
        set_blob(&db, kind, id, &good);
        s.snapshot().unwrap();
    }
}

#[test]
fn flipped_bytes_in_the_state_are_refused() {
    let (_tmp, mut s, dir) = populated();
    let db = raw(&dir);
    let good = state_blob(&db);
    for at in [0, 3, 20, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        db.execute("UPDATE state SET blob = ?1", [&bad]).unwrap();
        assert!(integrity_failure(s.snapshot()).contains("authentication"));
        assert!(matches!(
            s.write(|tx| tx.put(RecordKind::Object, 40, 0, b"x")),
            Err(StoreError::IntegrityFailure(_))
        ));
    }
    db.execute("DELETE FROM state", []).unwrap();
    assert!(integrity_failure(s.snapshot()).contains("missing"));
}

#[test]
fn swapped_records_are_refused() {
    // Two objects exchange blobs; two tokens exchange slots; an object moves to a token.
    let (_tmp, s, dir) = populated();
    let db = raw(&dir);
    let (a, b) = (blob_of(&db, 2, 10), blob_of(&db, 2, 11));
    set_blob(&db, 2, 10, &b);
    set_blob(&db, 2, 11, &a);
    assert!(matches!(
        s.snapshot(),
        Err(StoreError::RecordCorrupt { kind: 2, .. })
    ));
    set_blob(&db, 2, 10, &a);
    set_blob(&db, 2, 11, &b);
    db.execute("UPDATE records SET slot = 1 - slot WHERE kind = 1", [])
        .unwrap();
    assert!(matches!(
        s.snapshot(),
        Err(StoreError::RecordCorrupt { kind: 1, .. })
    ));
    db.execute("UPDATE records SET slot = 1 - slot WHERE kind = 1", [])
        .unwrap();
    s.snapshot().unwrap();
    db.execute("UPDATE records SET slot = 1 WHERE kind = 2 AND id = 10", [])
        .unwrap();
    assert!(matches!(
        s.snapshot(),
        Err(StoreError::RecordCorrupt { kind: 2, id: 10 })
    ));
}

#[test]
fn an_older_copy_of_a_record_is_refused() {
    let (_tmp, mut s, dir) = populated();
    let db = raw(&dir);
    let old = blob_of(&db, 2, 10);
    s.write(|tx| tx.put(RecordKind::Object, 10, 0, b"object ten, version two"))
        .unwrap();
    // The old blob still authenticates on its own ...
    set_blob(&db, 2, 10, &old);
    assert_eq!(
        &*s.get(RecordKind::Object, 10).unwrap().unwrap().1,
        b"object ten"
    );
    // ... but not as part of the store.
    assert!(integrity_failure(s.snapshot()).contains("older copy"));
    // And it stays refused after further writes.
    s.write(|tx| tx.put(RecordKind::Object, 50, 0, b"later"))
        .unwrap();
    integrity_failure(s.snapshot());
}

#[test]
fn deleted_and_added_records_are_refused() {
    let (_tmp, s, dir) = populated();
    let db = raw(&dir);
    let kept = blob_of(&db, 2, 12);
    db.execute("DELETE FROM records WHERE kind = 2 AND id = 12", [])
        .unwrap();
    integrity_failure(s.snapshot());
    // Putting it back exactly restores the store.
    db.execute(
        "INSERT INTO records (kind, id, slot, blob) VALUES (2, 12, 1, ?1)",
        [&kept],
    )
    .unwrap();
    s.snapshot().unwrap();
    // A record of another store sealed with the same key in the same place is still extra.
    let (_tmp2, mut other) = new_store();
    other
        .write(|tx| tx.put(RecordKind::Object, 77, 0, b"from elsewhere"))
        .unwrap();
    let foreign = blob_of(&raw(&_tmp2.path().join("store")), 2, 77);
    db.execute(
        "INSERT INTO records (kind, id, slot, blob) VALUES (2, 77, 0, ?1)",
        [&foreign],
    )
    .unwrap();
    assert!(integrity_failure(s.snapshot()).contains("7 records present"));
}

#[test]
fn an_edited_header_is_refused_once_unsealed() {
    let (_tmp, s, dir) = populated();
    drop(s);
    let db = raw(&dir);
    let mut h = header();
    h.slot_count = 5;
    db.execute("UPDATE header SET blob = ?1", [h.encode().unwrap()])
        .unwrap();
    // Readable while sealed (it has to be), refused as soon as the key is known.
    let mut s = Store::open(&dir).unwrap();
    assert_eq!(s.header().slot_count, 5);
    s.set_seal_key(key());
    assert!(integrity_failure(s.snapshot()).contains("header"));
    assert!(matches!(
        s.write(|tx| tx.put(RecordKind::Object, 60, 0, b"x")),
        Err(StoreError::IntegrityFailure(_))
    ));
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in [DB_FILE, "custos.db-wal", "custos.db-shm"] {
        let _ = std::fs::remove_file(to.join(name));
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
}

#[test]
fn a_rolled_back_store_is_refused_by_the_witness() {
    let tmp = tempfile::tempdir().unwrap();
    let witness = tmp.path().join("witness");
    let (_t, s, dir) = populated();
    drop(s);
    let old = tmp.path().join("old");
    copy_store(&dir, &old);

    let open = |witness_dir: Option<&Path>| {
        let mut s = unsealed(&dir);
        if let Some(w) = witness_dir {
            s.set_witness_dir(w);
        }
        s
    };
    let mut s = open(Some(&witness));
    assert_eq!(s.snapshot().unwrap().generation, 6);
    s.write(|tx| tx.put(RecordKind::Object, 13, 0, b"newer"))
        .unwrap();
    s.write(|tx| tx.delete(RecordKind::Object, 10).map(drop))
        .unwrap();
    drop(s); // flushes the witness
    let w = witness::Witness::new(&witness, &header().store_id);
    assert_eq!(w.read(), 8);

    // Put the older copy back in place of the store.
    copy_store(&old, &dir);
    let s = open(Some(&witness));
    match s.snapshot() {
        Err(StoreError::RolledBack { seen: 8, found: 6 }) => {}
        other => panic!("rollback not detected: {other:?}"),
    }
    assert!(matches!(
        open(Some(&witness)).write(|tx| tx.put(RecordKind::Object, 14, 0, b"x")),
        Err(StoreError::RolledBack { .. })
    ));
    // Without the witness the older copy is consistent on its own and is accepted: that is
    // the documented limit.
    assert_eq!(open(None).snapshot().unwrap().generation, 6);
    // A deliberate reset (a restore) makes it acceptable again.
    w.reset(6).unwrap();
    assert_eq!(open(Some(&witness)).snapshot().unwrap().generation, 6);
}

#[test]
fn a_handle_refuses_a_store_older_than_it_has_seen() {
    // No witness: the handle's own memory catches a rollback done under it, here the records
    // and the state rewritten in place to their earlier values.
    let (_tmp, mut s, dir) = populated();
    let db = raw(&dir);
    let old_state = state_blob(&db);
    let old_records: Vec<(i64, i64, i64, Vec<u8>)> = {
        let mut st = db
            .prepare("SELECT kind, id, slot, blob FROM records")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    s.write(|tx| tx.put(RecordKind::Object, 10, 0, b"changed"))
        .unwrap();
    assert_eq!(s.snapshot().unwrap().generation, 7);
    db.execute("DELETE FROM records", []).unwrap();
    for (k, i, sl, b) in &old_records {
        db.execute(
            "INSERT INTO records (kind, id, slot, blob) VALUES (?1, ?2, ?3, ?4)",
            params![k, i, sl, b],
        )
        .unwrap();
    }
    db.execute("UPDATE state SET blob = ?1", [&old_state])
        .unwrap();
    assert!(matches!(
        s.snapshot(),
        Err(StoreError::RolledBack { seen: 7, found: 6 })
    ));
}

#[test]
fn change_probe_sees_every_commit_of_any_connection() {
    let (tmp, mut a) = new_store();
    let dir = tmp.path().join("store");
    a.write(|tx| tx.put(RecordKind::Object, 1, 0, b"one"))
        .unwrap();
    let probe = a
        .change_probe()
        .expect("the WAL index exists once the store is in use");
    let t0 = probe.token().expect("a consistent header");
    assert_eq!(probe.token(), Some(t0), "no commit, no change");
    a.snapshot().unwrap();
    assert_eq!(probe.token(), Some(t0), "reads change nothing");
    let mut b = unsealed(&dir);
    b.write(|tx| tx.put(RecordKind::Object, 2, 0, b"two"))
        .unwrap();
    let t1 = probe.token().unwrap();
    assert_ne!(t1, t0, "another connection's commit changes the token");
    a.write(|tx| tx.put(RecordKind::Object, 3, 0, b"three"))
        .unwrap();
    let t2 = probe.token().unwrap();
    assert_ne!(t2, t1, "this connection's commit changes it too");
    // A rolled-back transaction commits nothing.
    let _ = b.write(|tx| {
        tx.put(RecordKind::Object, 4, 0, b"four")?;
        Err::<(), _>(StoreError::Busy)
    });
    assert_eq!(probe.token(), Some(t2));
}

// ----- the audit log ------------------------------------------------------------------------

fn audited_store(n: u64) -> (tempfile::TempDir, Store, PathBuf) {
    use audit::{Actor, AuditEvent};
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    for i in 1..=n {
        s.write(|tx| {
            tx.put(RecordKind::Object, i, 0, b"an object")?;
            let seq = tx.append_audit(
                &AuditEvent::now(0, Actor::User, "C_CreateObject").object(format!("obj-{i}")),
            )?;
            assert_eq!(seq, i);
            Ok(())
        })
        .unwrap();
    }
    (tmp, s, dir)
}

fn audit_blob(db: &Connection, pos: i64) -> Vec<u8> {
    db.query_row("SELECT blob FROM audit WHERE pos = ?1", [pos], |r| r.get(0))
        .unwrap()
}

#[test]
fn audit_log_chains_and_verifies() {
    let (_tmp, mut s, _dir) = audited_store(5);
    let (entries, defects) = s.verify_audit().unwrap();
    assert!(defects.is_empty(), "{defects:?}");
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0].prev, [0; 32]);
    for w in entries.windows(2) {
        assert_eq!(w[1].prev, w[0].digest());
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    assert_eq!(entries[4].event.object, "obj-5");
    // An entry appended in a transaction that rolls back is not there.
    let r: Result<(), _> = s.write(|tx| {
        tx.append_audit(&audit::AuditEvent::now(0, audit::Actor::So, "C_InitPIN"))?;
        Err(StoreError::Busy)
    });
    assert!(r.is_err());
    assert_eq!(s.verify_audit().unwrap().0.len(), 5);
    // The store snapshot is unaffected by the log.
    assert_eq!(s.snapshot().unwrap().objects.len(), 5);
}

#[test]
fn audit_log_edits_are_named() {
    use audit::AuditDefect as D;
    let check = |edit: &dyn Fn(&Connection), want: &[D]| {
        let (_tmp, s, dir) = audited_store(5);
        edit(&raw(&dir));
        let (_, defects) = s.verify_audit().unwrap();
        assert_eq!(defects, want);
    };
    // Modified: one byte of entry 3.
    check(
        &|db| {
            let mut b = audit_blob(db, 3);
            b[20] ^= 1;
            db.execute("UPDATE audit SET blob = ?1 WHERE pos = 3", [b])
                .unwrap();
        },
        &[D::Modified(3)],
    );
    // Deleted: entry 2.
    check(
        &|db| {
            db.execute("DELETE FROM audit WHERE pos = 2", []).unwrap();
        },
        &[D::Missing(2)],
    );
    // Reordered: entries 2 and 4 exchanged.
    check(
        &|db| {
            let (b2, b4) = (audit_blob(db, 2), audit_blob(db, 4));
            db.execute("UPDATE audit SET blob = ?1 WHERE pos = 2", [b4])
                .unwrap();
            db.execute("UPDATE audit SET blob = ?1 WHERE pos = 4", [b2])
                .unwrap();
        },
        &[
            D::Misplaced {
                position: 2,
                seq: 4,
            },
            D::Misplaced {
                position: 4,
                seq: 2,
            },
        ],
    );
    // Truncated: the last two entries removed.
    check(
        &|db| {
            db.execute("DELETE FROM audit WHERE pos >= 4", []).unwrap();
        },
        &[D::Truncated {
            present: 3,
            sealed: 5,
        }],
    );
    // Extra: an entry copied beyond the end.
    check(
        &|db| {
            let b = audit_blob(db, 5);
            db.execute("INSERT INTO audit (pos, blob) VALUES (6, ?1)", [b])
                .unwrap();
        },
        &[D::Extra(6)],
    );
}

#[test]
fn audit_entries_of_another_store_do_not_chain() {
    use audit::AuditDefect as D;
    let (_t1, s, dir) = audited_store(3);
    let (_t2, _other, other_dir) = audited_store(3);
    // Same key in both test stores, so the foreign entry authenticates; the chain does not.
    let foreign = audit_blob(&raw(&other_dir), 2);
    let mine = audit_blob(&raw(&dir), 2);
    assert_ne!(foreign, mine);
    raw(&dir)
        .execute("UPDATE audit SET blob = ?1 WHERE pos = 2", [foreign])
        .unwrap();
    let (_, defects) = s.verify_audit().unwrap();
    assert_eq!(defects, [D::ChainBroken(2)]);
}

// ----- rekey and copies ---------------------------------------------------------------------

fn new_key_store() -> SealKey {
    SealKey::from_bytes(&[0xC3; 32]).unwrap()
}

#[test]
fn rekey_reseals_everything_in_one_transaction() {
    let (_tmp, mut s, dir) = audited_store(4);
    s.write(|tx| tx.put(RecordKind::Token, 100, 1, b"a token"))
        .unwrap();
    let before = s.snapshot().unwrap();
    let mut h = header();
    h.threshold = 3;
    h.total = 5;
    h.commitments = vec![[0x44; 32]; 5];
    h.kcv = [0x55; 32];
    let ev = audit::AuditEvent::now(audit::NO_SLOT, audit::Actor::Custodian, "store.rekey");
    s.rekey(&h, new_key_store(), &ev).unwrap();
    let after = s.snapshot().unwrap();
    assert_eq!(after.generation, before.generation + 1);
    let plain = |v: &[Record]| {
        v.iter()
            .map(|r| (r.id, r.slot, r.plain.to_vec()))
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&after.objects), plain(&before.objects));
    assert_eq!(plain(&after.tokens), plain(&before.tokens));
    let (entries, defects) = s.verify_audit().unwrap();
    assert!(defects.is_empty(), "{defects:?}");
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4].event.op, "store.rekey");
    drop(s);
    // The new header is in place; the old key opens nothing, the new one everything.
    let mut old = Store::open(&dir).unwrap();
    assert_eq!(old.header(), &h);
    old.set_seal_key(key());
    assert!(matches!(
        old.snapshot(),
        Err(StoreError::IntegrityFailure(_))
    ));
    let mut new = Store::open(&dir).unwrap();
    new.set_seal_key(new_key_store());
    assert_eq!(new.snapshot().unwrap().objects.len(), 4);
    // A raw scan finds no blob that the old key still opens.
    let db = raw(&dir);
    let blobs: Vec<(i64, i64, i64, Vec<u8>)> = {
        let mut st = db
            .prepare("SELECT kind, id, slot, blob FROM records")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    for (k, i, sl, b) in blobs {
        assert!(key().open(k as u16, i as u64, sl as u32, &b).is_err());
    }
}

#[test]
fn a_failed_rekey_changes_nothing() {
    let (_tmp, mut s, dir) = audited_store(3);
    let files_before = std::fs::read(dir.join(DB_FILE)).unwrap().len();
    let generation = s.snapshot().unwrap().generation;
    // One record damaged: the rekey refuses before committing anything.
    let db = raw(&dir);
    let mut b = blob_of(&db, 2, 2);
    b[15] ^= 1;
    set_blob(&db, 2, 2, &b);
    let ev = audit::AuditEvent::now(audit::NO_SLOT, audit::Actor::Custodian, "store.rekey");
    let r = s.rekey(&header(), new_key_store(), &ev);
    assert!(
        matches!(r, Err(StoreError::RecordCorrupt { kind: 2, id: 2 })),
        "{r:?}"
    );
    // Still the old key and header; repair the record and everything is as before.
    let mut b = blob_of(&db, 2, 2);
    b[15] ^= 1;
    set_blob(&db, 2, 2, &b);
    assert_eq!(s.snapshot().unwrap().generation, generation);
    assert_eq!(s.verify_audit().unwrap().0.len(), 3);
    assert!(std::fs::read(dir.join(DB_FILE)).unwrap().len() >= files_before);
    // A header that changes the store id is refused.
    let mut other = header();
    other.store_id = [9; 16];
    assert!(s.rekey(&other, new_key_store(), &ev).is_err());
}

#[test]
fn database_copy_is_a_working_store() {
    let (tmp, s, _dir) = audited_store(3);
    let copy_dir = tmp.path().join("copy");
    std::fs::create_dir(&copy_dir).unwrap();
    s.copy_database_to(&copy_dir.join(DB_FILE)).unwrap();
    assert!(
        s.copy_database_to(&copy_dir.join(DB_FILE)).is_err(),
        "never overwrites"
    );
    let c = unsealed(&copy_dir);
    assert_eq!(c.snapshot().unwrap().objects.len(), 3);
    assert!(c.verify_audit().unwrap().1.is_empty());
}

#[test]
fn relaxed_writes_commit_and_leave_full_sync_on() {
    let (_tmp, mut s) = new_store();
    let sync = |s: &Store| -> i64 {
        s.conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(sync(&s), 2);
    s.write_relaxed(|tx| tx.put(RecordKind::Object, 1, 0, b"relaxed"))
        .unwrap();
    assert_eq!(sync(&s), 2, "FULL restored after a relaxed write");
    let r: Result<(), _> = s.write_relaxed(|_| Err(StoreError::Busy));
    assert!(r.is_err());
    assert_eq!(sync(&s), 2, "FULL restored after a failed relaxed write");
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.generation, 1);
    assert_eq!(&*snap.objects[0].plain, b"relaxed");
}
