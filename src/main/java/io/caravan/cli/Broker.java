package io.caravan.cli;

import io.caravan.Setting;
import io.caravan.Settings;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;

/**
 * The Kafka broker a command-line tool talks to: {@code kafka.bootstrap-servers} when set, else the embedded
 * broker a {@code caravan run} on this machine starts ({@code 127.0.0.1:} {@code caravan.embedded-kafka.port},
 * 9092 by default; the same settings file or {@code -D} settings find the same broker).
 */
public final class Broker {

    private Broker() {}

    public static String address(Settings settings) {
        String bootstrap = settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS);
        return bootstrap != null ? bootstrap : "127.0.0.1:" + settings.get(Setting.EMBEDDED_KAFKA_PORT);
    }

    /** What to say when the broker does not answer: where it was looked for and how to name another. */
    public static String unreachable(Settings settings, String address) {
        return settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS) != null
                ? "no answer from Kafka at " + address + " (kafka.bootstrap-servers)"
                : "no answer from Kafka at " + address + ": is `caravan run` running with its embedded broker?"
                        + " Or name a broker with -Dkafka.bootstrap-servers=HOST:PORT";
    }

    /** Client settings shared by the tools: a bounded wait for an answer, and a name in the broker's logs. */
    static Properties client(String address, String clientId) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, address);
        p.put(CommonClientConfigs.CLIENT_ID_CONFIG, clientId);
        p.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        return p;
    }

    /** A tool speaks for itself: the Kafka client's retry warnings would only bury its one-line error. */
    static void quietClientLogs() {
        if (org.slf4j.LoggerFactory.getLogger("org.apache.kafka") instanceof ch.qos.logback.classic.Logger kafka) {
            kafka.setLevel(ch.qos.logback.classic.Level.ERROR);
        }
    }
}
