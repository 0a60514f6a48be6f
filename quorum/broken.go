//go:build !chaosbroken

package quorum

// commitAlone is false: a proposal commits once a quorum of voters has
// it on disk. The chaos suite's self-test builds gokeeper with the tag
// chaosbroken, where it is true (broken_chaos.go).
const commitAlone = false
