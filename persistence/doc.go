// Package persistence is gokeeper's durable state: the txn log (Pebble,
// group commit), ZooKeeper-format snapshots, recovery, purge, and import
// from / export to Apache ZooKeeper data directories.
package persistence
