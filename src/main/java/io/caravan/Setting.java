package io.caravan;

import io.caravan.util.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * One of Caravan's settings: its name, its default as {@code application.properties} writes it, a one-line doc, and
 * how its value reads. Every setting is a constant here, grouped by area; the default lives nowhere else
 * ({@code SettingsRegistryTest} holds {@code application.properties} and docs/operations.md to this list).
 * An empty default means unset: {@link Settings#get(Setting)} gives null and the caller says what unset means.
 */
public record Setting<T>(String name, String type, String defaultValue, String doc, Function<String, T> reader) {

    private static final List<Setting<?>> ALL = new ArrayList<>();

    /**
     * Settings handed on as they are: Kafka's client address, Camel Main's own, and the OpenTelemetry SDK's
     * ({@code caravan.otel.X} is read as {@code otel.X}).
     */
    public static final List<String> PASS_THROUGH_PREFIXES = List.of("kafka.", "camel.", "otel.", "caravan.otel.");

    // where the catalog and Kafka are
    public static final Setting<String> CATALOG = text("caravan.catalog", "catalog.yaml",
            "the catalog file (or `--catalog FILE`); watched and reloaded while running");
    public static final Setting<Duration> CATALOG_WATCH_INTERVAL = duration("caravan.catalog.watch-interval", "2s",
            "how often the catalog file is checked for changes");
    public static final Setting<String> ADMIN_API_KEY = text("caravan.admin.api-key", "",
            "when set, POST /admin/reload with Authorization: Bearer KEY reloads the catalog (empty: no endpoint)");
    public static final Setting<String> KAFKA_BOOTSTRAP_SERVERS = text("kafka.bootstrap-servers", "",
            "the Kafka brokers (empty: an embedded single-node broker under caravan.embedded-kafka.dir)");
    public static final Setting<String> EMBEDDED_KAFKA_DIR = text("caravan.embedded-kafka.dir", "data/kafka",
            "the embedded broker's folder, when kafka.bootstrap-servers is unset");
    public static final Setting<Integer> EMBEDDED_KAFKA_PORT = integer("caravan.embedded-kafka.port", "9092",
            "the embedded broker's port for clients; its KRaft controller takes the next one (both on 127.0.0.1)");

    // the HTTP front door
    public static final Setting<String> HTTP_HOST = text("caravan.http.host", "127.0.0.1",
            "the address the HTTP port listens on");
    public static final Setting<Integer> HTTP_PORT = integer("caravan.http.port", "8080",
            "the HTTP port: /v1/*, /metrics, /status, /health/*");
    public static final Setting<String> HTTP_API_KEYS = text("caravan.http.api-keys", "",
            "comma-separated API keys; when set, every /v1/* request needs Authorization: Bearer KEY (401 otherwise)");
    public static final Setting<Integer> HTTP_MAX_CONNECTIONS = integer("caravan.http.max-connections", "4096",
            "open HTTP connections at most (at most half the file limit); at the cap the longest idle one makes room");
    public static final Setting<Duration> HTTP_REQUEST_HEAD_TIMEOUT = duration("caravan.http.request-head-timeout",
            "10s", "a new connection must send its first request head within this time, else it is closed");
    public static final Setting<Duration> HTTP_IDLE_TIMEOUT = duration("caravan.http.idle-timeout", "60s",
            "a kept-alive connection with no request in progress is closed after this time");
    public static final Setting<Duration> HTTP_BODY_TIMEOUT = duration("caravan.http.body-timeout", "30s",
            "a request body must have arrived within this time (408 otherwise)");
    public static final Setting<Long> HTTP_MAX_BODY_BYTES_IN_FLIGHT = longInt("caravan.http.max-body-bytes-in-flight",
            "67108864", "request body bytes held at once by the requests in progress; over it 503 with Retry-After");

    // topics and the consumer group
    public static final Setting<String> TOPICS_TASKS = text("caravan.topics.tasks", "llm.tasks",
            "the tasks topic");
    public static final Setting<String> TOPICS_RESULTS = text("caravan.topics.results", "llm.results",
            "the results topic");
    public static final Setting<String> TOPICS_USAGE = text("caravan.topics.usage", "llm.usage",
            "the usage topic: one event per attempt, the spend ledger");
    public static final Setting<String> TOPICS_DLQ = text("caravan.topics.dlq", "llm.tasks.dlq",
            "the dead-letter topic");
    public static final Setting<Integer> TOPICS_PARTITIONS = integer("caravan.topics.partitions", "3",
            "`caravan run` creates its missing topics (existing ones are left as they are) with these partitions");
    public static final Setting<Short> TOPICS_REPLICATION = register("caravan.topics.replication", "number", "",
            "and these replicas (empty: the broker's default.replication.factor)", Short::parseShort);
    public static final Setting<Duration> TOPICS_USAGE_RETENTION = duration("caravan.topics.usage-retention", "840h",
            "a usage topic it creates keeps its events this long (840h = 35 days: a month must outlive 7 days)");
    public static final Setting<String> CONSUMER_GROUP = text("caravan.consumer.group", "caravan",
            "the Kafka consumer group of the fleet's instances");
    public static final Setting<String> TOPICS_BATCHES = text("caravan.topics.batches", "llm.batches",
            "the batch tier's open batches and their tasks, compacted; instances own its partitions (docs/batch.md)");

    // the batch tier
    public static final Setting<Duration> BATCH_TICK = duration("caravan.batch.tick", "1s",
            "how often the owner of open batches submits, polls (each at its provider's batch poll:) and rescues");
    public static final Setting<Duration> BATCH_RESCUE_MARGIN = duration("caravan.batch.rescue-margin", "15m",
            "a task still waiting for its batch this long before its deadline goes online through its fallbacks");
    public static final Setting<Long> BATCH_MAX_OPEN_TASKS = longInt("caravan.batch.max-open-tasks", "200000",
            "tasks waiting for batches on one instance at most; past it new deadline tasks go online");
    public static final Setting<Long> BATCH_MAX_RECORD_BYTES = longInt("caravan.batch.max-record-bytes", "8388608",
            "one batch record on the batches topic at most this large (uncompressed)");
    public static final Setting<Duration> BATCH_HTTP_TIMEOUT = duration("caravan.batch.http-timeout", "60s",
            "timeout of each call to a provider's batch API (upload, create, status, cancel)");
    public static final Setting<Integer> BATCH_MAX_SUBMIT_FAILURES = integer("caravan.batch.max-submit-failures",
            "5", "a batch the provider refuses this many times (429, 5xx) sends its tasks online");
    public static final Setting<Integer> BATCH_SESSION_TIMEOUT_MS = integer("caravan.batch.session-timeout-ms", "",
            "the batches topic consumer's session timeout (empty: caravan.kafka.session-timeout-ms)");

    // tasks
    public static final Setting<Integer> MAX_IN_FLIGHT = integer("caravan.max-in-flight", "256",
            "Kafka tasks worked on at once per instance");
    public static final Setting<Integer> MAX_TASK_BYTES = integer("caravan.max-task-bytes", "1048576",
            "the largest task (a Kafka record or an HTTP body)");
    public static final Setting<Long> TASK_DEFAULT_TIMEOUT_MS = longInt("caravan.task.default-timeout-ms", "60000",
            "the whole task's time, fallbacks and waits included, when the task gives no timeout_ms");
    public static final Setting<Integer> TASK_MAX_METADATA_BYTES = integer("caravan.task.max-metadata-bytes",
            "16384", "a task's metadata (copied into its result and usage events) at most this many bytes as JSON");
    public static final Setting<Integer> TASK_MAX_METADATA_DEPTH = integer("caravan.task.max-metadata-depth", "8",
            "and at most this deep");
    public static final Setting<Integer> TENANT_MAX_CHARS = integer("caravan.tenant.max-chars", "128",
            "a longer metadata.tenant is an invalid task, and a usage event naming one is ignored by the ledger");

    // providers
    public static final Setting<Long> PROVIDER_MAX_RESPONSE_BYTES = longInt("caravan.provider.max-response-bytes",
            "16777216", "the largest provider answer read, after decompression (a provider's max_response_bytes "
                    + "overrides it); past it the attempt fails as response_too_large and falls back");
    public static final Setting<Integer> PROVIDER_MAX_SSE_LINE_BYTES = integer("caravan.provider.max-sse-line-bytes",
            "1048576", "the longest SSE line of a streamed answer (response_too_large past it)");
    public static final Setting<Integer> PROVIDER_MAX_SSE_EVENT_BYTES = integer(
            "caravan.provider.max-sse-event-bytes", "4194304",
            "the largest SSE event of a streamed answer (response_too_large past it)");
    public static final Setting<Duration> KEY_COOLDOWN = duration("caravan.key-cooldown", "10m",
            "how long a key stays out of rotation after a quota or auth error");
    public static final Setting<Duration> LIMITS_WINDOW = duration("caravan.limits.window", "1m",
            "the window of rpm/tpm limits: a minute (shorter only in tests)");

    // the fleet, budgets and tenants
    public static final Setting<String> INSTANCE_ID = text("caravan.instance-id", "",
            "this instance's name in its usage events (empty: host-pid-random); instances skip their own events");
    public static final Setting<Boolean> FLEET_SHARE = flag("caravan.fleet.share", "true",
            "share each key's rpm/tpm, cooldowns and headroom with the consumer group's other instances");
    public static final Setting<Duration> FLEET_MAX_LAG = duration("caravan.fleet.max-lag", "2s",
            "when the usage topic is read later than this, keep to this instance's share of each rpm/tpm");
    public static final Setting<Duration> BUDGETS_REBUILD_WAIT = duration("caravan.budgets.rebuild-wait", "30s",
            "how long a task waits for the spend ledger to finish reading this month's usage at start-up");
    public static final Setting<String> TENANTS_KAFKA_HEADER = text("caravan.tenants.kafka-header", "caravan-tenant",
            "Kafka: the record header naming a task's tenant when the catalog has tenants: (docs/tenants.md)");
    public static final Setting<Long> TENANTS_DEFAULT_OUTPUT_TOKENS = longInt("caravan.tenants.default-output-tokens",
            "1024", "a tenant's call reserves its largest cost; without max_tokens, this many output tokens");
    public static final Setting<Boolean> TENANTS_FAIR_SHARE = flag("caravan.tenants.fair-share", "true",
            "tasks of catalog tenants waiting for the same rate-limited provider queue and take turns by weight");
    public static final Setting<Integer> LEDGER_MAX_TENANTS = integer("caravan.ledger.max-tenants", "10000",
            "tenants the spend ledger tracks a month; further ones are summed as other tenants (budgeted: always)");
    public static final Setting<Duration> LEDGER_RESTART_BACKOFF = duration("caravan.ledger.restart-backoff", "1s",
            "the spend ledger's reader restarts after a fault, waiting this long (doubled while faults repeat)");
    public static final Setting<Duration> LEDGER_RESTART_BACKOFF_MAX = duration("caravan.ledger.restart-backoff-max",
            "30s", "up to this long");
    public static final Setting<Duration> LEDGER_RESTART_GRACE = duration("caravan.ledger.restart-grace", "5s",
            "/health/ready is DOWN once the ledger's reader has been down for longer than this");

    // the Kafka intake and outlets
    public static final Setting<Integer> KAFKA_POLL_TIMEOUT_MS = integer("caravan.kafka.poll-timeout-ms", "20",
            "how long a poll waits for records; also how soon paused partitions resume and finished tasks commit");
    public static final Setting<Integer> KAFKA_MAX_POLL_RECORDS = integer("caravan.kafka.max-poll-records", "",
            "records one poll brings at most (empty: the smaller of 500 and caravan.max-in-flight)");
    public static final Setting<Duration> SHUTDOWN_GRACE = duration("caravan.shutdown.grace", "30s",
            "SIGTERM: stop taking records, finish and commit the tasks in flight within this time, then exit");
    public static final Setting<Integer> KAFKA_CONSUMERS = integer("caravan.kafka.consumers", "1",
            "Kafka consumer threads of the tasks topic");
    public static final Setting<Integer> KAFKA_SESSION_TIMEOUT_MS = integer("caravan.kafka.session-timeout-ms",
            "45000", "how long the group waits for a silent (killed) instance before its partitions go to others");
    public static final Setting<Duration> KAFKA_STALL_TIMEOUT = duration("caravan.kafka.stall-timeout", "5m",
            "Kafka tasks waiting and none finished or committed this long: /health/live and /ready DOWN");
    public static final Setting<Integer> KAFKA_PUBLISH_RETRY_DELAY_MS = integer(
            "caravan.kafka.publish-retry-delay-ms", "200",
            "a result, dead letter or usage event the broker did not take is sent again after this wait, doubling");
    public static final Setting<Integer> KAFKA_PUBLISH_RETRY_MAX_DELAY_MS = integer(
            "caravan.kafka.publish-retry-max-delay-ms", "10000", "up to this wait");

    // tracing
    public static final Setting<Boolean> OTEL_ENABLED = flag("caravan.otel.enabled", "false",
            "OpenTelemetry traces and GenAI metrics over OTLP, as OTEL_* or otel.* settings say (docs/tracing.md)");
    public static final Setting<Boolean> OTEL_CAPTURE_CONTENT = flag("caravan.otel.capture-content", "false",
            "prompts and answers on the call spans, cut at otel.attribute.value.length.limit (8192)");

    /** A setting's value, or its default when it is not set or blank; null when neither is there. */
    public T read(String value) {
        String text = value == null || value.isBlank() ? defaultValue : value.trim();
        if (text.isEmpty()) {
            return null;
        }
        try {
            return reader.apply(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("setting " + name + ": not a " + type + ": '" + text + "'");
        }
    }

    /** Every setting. */
    public static List<Setting<?>> all() {
        return Collections.unmodifiableList(ALL);
    }

    /** Whether a {@code caravan.*} name is one Caravan reads; other names are not its own to judge. */
    public static boolean known(String name) {
        return ALL.stream().anyMatch(s -> s.name.equals(name))
                || PASS_THROUGH_PREFIXES.stream().anyMatch(name::startsWith)
                || !name.startsWith("caravan.");
    }

    private static Setting<String> text(String name, String defaultValue, String doc) {
        return register(name, "text", defaultValue, doc, Function.identity());
    }

    private static Setting<Integer> integer(String name, String defaultValue, String doc) {
        return register(name, "number", defaultValue, doc, Integer::parseInt);
    }

    private static Setting<Long> longInt(String name, String defaultValue, String doc) {
        return register(name, "number", defaultValue, doc, Long::parseLong);
    }

    private static Setting<Duration> duration(String name, String defaultValue, String doc) {
        return register(name, "duration", defaultValue, doc, Durations::parse);
    }

    private static Setting<Boolean> flag(String name, String defaultValue, String doc) {
        return register(name, "true or false", defaultValue, doc, value -> {
            if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
                throw new IllegalArgumentException(value);
            }
            return Boolean.parseBoolean(value);
        });
    }

    private static <T> Setting<T> register(String name, String type, String defaultValue, String doc,
            Function<String, T> reader) {
        Setting<T> setting = new Setting<>(name, type, defaultValue, doc, reader);
        ALL.add(setting);
        return setting;
    }
}
