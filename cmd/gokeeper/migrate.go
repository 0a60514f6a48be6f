package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/server"
)

// importCmd reads an Apache ZooKeeper data dir (its version-2 folder)
// into an empty gokeeper data dir.
func importCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "Apache ZooKeeper data dir: the version-2 folder holding snapshot.* and log.* files")
	cfgPath := fs.String("config", "", "zoo.cfg of the gokeeper server to import into (its dataDir and dataLogDir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("--from is required")
	}
	st, err := openStore(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.ImportZooKeeperDir(*from); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "imported %s\n", *from)
	return nil
}

// exportCmd writes the data dir as an Apache ZooKeeper version-2 folder.
func exportCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "directory to write ZooKeeper's snapshot.* and log.* files into (a version-2 folder)")
	cfgPath := fs.String("config", "", "zoo.cfg of the gokeeper server to export (stop the server first)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("--to is required")
	}
	if err := os.MkdirAll(*to, 0o755); err != nil {
		return err
	}
	// NB: a snapshot of the current state first, so that the export is
	// complete even when the log holds txns no snapshot has yet.
	cfg, err := LoadConfig(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	log, err := NewLogger(stderr, false, "warn")
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	_, snapErr := srv.TakeSnapshot()
	if err := errors.Join(snapErr, srv.Close()); err != nil {
		return err
	}
	st, err := openStore(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.ExportZooKeeperDir(*to); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported to %s\n", *to)
	return nil
}

func openStore(cfgPath string, stderr io.Writer) (*persistence.Store, error) {
	cfg, err := LoadConfig(cfgPath, os.Getenv)
	if err != nil {
		return nil, err
	}
	log, err := NewLogger(stderr, false, "warn")
	if err != nil {
		return nil, err
	}
	o := persistence.DefaultOptions(cfg.DataDir)
	o.DataLogDir = cfg.EffectiveDataLogDir()
	o.Logger = log
	return persistence.Open(o)
}
