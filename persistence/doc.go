// Package persistence is gokeeper's durable state: the txn log (Pebble, with
// group commit), snapshots in Apache ZooKeeper's own snapshot format,
// recovery, purge, and import from / export to Apache ZooKeeper data
// directories.
//
// It depends only on jute, Pebble and zerolog: the tree (datatree) and the
// request pipeline (server) sit above it and hand it bytes and iterators.
//
// # Files
//
//	dataLogDir/txnlog/          the txn log: its own Pebble instance
//	    000123.log              Pebble WAL: every Append batch lands here, fsynced
//	    000456.sst, MANIFEST-*, CURRENT, OPTIONS-*, LOCK
//	dataDir/snapshots/
//	    snapshot.<hex zxid>     a ZooKeeper snapshot file, byte for byte
//	    snapshot.<hex>.tmp      being written (removed at Open)
//	    snapshot.<hex>.install  a leader's snapshot being installed (finished at Open)
//	dataDir/version-2/          a quorum peer's epochs, where ZooKeeper keeps them
//	    acceptedEpoch           decimal ASCII long, no newline
//	    currentEpoch
//	    <name>.tmp              being written (read at startup, see below)
//
// The txn log is a Pebble instance of its own under dataLogDir (which
// defaults to dataDir), so that, as in ZooKeeper, the fsync on the write path
// touches only the log disk, and everything the log costs (WAL, flushes,
// compactions, purge deletions) stays there. Snapshots are plain files in
// dataDir: they are ZooKeeper snapshot files, so export is a copy and import
// is a read, and they are written once and never updated, which needs no
// database.
//
// # Epoch files
//
// A ZAB peer persists two epochs (ReadEpochs, WriteAcceptedEpoch,
// WriteCurrentEpoch): acceptedEpoch, the newest epoch it accepted in
// discovery, and currentEpoch, the epoch of the newest leader it synced
// with. They are ZooKeeper's files, in ZooKeeper's place: ZooKeeper keeps
// them in its snapDir, dataDir/version-2, so they sit in
// dataDir/version-2 here too, where an operator (or ZooKeeper, after a
// migration) looks for them. Nothing else of gokeeper's lives there; the
// directory is made by the first epoch read or write, so a standalone
// server (which, as ZooKeeper's, has no epochs) has none.
//
// Each file holds the epoch as a decimal ASCII long and nothing else
// ("5", no newline). A write goes to <name>.tmp, which is fsynced and
// renamed over <name>; the directory is then fsynced (ZooKeeper's
// AtomicFileOutputStream stops at the rename), so after a crash at any
// point the file holds the old value or the new one, and the new one once
// the write returned. A read takes the first line and parses it as a long;
// anything else is ErrCorrupt.
//
// ReadEpochs(lastZxid) runs at startup, once the tree was recovered up to
// lastZxid, with ZooKeeper's rules (QuorumPeer.loadDataBase):
//
//  1. A missing currentEpoch is written with epoch(lastZxid).
//  2. epoch(lastZxid) > currentEpoch: if currentEpoch.tmp exists (a crash
//     between its fsync and its rename), its value is written to
//     currentEpoch; otherwise the peer cannot start.
//  3. A missing acceptedEpoch is written with epoch(lastZxid).
//  4. acceptedEpoch < currentEpoch: the peer cannot start.
//
// # Txn log keys and values
//
// One Pebble key per txn; keys sort by zxid because the zxid is big-endian:
//
//	key (9 bytes)
//	+------+-------------------------------+
//	| 'x'  | zxid (int64, big-endian)      |
//	+------+-------------------------------+
//	  1      8
//
//	value
//	+--------------+---------------------------+--------------------+-----------------+
//	| crc (uint32, | TxnHeader (32 bytes):     | txn record         | TxnDigest       |
//	| big-endian)  | clientId 8, cxid 4,       | (CreateTxn, ...,   | (12 bytes, only |
//	|              | zxid 8, time 8, type 4    |  MultiTxn)         | if the writer   |
//	|              |                           |                    | added one)      |
//	+--------------+---------------------------+--------------------+-----------------+
//	  4              Entry.Data: the bytes of a ZooKeeper txn log entry
//
// crc is CRC-32C (Castagnoli) over the 8 zxid bytes of the key followed by
// Entry.Data, so a value moved under the wrong key is caught too. Pebble
// checksums its WAL chunks and sstable blocks as well; this checksum covers
// the value end to end. The TxnHeader's zxid must equal the key's.
//
// Invariants checked by Append and again by Open: zxids strictly increase;
// within one epoch (zxid >> 32) each zxid is the previous one plus one,
// unless a snapshot at or after the gap covers it (a learner that was sent a
// snapshot continues its log after the snapshot's zxid).
//
// # Group commit
//
//	Append(entries, done) --+                      store goroutine
//	Append(entries, done) --+--> queue (mu) --+--> take the whole queue
//	Append(entries, done) --+                 |    one pebble.Batch, all entries
//	                                          |    Commit(pebble.Sync): one WAL write + one fsync
//	   (appends arriving during the sync      |    lastDurable = last zxid
//	    wait in the queue for the next one) <-+    done(nil) for each, in Append order
//
// Appends are checked (order, header) when queued, under the lock, so a
// refused call fails alone and in its place in the callback order. A write
// is reported durable only after the Commit with pebble.Sync returned
// (pebble.NoSync when ForceSync is off, as zoo.cfg forceSync=no). A commit
// slower than FsyncWarningThreshold logs ZooKeeper's "fsync-ing the write
// ahead log in SyncThread:... took Nms which will adversely effect
// operation latency" warning.
//
// # Write and sync failures
//
// Pebble reports a failed WAL write or fsync through Options.Logger.Fatalf
// (its commit pipeline cannot continue). The store's Pebble logger panics
// with a private value instead of exiting; the commit path recovers it and
// latches the failure: this commit's callbacks and every later Append get an
// error wrapping ErrLogFailed and the cause. Nothing that was not synced was
// acknowledged. The failed batch may sit in Pebble's memtable, so Replay
// reads only up to lastDurable, the last acknowledged zxid. The operator
// restarts the process; Open recovers exactly what reached the disk.
//
// When Pebble cannot create or recycle the next WAL at a memtable rotation
// it panics with the error inside the commit, holding its own mutex. The
// store recovers that too, latches ErrLogFailed and marks the Pebble
// instance wedged: it is never used again (Replay, purge and Close return
// the failure instead of deadlocking). Any other Fatalf from Pebble's
// background goroutines (a MANIFEST that cannot be written) ends the
// process, as ZooKeeper exits on an unrecoverable log error.
//
// # Recovery (Open)
//
//  1. Read the newest WAL with Pebble's record reader. A bad record with no
//     valid record after it is a torn tail (a crash during the write, never
//     acknowledged): logged, and cut by Pebble's replay. A bad record
//     followed by a valid one is corruption: Open fails with ErrCorrupt.
//  2. Open Pebble read-only and check every entry (key, crc, header zxid,
//     order, gaps); any failure is ErrCorrupt. Nothing was modified so far.
//  3. Open Pebble read-write (it replays the WAL), finish a pending
//     InstallSnapshot (see below), and start the store goroutine.
//     LastZxid is the last entry.
//
// The caller then loads the newest valid snapshot (LoadLatestSnapshot) and
// replays the log after it (Replay(snapshotZxid, apply)).
//
// # Snapshots
//
// A snapshot file is what ZooKeeper's FileSnap writes (SnapStream in its
// default CHECKED mode: an Adler32 over every byte before each seal). All
// integers big-endian, jute encoding (int 4, long 8, buffer/string = int
// length + bytes, -1 = null):
//
//	FileHeader       magic int 0x5a4b534e "ZKSN" | version int 2 | dbid long 0
//	sessions         count int | count x (id long, timeout int)
//	ACL cache        count int | count x (ref long, acls vector: n int,
//	                                      n x (perms int, scheme string, id string))
//	nodes            repeated: path string ("" = root, then "/a", "/a/b", ...,
//	                            parents before children)
//	                           data buffer | acl ref long | StatPersisted (60 bytes:
//	                           czxid, mzxid, ctime, mtime long; version, cversion,
//	                           aversion int; ephemeralOwner, pzxid long)
//	                 terminator: path "/" (int 1, '/')
//	seal             Adler32 of everything above, long | "/" string
//	digest (3.6+)    ZxidDigest: zxid long | digestVersion int 2 | digest long
//	seal             Adler32 of everything above, long | "/" string
//
// ACL references count from 1; -1 means world:anyone with all permissions
// (ZooKeeper's OPEN_UNSAFE_ACL_ID) and is what a node with a nil ACL gets.
// The digest is the tree's (ZxidDigest) and the zxid of the last txn
// applied when it was read, after the tree was written: a fuzzy
// snapshot's state is exact once the log is replayed up to that zxid, and
// ZooKeeper 3.8 compares the digests in the txn log only from there on
// (it compares them all when the zxid is 0, "no digest", which only an
// exact snapshot, such as a leader's SNAP installed here, may write).
// A snapshot without it (before 3.6) or with 3.9's lastProcessedZxid part
// after it is read too. A file is valid when it reads
// to the end and both seals match; ZooKeeper's own quick check (the file
// ends in int 1, '/') holds for every file written here.
//
// The ACL cache precedes the nodes, so the caller's SnapshotSource lists
// the ACLs its nodes use before it yields the nodes. The snapshot is
// written to
// snapshot.<hex>.tmp and renamed: a process crash leaves the whole snapshot
// or none. As ZooKeeper's periodic snapshots, it is not fsynced while the
// log still holds every txn it covers (an fsync of a large file would stall
// the log's own fsyncs on the same disk): after a power loss it may fail its
// check and the previous one is used, with more log to replay. Purge fsyncs
// the snapshots it keeps, and their directory, before it deletes the log
// behind them; a snapshot beyond the log (a follower sent a SNAP) is
// fsynced, with its directory, before WriteSnapshot returns.
//
// LoadLatestSnapshot checks the newest snapshot completely before the
// callbacks see any of it, and falls back to the next older one (with a
// log line) when the check fails, so the caller never gets part of a torn
// or corrupt snapshot.
//
// # SNAP stream
//
// After a SNAP packet a ZooKeeper leader writes its database to the
// learner's socket (LearnerHandler: ZKDatabase.serializeSnapshot, which is
// SerializeUtils.serializeSnapshot, then the signature); the learner reads
// it back (Learner.syncWithLeader: ZKDatabase.deserializeSnapshot, then
// the signature). It is the body of a snapshot file, with no file header,
// no checksum and no digest:
//
//	sessions         count int | count x (id long, timeout int)
//	ACL cache        count int | count x (ref long, acls vector)
//	nodes            repeated: path string ("" = root first, pre-order) |
//	                           data buffer | acl ref long | StatPersisted
//	                 terminator: path "/"
//	signature        "BenWasHere" string
//
// WriteSnapStream and ReadSnapStream share the snapshot file's writer and
// reader. ReadSnapStream reads exactly these bytes (the next quorum packet
// follows on the same connection), checks every length against maxBuffer
// before it allocates, sizes nothing by a count it has not read yet (there
// is no file size to bound it), and reports a stream that breaks the
// format with ErrBadSnapStream. testdata/zk38/snapstream.bin is a stream
// written by ZooKeeper 3.8's own classes (testdata/java/SnapStreamTool.java).
//
// # Fuzzy snapshots and idempotent replay
//
// WriteSnapshot does not stop writes. The caller records lastZxid, the zxid
// of the last txn applied to the tree, and then iterates the live tree while
// later txns keep being applied. A node may thus be in the snapshot as it
// was at lastZxid, or with some later txns already applied, or (if created
// after lastZxid) present, or (if deleted) absent. Recovery loads the
// snapshot and replays every logged txn after lastZxid, in zxid order. Every
// txn whose effect is already in the snapshot is re-applied, so applying a
// txn must be idempotent on the tree: a create of an existing node leaves it
// (ZooKeeper then only raises the parent's cversion/pzxid if the txn's are
// higher), a delete of a missing node does nothing, a setData sets the same
// data and version again. After the last replayed txn the tree equals the
// tree the live server had, because every node's final state is determined
// by the last txn that touched it, and every txn after lastZxid is replayed.
// The log must therefore keep every txn after the oldest snapshot that may
// be loaded, which is what Purge guarantees.
//
// # Installing a leader's snapshot (SNAP)
//
// InstallSnapshot(zxid, sessions, tree) replaces the store's state with a
// snapshot received from the leader: afterwards the store holds that
// snapshot alone and an empty log, and appends continue after zxid. None of
// the old state may survive it, not even entries or snapshots below zxid:
// they are this member's history, which may differ from the leader's. In
// order:
//
//  1. The snapshot is written to snapshot.<zxid>.install (through .tmp),
//     fsynced, renamed, and the directory fsynced. This is the commit
//     point: before it, the old state is whole (a crash leaves at most a
//     .tmp, removed at Open); after it, Open finishes the install.
//  2. The whole log is deleted (a synced Pebble DeleteRange, through the
//     commit goroutine, after the appends queued before it).
//  3. Every snapshot.<z> is removed, snapshot.<zxid>.install is renamed to
//     snapshot.<zxid>, and the directory is fsynced.
//
// Open, finding snapshot.<zxid>.install, redoes 2 and 3 (each may be
// repeated) before it checks the log. A failure after the commit point
// latches ErrLogFailed; the restart finishes the install.
//
// # Truncation (TRUNC)
//
// TruncateAfter(zxid) must be exact (ZOOKEEPER-1154): a reopened store
// recovers the log up to zxid, not a txn more or less. Snapshots named
// after zxid can only hold txns being truncated (a member that restarted
// replays its whole log, never-committed tail included, and may snapshot
// that tree: ZOOKEEPER-1549, which ZooKeeper leaves open), so they are
// removed first and the directory fsynced; then the log entries after zxid
// go in one synced DeleteRange, after the appends queued before it. A
// crash in between leaves the whole old history (the log still holds it).
// NB: recovery then needs a snapshot at or before zxid, or the log from
// its start; this is not checked (it fails only if every snapshot Purge
// kept was taken after zxid).
//
// # Purge
//
// Purge(retain) (autopurge.snapRetainCount, at least 3; the caller runs it
// every autopurge.purgeInterval hours) keeps the newest retain snapshots,
// removes older snapshot files and deletes log entries with zxid below the
// oldest retained snapshot's zxid (one Pebble DeleteRange).
//
// # Apache ZooKeeper files (migration)
//
// A ZooKeeper txn log file log.<hex zxid of its first txn>:
//
//	FileHeader       magic int 0x5a4b4c47 "ZKLG" | version int 2 | dbid long 0
//	entries          repeated: checksum long (Adler32 of the txn bytes)
//	                           length int | txn bytes (TxnHeader, record,
//	                           TxnDigest in 3.6+ when digests are on) | 0x42 'B'
//	end              end of file, or a zero length (files are preallocated
//	                 with zeros in 64 MiB steps)
//
// A last entry that is short or lacks its 'B' is a torn write and ends the
// file, as in ZooKeeper's FileTxnIterator; a checksum mismatch is corruption.
// Files written here are not preallocated.
//
// ImportZooKeeperDir reads a version-2 directory: the newest valid
// snapshot.<zxid> becomes the store's snapshot, and the entries of the
// log.<zxid> files after it are appended. Everything is read and checked
// before anything is written. ExportZooKeeperDir copies the newest snapshot
// and writes the log entries after it as one log.<zxid> file; ZooKeeper
// started with dataDir set to the directory above loads both.
package persistence
