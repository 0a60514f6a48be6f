package jute

import "strconv"

// OpCode is a request type (ZooDefs.OpCode), carried in RequestHeader.Type,
// TxnHeader.Type and MultiHeader.Type.
type OpCode int32

// Op codes with ZooKeeper's values.
const (
	OpNotification         OpCode = 0
	OpCreate               OpCode = 1
	OpDelete               OpCode = 2
	OpExists               OpCode = 3
	OpGetData              OpCode = 4
	OpSetData              OpCode = 5
	OpGetACL               OpCode = 6
	OpSetACL               OpCode = 7
	OpGetChildren          OpCode = 8
	OpSync                 OpCode = 9
	OpPing                 OpCode = 11
	OpGetChildren2         OpCode = 12
	OpCheck                OpCode = 13
	OpMulti                OpCode = 14
	OpCreate2              OpCode = 15
	OpReconfig             OpCode = 16
	OpCheckWatches         OpCode = 17
	OpRemoveWatches        OpCode = 18
	OpCreateContainer      OpCode = 19
	OpDeleteContainer      OpCode = 20
	OpCreateTTL            OpCode = 21
	OpMultiRead            OpCode = 22
	OpAuth                 OpCode = 100
	OpSetWatches           OpCode = 101
	OpSASL                 OpCode = 102
	OpGetEphemerals        OpCode = 103
	OpGetAllChildrenNumber OpCode = 104
	OpSetWatches2          OpCode = 105
	OpAddWatch             OpCode = 106
	OpWhoAmI               OpCode = 107
	OpCreateSession        OpCode = -10
	OpCloseSession         OpCode = -11
	OpError                OpCode = -1
)

var opNames = map[OpCode]string{
	OpNotification: "notification", OpCreate: "create", OpDelete: "delete",
	OpExists: "exists", OpGetData: "getData", OpSetData: "setData",
	OpGetACL: "getACL", OpSetACL: "setACL", OpGetChildren: "getChildren",
	OpSync: "sync", OpPing: "ping", OpGetChildren2: "getChildren2",
	OpCheck: "check", OpMulti: "multi", OpCreate2: "create2",
	OpReconfig: "reconfig", OpCheckWatches: "checkWatches",
	OpRemoveWatches: "removeWatches", OpCreateContainer: "createContainer",
	OpDeleteContainer: "deleteContainer", OpCreateTTL: "createTTL",
	OpMultiRead: "multiRead", OpAuth: "auth", OpSetWatches: "setWatches",
	OpSASL: "sasl", OpGetEphemerals: "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber", OpSetWatches2: "setWatches2",
	OpAddWatch: "addWatch", OpWhoAmI: "whoAmI", OpCreateSession: "createSession",
	OpCloseSession: "closeSession", OpError: "error",
}

// String returns ZooKeeper's name for the op (Request.op2String).
func (o OpCode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "unknown " + strconv.Itoa(int(o))
}

// Code is a ZooKeeper error code (KeeperException.Code), carried in
// ReplyHeader.Err, ErrorResponse, ErrorTxn and MultiHeader.Err.
type Code int32

// Error codes with ZooKeeper's values.
const (
	CodeOK                           Code = 0
	CodeSystemError                  Code = -1
	CodeRuntimeInconsistency         Code = -2
	CodeDataInconsistency            Code = -3
	CodeConnectionLoss               Code = -4
	CodeMarshallingError             Code = -5
	CodeUnimplemented                Code = -6
	CodeOperationTimeout             Code = -7
	CodeBadArguments                 Code = -8
	CodeUnknownSession               Code = -12
	CodeNewConfigNoQuorum            Code = -13
	CodeReconfigInProgress           Code = -14
	CodeAPIError                     Code = -100
	CodeNoNode                       Code = -101
	CodeNoAuth                       Code = -102
	CodeBadVersion                   Code = -103
	CodeNoChildrenForEphemerals      Code = -108
	CodeNodeExists                   Code = -110
	CodeNotEmpty                     Code = -111
	CodeSessionExpired               Code = -112
	CodeInvalidCallback              Code = -113
	CodeInvalidACL                   Code = -114
	CodeAuthFailed                   Code = -115
	CodeSessionMoved                 Code = -118
	CodeNotReadOnly                  Code = -119
	CodeEphemeralOnLocalSession      Code = -120
	CodeNoWatcher                    Code = -121
	CodeRequestTimeout               Code = -122
	CodeReconfigDisabled             Code = -123
	CodeSessionClosedRequireSASLAuth Code = -124
	CodeQuotaExceeded                Code = -125
	CodeThrottledOp                  Code = -127
)

// codeMessages holds KeeperException.getCodeMessage's text for each code.
var codeMessages = map[Code]string{
	CodeOK: "ok", CodeSystemError: "SystemError",
	CodeRuntimeInconsistency: "RuntimeInconsistency",
	CodeDataInconsistency:    "DataInconsistency", CodeConnectionLoss: "ConnectionLoss",
	CodeMarshallingError: "MarshallingError", CodeNewConfigNoQuorum: "NewConfigNoQuorum",
	CodeReconfigInProgress: "ReconfigInProgress", CodeUnimplemented: "Unimplemented",
	CodeOperationTimeout: "OperationTimeout", CodeBadArguments: "BadArguments",
	CodeUnknownSession: "UnknownSession", CodeAPIError: "APIError", CodeNoNode: "NoNode",
	CodeNoAuth: "NoAuth", CodeBadVersion: "BadVersion",
	CodeNoChildrenForEphemerals: "NoChildrenForEphemerals", CodeNodeExists: "NodeExists",
	CodeInvalidACL: "InvalidACL", CodeAuthFailed: "AuthFailed",
	CodeNotEmpty: "Directory not empty", CodeSessionExpired: "Session expired",
	CodeInvalidCallback: "Invalid callback", CodeSessionMoved: "Session moved",
	CodeNotReadOnly: "Not a read-only call", CodeEphemeralOnLocalSession: "Ephemeral node on local session",
	CodeNoWatcher: "No such watcher", CodeRequestTimeout: "Request timeout",
	CodeReconfigDisabled:             "Reconfig is disabled",
	CodeSessionClosedRequireSASLAuth: "Session closed because client failed to authenticate",
	CodeQuotaExceeded:                "Quota has exceeded", CodeThrottledOp: "Op throttled due to high load",
}

// Error makes a Code usable as an error; its text is ZooKeeper's message.
func (c Code) Error() string {
	if s, ok := codeMessages[c]; ok {
		return s
	}
	return "Unknown error " + strconv.Itoa(int(c))
}

// EventType is a watch event type (Watcher.Event.EventType).
type EventType int32

// Event types with ZooKeeper's values.
const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

// KeeperState is a client connection state (Watcher.Event.KeeperState).
type KeeperState int32

// Keeper states with ZooKeeper's values.
const (
	StateUnknown           KeeperState = -1
	StateDisconnected      KeeperState = 0
	StateNoSyncConnected   KeeperState = 1
	StateSyncConnected     KeeperState = 3
	StateAuthFailed        KeeperState = 4
	StateConnectedReadOnly KeeperState = 5
	StateSaslAuthenticated KeeperState = 6
	StateExpired           KeeperState = -112
	StateClosed            KeeperState = 7
)

// WatcherType selects watches in checkWatches/removeWatches
// (Watcher.WatcherType).
type WatcherType int32

// Watcher types with ZooKeeper's values.
const (
	WatcherChildren            WatcherType = 1
	WatcherData                WatcherType = 2
	WatcherAny                 WatcherType = 3
	WatcherPersistent          WatcherType = 4
	WatcherPersistentRecursive WatcherType = 5
)

// AddWatch modes (ZooDefs.AddWatchModes).
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// Permission bits (ZooDefs.Perms).
const (
	PermRead   int32 = 1 << 0
	PermWrite  int32 = 1 << 1
	PermCreate int32 = 1 << 2
	PermDelete int32 = 1 << 3
	PermAdmin  int32 = 1 << 4
	PermAll    int32 = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// Well-known ACLs (ZooDefs.Ids).
var (
	IDAnyone = Id{Scheme: "world", Id: "anyone"}
	IDAuth   = Id{Scheme: "auth", Id: ""}
)

// OpenACLUnsafe returns ZooDefs.Ids.OPEN_ACL_UNSAFE: all permissions for
// world:anyone.
func OpenACLUnsafe() []ACL { return []ACL{{Perms: PermAll, Id: IDAnyone}} }

// CreatorAllACL returns ZooDefs.Ids.CREATOR_ALL_ACL: all permissions for
// the authenticated creator.
func CreatorAllACL() []ACL { return []ACL{{Perms: PermAll, Id: IDAuth}} }

// ReadACLUnsafe returns ZooDefs.Ids.READ_ACL_UNSAFE: read for world:anyone.
func ReadACLUnsafe() []ACL { return []ACL{{Perms: PermRead, Id: IDAnyone}} }

// CreateMode is the flags field of a create request (CreateMode).
type CreateMode int32

// Create modes with ZooKeeper's values.
const (
	ModePersistent                  CreateMode = 0
	ModeEphemeral                   CreateMode = 1
	ModePersistentSequential        CreateMode = 2
	ModeEphemeralSequential         CreateMode = 3
	ModeContainer                   CreateMode = 4
	ModePersistentWithTTL           CreateMode = 5
	ModePersistentSequentialWithTTL CreateMode = 6
	createModeMax                              = ModePersistentSequentialWithTTL
	createModeMin                              = ModePersistent
	createModeSequentialModes                  = 1<<ModePersistentSequential | 1<<ModeEphemeralSequential | 1<<ModePersistentSequentialWithTTL
	createModeEphemeralModes                   = 1<<ModeEphemeral | 1<<ModeEphemeralSequential
	createModeTTLModes                         = 1<<ModePersistentWithTTL | 1<<ModePersistentSequentialWithTTL
)

// Valid reports whether m is one of ZooKeeper's create modes.
func (m CreateMode) Valid() bool { return m >= createModeMin && m <= createModeMax }

// Sequential reports whether the server appends a sequence number.
func (m CreateMode) Sequential() bool { return m.Valid() && createModeSequentialModes&(1<<m) != 0 }

// Ephemeral reports whether the node belongs to its creator's session.
func (m CreateMode) Ephemeral() bool { return m.Valid() && createModeEphemeralModes&(1<<m) != 0 }

// Container reports whether m is CONTAINER.
func (m CreateMode) Container() bool { return m == ModeContainer }

// TTL reports whether m is one of the TTL modes.
func (m CreateMode) TTL() bool { return m.Valid() && createModeTTLModes&(1<<m) != 0 }

// Special xids in RequestHeader/ReplyHeader (ClientCnxn).
const (
	XidNotification int32 = -1
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// PacketType is a quorum packet type (QuorumPacket.Type, Leader's constants).
type PacketType int32

// Quorum packet types with ZooKeeper's values.
const (
	PacketRequest           PacketType = 1
	PacketProposal          PacketType = 2
	PacketAck               PacketType = 3
	PacketCommit            PacketType = 4
	PacketPing              PacketType = 5
	PacketRevalidate        PacketType = 6
	PacketSync              PacketType = 7
	PacketInform            PacketType = 8
	PacketCommitAndActivate PacketType = 9
	PacketNewLeader         PacketType = 10
	PacketFollowerInfo      PacketType = 11
	PacketUpToDate          PacketType = 12
	PacketDiff              PacketType = 13
	PacketTrunc             PacketType = 14
	PacketSnap              PacketType = 15
	PacketObserverInfo      PacketType = 16
	PacketLeaderInfo        PacketType = 17
	PacketAckEpoch          PacketType = 18
	PacketInformAndActivate PacketType = 19
)

var packetNames = map[PacketType]string{
	PacketRequest: "REQUEST", PacketProposal: "PROPOSAL", PacketAck: "ACK",
	PacketCommit: "COMMIT", PacketPing: "PING", PacketRevalidate: "REVALIDATE",
	PacketSync: "SYNC", PacketInform: "INFORM", PacketCommitAndActivate: "COMMITANDACTIVATE",
	PacketNewLeader: "NEWLEADER", PacketFollowerInfo: "FOLLOWERINFO", PacketUpToDate: "UPTODATE",
	PacketDiff: "DIFF", PacketTrunc: "TRUNC", PacketSnap: "SNAP",
	PacketObserverInfo: "OBSERVERINFO", PacketLeaderInfo: "LEADERINFO",
	PacketAckEpoch: "ACKEPOCH", PacketInformAndActivate: "INFORMANDACTIVATE",
}

// String returns ZooKeeper's name for the packet type.
func (t PacketType) String() string {
	if s, ok := packetNames[t]; ok {
		return s
	}
	return "UNKNOWN" + strconv.Itoa(int(t))
}

// Zxid helpers: a zxid is epoch<<32 | counter.

// MakeZxid returns the zxid for counter in epoch.
func MakeZxid(epoch, counter uint32) int64 { return int64(uint64(epoch)<<32 | uint64(counter)) }

// ZxidEpoch returns the epoch half of a zxid.
func ZxidEpoch(zxid int64) uint32 { return uint32(uint64(zxid) >> 32) }

// ZxidCounter returns the counter half of a zxid.
func ZxidCounter(zxid int64) uint32 { return uint32(zxid) }

// NewTxnRecord returns an empty txn record of the type ZooKeeper logs for
// a TxnHeader of type op, or nil if op carries no txn body. Multi sub-txns
// (jute.Txn) use the same mapping.
func NewTxnRecord(op OpCode) Record {
	switch op {
	case OpCreate, OpCreate2:
		return new(CreateTxn)
	case OpCreateContainer:
		return new(CreateContainerTxn)
	case OpCreateTTL:
		return new(CreateTTLTxn)
	case OpDelete, OpDeleteContainer:
		return new(DeleteTxn)
	case OpSetData, OpReconfig:
		return new(SetDataTxn)
	case OpSetACL:
		return new(SetACLTxn)
	case OpCheck:
		return new(CheckVersionTxn)
	case OpMulti:
		return new(MultiTxn)
	case OpCreateSession:
		return new(CreateSessionTxn)
	case OpCloseSession:
		return new(CloseSessionTxn)
	case OpError:
		return new(ErrorTxn)
	}
	return nil
}
