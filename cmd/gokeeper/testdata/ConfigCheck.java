// ConfigCheck asks Apache ZooKeeper's own QuorumPeerConfig whether it
// accepts each zoo.cfg given on the command line, printing one line per
// file: "OK key=value ..." with the values ZooKeeper derived, or
// "ERR <message>". zoocfg_test.go runs it with `java ConfigCheck.java`
// (source-file mode) to compare LoadConfig with ZooKeeper.
import java.net.InetSocketAddress;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

public class ConfigCheck {
    public static void main(String[] args) {
        for (String path : args) {
            // NB: these two are static in QuorumPeerConfig; reset per file.
            QuorumPeerConfig.setStandaloneEnabled(true);
            QuorumPeerConfig.setReconfigEnabled(false);
            try {
                QuorumPeerConfig c = new QuorumPeerConfig();
                c.parse(path);
                InetSocketAddress a = c.getClientPortAddress();
                int voters = c.getQuorumVerifier() == null ? 0 : c.getQuorumVerifier().getVotingMembers().size();
                System.out.println("OK tickTime=" + c.getTickTime()
                    + " minSessionTimeout=" + c.getMinSessionTimeout()
                    + " maxSessionTimeout=" + c.getMaxSessionTimeout()
                    + " clientPort=" + (a == null ? 0 : a.getPort())
                    + " serverId=" + c.getServerId()
                    + " distributed=" + c.isDistributed()
                    + " voters=" + voters);
            } catch (Throwable e) {
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                System.out.println("ERR " + (e.getMessage() + " / " + root).replace('\n', ' '));
            }
        }
    }
}
