package io.caravan.resilience;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many instances the fleet has: the live members of the tasks consumer group, asked of the broker every few
 * seconds (an AdminClient's describeConsumerGroups). The last answer stays while the broker does not answer, and a
 * lower count is taken only once it has lasted {@link #HOLD} (during a rebalance the group may list fewer).
 */
public final class GroupMembers implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(GroupMembers.class);

    private final String group;
    private final Properties props = new Properties();
    private final Duration every;
    /** How long a higher count is kept after the group shows fewer members. */
    static final Duration HOLD = Duration.ofSeconds(10);
    private volatile int members;
    private long highSince;
    private ScheduledExecutorService timer;
    private Admin admin;

    public GroupMembers(String bootstrapServers, String group, Duration every) {
        this.group = group;
        this.every = every;
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "2000");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "caravan-fleet");
    }

    /** The members of the group at the last answer (0 before the first). */
    public int count() {
        return members;
    }

    /** Counts the members every {@code every} on {@code timer}, until {@link #close()} shuts it down. */
    public synchronized GroupMembers start(ScheduledExecutorService timer) {
        if (this.timer == null) {
            this.timer = timer;
            timer.scheduleWithFixedDelay(this::refresh, 0, every.toMillis(), TimeUnit.MILLISECONDS);
        }
        return this;
    }

    private void refresh() {
        try {
            if (admin == null) {
                admin = Admin.create(props);
            }
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group)
                    .get(3, TimeUnit.SECONDS);
            int now = d.members().size();
            long at = System.nanoTime();
            // a rebalancing group may list fewer members for a moment: a drop counts once it has lasted
            if (now >= members || at - highSince > HOLD.toNanos()) {
                if (now >= members) {
                    highSince = at;
                }
                members = now;
            }
        } catch (Exception e) {
            LOG.debug("fleet: cannot count the members of {}: {}", group, e.toString());
        }
    }

    @Override
    public synchronized void close() {
        if (timer != null) {
            timer.shutdownNow();
            try {
                timer.awaitTermination(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            timer = null;
        }
        if (admin != null) {
            admin.close(Duration.ofSeconds(2));
            admin = null;
        }
    }
}
