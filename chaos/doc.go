// Package chaos is the fault-injection suite behind `make chaos`: it runs
// a 3- or 5-member ensemble of real gokeeper (or Apache ZooKeeper)
// processes on loopback with their peer ports behind a fault proxy
// (proxy.go), injects network, process and disk faults (nemesis.go),
// drives go-zookeeper clients through CAS registers, a sequential queue,
// an ephemeral lock and watches (workload.go), and checks what they saw
// (register.go with porcupine, recipes.go) and that the members converge
// after the heal (run.go). README.md says how to run and read it; the
// command is chaos/cmd/chaos.
package chaos
