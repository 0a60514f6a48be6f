//go:build chaosbroken

package quorum

// commitAlone makes the leader commit (and acknowledge) each proposal as
// soon as one voter, itself or a follower, has it on disk, without
// waiting for a quorum: a deliberately
// unsafe build, for the chaos suite's self-test to prove that its checkers
// catch lost acknowledged writes. Never ship it.
const commitAlone = true
