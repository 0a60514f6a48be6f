// SnapStreamTool runs Apache ZooKeeper's own classes on the SNAP stream
// (what a leader sends a learner after the SNAP packet) for
// snapstream_test.go:
//
//	java -cp <zookeeper jars> SnapStreamTool.java write <file>
//	    builds a ZKDatabase, writes it to <file> as LearnerHandler does
//	    (ZKDatabase.serializeSnapshot, then the "BenWasHere" signature),
//	    and prints the database (dump format below)
//	java -cp <zookeeper jars> SnapStreamTool.java read <file>
//	    reads <file> as Learner.syncWithLeader does
//	    (ZKDatabase.deserializeSnapshot, then the signature) and prints
//	    the database
//
// Dump format, lines sorted: "session <id> <timeout>" and
// "node <path>|<hex data or null>|<perms:scheme:id,...>|<czxid>,<mzxid>,
// <ctime>,<mtime>,<version>,<cversion>,<aversion>,<ephemeralOwner>,<pzxid>"
// with the root's path "".
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.ZKDatabase;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;

public class SnapStreamTool {
    public static void main(String[] args) throws Exception {
        File dir = Files.createTempDirectory("snapstream").toFile();
        ZKDatabase db = new ZKDatabase(new FileTxnSnapLog(dir, dir));
        if (args[0].equals("write")) {
            build(db);
            try (BufferedOutputStream out = new BufferedOutputStream(new FileOutputStream(args[1]))) {
                BinaryOutputArchive oa = BinaryOutputArchive.getArchive(out);
                db.serializeSnapshot(oa);
                oa.writeString("BenWasHere", "signature");
            }
        } else {
            try (BufferedInputStream in = new BufferedInputStream(new FileInputStream(args[1]))) {
                BinaryInputArchive ia = BinaryInputArchive.getArchive(in);
                db.deserializeSnapshot(ia);
                String sig = ia.readString("signature");
                if (!sig.equals("BenWasHere")) {
                    throw new IllegalStateException("signature " + sig);
                }
                if (in.read() != -1) {
                    throw new IllegalStateException("bytes after the signature");
                }
            }
        }
        dump(db);
    }

    static void build(ZKDatabase db) throws Exception {
        DataTree dt = db.getDataTree();
        List<ACL> digest = Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", "bob:tpoyr9ESNFdfl5ytYYx2yrDaF1Y=")),
            new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
        List<ACL> ip = Collections.singletonList(new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, new Id("ip", "10.0.0.1")));
        long session = 0x01000023ecb60000L;
        db.getSessionWithTimeOuts().put(session, 30000);
        db.getSessionWithTimeOuts().put(0x0200000000000001L, 4000);
        dt.createNode("/app", "app".getBytes("UTF-8"), ZooDefs.Ids.OPEN_ACL_UNSAFE, 0, 1, 0x100000001L, 1700000000001L);
        dt.createNode("/app/secret", new byte[] {0, 1, 2, (byte) 0xff}, digest, 0, 1, 0x100000002L, 1700000000002L);
        dt.createNode("/app/empty", null, ip, 0, 2, 0x100000003L, 1700000000003L);
        dt.createNode("/app/eph", "e".getBytes("UTF-8"), digest, session, 3, 0x100000004L, 1700000000004L);
        dt.createNode("/app/secret/deep", "d".getBytes("UTF-8"), ZooDefs.Ids.READ_ACL_UNSAFE, 0, 1, 0x100000005L, 1700000000005L);
        dt.setData("/app", "app2".getBytes("UTF-8"), 1, 0x100000006L, 1700000000006L);
        dt.setACL("/app/empty", digest, 1);
    }

    static void dump(ZKDatabase db) {
        List<String> lines = new ArrayList<>();
        for (Map.Entry<Long, Integer> e : db.getSessionWithTimeOuts().entrySet()) {
            lines.add("session " + e.getKey() + " " + e.getValue());
        }
        dumpNode(db.getDataTree(), "", lines);
        Collections.sort(lines);
        for (String l : lines) {
            System.out.println(l);
        }
    }

    static void dumpNode(DataTree dt, String path, List<String> lines) {
        DataNode n = dt.getNode(path.isEmpty() ? "/" : path);
        StringBuilder b = new StringBuilder("node ").append(path).append('|');
        byte[] data = n.getData();
        if (data == null) {
            b.append("null");
        } else {
            for (byte x : data) {
                b.append(String.format("%02x", x));
            }
        }
        b.append('|');
        List<String> acls = new ArrayList<>();
        for (ACL a : dt.getACL(n)) {
            acls.add(a.getPerms() + ":" + a.getId().getScheme() + ":" + a.getId().getId());
        }
        b.append(String.join(",", acls)).append('|');
        StatPersisted s = n.stat;
        b.append(s.getCzxid()).append(',').append(s.getMzxid()).append(',').append(s.getCtime()).append(',')
            .append(s.getMtime()).append(',').append(s.getVersion()).append(',').append(s.getCversion()).append(',')
            .append(s.getAversion()).append(',').append(s.getEphemeralOwner()).append(',').append(s.getPzxid());
        lines.add(b.toString());
        List<String> children = new ArrayList<>(n.getChildren());
        for (String c : children) {
            dumpNode(dt, path + "/" + c, lines);
        }
    }
}
