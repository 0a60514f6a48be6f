// PropsCheck loads each file given on the command line with
// java.util.Properties.load, trims keys and values as ZooKeeper's
// QuorumPeerConfig does, and prints one line per file: the sorted
// key/value pairs, each string hex-encoded as UTF-8, space-separated.
// zoocfg_test.go runs it to compare parseProperties with Java.
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.TreeMap;

public class PropsCheck {
    static String hex(String s) {
        StringBuilder b = new StringBuilder("x");
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            b.append(String.format("%02x", c));
        }
        return b.toString();
    }

    public static void main(String[] args) throws Exception {
        for (String path : args) {
            Properties p = new Properties();
            try (FileInputStream in = new FileInputStream(path)) {
                p.load(in);
            }
            TreeMap<String, String> m = new TreeMap<>();
            for (String k : p.stringPropertyNames()) {
                m.put(k.trim(), p.getProperty(k).trim());
            }
            StringBuilder line = new StringBuilder("PROPS");
            m.forEach((k, v) -> line.append(' ').append(hex(k)).append(' ').append(hex(v)));
            System.out.println(line);
        }
    }
}
