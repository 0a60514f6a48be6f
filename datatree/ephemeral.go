package datatree

import (
	"errors"
	"fmt"
)

// ContainerEphemeralOwner is the ephemeralOwner value that marks a container
// znode (EphemeralType.CONTAINER_EPHEMERAL_OWNER, Long.MIN_VALUE).
const ContainerEphemeralOwner int64 = -1 << 63

// MaxTTL is the largest TTL in milliseconds a TTL znode may have
// (EphemeralType.TTL.maxValue(), 0xFFFFFFFFFF, about 34 years).
const MaxTTL int64 = 0x000000FFFFFFFFFF

// extendedMask marks an ephemeralOwner that encodes an extended type: the
// top byte is 0xFF. The next two bytes select the feature (0 = TTL); the
// remaining 40 bits hold its value.
const (
	extendedMask     uint64 = 0xFF00000000000000
	reservedBitsMask uint64 = 0x00FFFF0000000000
	featureTTL       uint64 = 0
)

// ErrTTLOutOfRange is returned by TTLEphemeralOwner for a TTL that is not
// positive or exceeds MaxTTL.
var ErrTTLOutOfRange = errors.New("datatree: ttl out of range")

// TTLEphemeralOwner returns the ephemeralOwner encoding of a TTL znode with
// the given TTL in milliseconds (EphemeralType.TTL.toEphemeralOwner).
func TTLEphemeralOwner(ttlMillis int64) (int64, error) {
	if ttlMillis <= 0 || ttlMillis > MaxTTL {
		return 0, fmt.Errorf("%w: ttl must be positive and cannot be larger than %d, got %d",
			ErrTTLOutOfRange, MaxTTL, ttlMillis)
	}
	return int64(extendedMask | featureTTL<<40 | uint64(ttlMillis)), nil
}

// EphemeralTTL returns the TTL encoded in owner and true if owner is a TTL
// znode's ephemeralOwner.
func EphemeralTTL(owner int64) (ttl int64, ok bool) {
	u := uint64(owner)
	if u&extendedMask != extendedMask || (u&reservedBitsMask)>>40 != featureTTL {
		return 0, false
	}
	return int64(u &^ (extendedMask | reservedBitsMask)), true
}

// IsContainer reports whether owner marks a container znode.
func IsContainer(owner int64) bool { return owner == ContainerEphemeralOwner }

// ephemeralKind classifies an ephemeralOwner as ZooKeeper's EphemeralType
// does with extended types enabled.
type ephemeralKind uint8

const (
	kindVoid ephemeralKind = iota
	kindNormal
	kindContainer
	kindTTL
	kindInvalidExtended
)

func kindOf(owner int64) ephemeralKind {
	u := uint64(owner)
	if u&extendedMask == extendedMask {
		if (u&reservedBitsMask)>>40 == featureTTL {
			return kindTTL
		}
		return kindInvalidExtended
	}
	switch {
	case owner == ContainerEphemeralOwner:
		return kindContainer
	case owner == 0:
		return kindVoid
	}
	return kindNormal
}

// clientEphemeralOwner is the ephemeralOwner a client sees in a Stat:
// ZooKeeper shows 0 for containers and TTL znodes (DataNode.copyStat).
func clientEphemeralOwner(owner int64) int64 {
	if kindOf(owner) != kindNormal {
		return 0
	}
	return owner
}
