package io.caravan;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.cli.BatchCommand;
import io.caravan.cli.CheckCommand;
import io.caravan.cli.ReportCommand;
import io.caravan.cli.SendCommand;
import io.caravan.cli.TailCommand;
import io.caravan.cli.TrainCommand;
import io.caravan.intake.FatalErrors;
import io.caravan.kafka.EmbeddedKafka;
import io.caravan.kafka.Topics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * {@code java -jar caravan.jar COMMAND} ({@code bin/caravan COMMAND}; {@code caravan help} lists the commands).
 * Nothing of Camel is touched before the virtual-thread switch is set, because Camel reads it once when its thread pools first load.
 */
public final class CaravanMain {

    private CaravanMain() {}

    public static void main(String[] args) throws Exception {
        if (Runtime.version().feature() >= 21 && System.getProperty("camel.threads.virtual.enabled") == null) {
            System.setProperty("camel.threads.virtual.enabled", "true");
        }
        System.exit(run(args));
    }

    /** What {@code caravan help} prints: every command. */
    static final String USAGE = """
            usage: caravan [-Dname=value ...] COMMAND [options]   (bin/caravan; or java [-D...] -jar caravan.jar)

            commands:
              run [--catalog FILE]       the router: HTTP and Kafka intakes (the default command); creates
                                         its topics when missing; with no kafka.bootstrap-servers it starts
                                         an embedded broker on 127.0.0.1:9092 (caravan.embedded-kafka.port)
              send [FILE.jsonl|-] [-H name=value ...] [--topic TOPIC]
                                         tasks, one JSON a line (- or nothing: stdin), to the tasks topic;
                                         key = the task's id (a new UUID when it has none)
              tail [results|usage|dlq] [--from-beginning] [--max N] [--json] [--topic TOPIC]
                                         follow a topic, one compact line (or the raw JSON) per record
              check [--catalog FILE]     validate the catalog and print the routing table
              batch IN.jsonl -o OUT.jsonl [--concurrency N] [--catalog FILE]
                                         an OpenAI Batch file through the router, resumable
              report [--by tier|model|provider|tenant|day] [--since DATE] [--until DATE]
                     [--format table|csv|json] [--html FILE]
                                         spend and fallbacks from the usage topic
              keys new --tenant NAME     a new API key of a tenant (shown once) and the sha256: line
                                         to add to its api_keys in the catalog
              train [--seconds N]        a training run on loopback (simulated provider, embedded broker) that
                                         bin/caravan turns into the JVM's class archive / AOT cache next to
                                         the jar, used by every later start: faster start and warm-up
              help                       this text (also --help, -h)

            send and tail talk to kafka.bootstrap-servers, else to the embedded broker of a `caravan run`
            on this machine (127.0.0.1 and caravan.embedded-kafka.port). Settings: -Dname=value before the
            command, or ./application.properties. bin/caravan reads JAVA_HOME, CARAVAN_HEAP (default 512m)
            and CARAVAN_JAVA_OPTS.""";

    private static final List<String> COMMANDS = List.of("run", "check", "send", "tail", "batch", "report",
            "keys", "train");
    private static final List<String> HELP = List.of("help", "--help", "-h");

    static int run(String[] args) throws Exception {
        List<String> rest = new ArrayList<>(List.of(args));
        // the router is the default command, also when the arguments start with its one option
        boolean runByDefault = rest.isEmpty() || rest.get(0).equals("--catalog") || rest.get(0).startsWith("--catalog=");
        String command = runByDefault ? "run" : rest.remove(0);
        if (HELP.contains(command) || rest.contains("--help") || rest.contains("-h")) {
            System.out.println(USAGE);
            return 0;
        }
        if (!COMMANDS.contains(command)) {
            System.err.println("caravan: unknown " + (command.startsWith("-") ? "option '" : "command '") + command
                    + (command.startsWith("-D") ? "' (settings go before -jar: java -Dname=value -jar caravan.jar"
                            + " COMMAND, or bin/caravan -Dname=value COMMAND)"
                            : "' (commands: " + String.join(", ", COMMANDS) + ", help)"));
            return 2;
        }
        if (command.equals("keys")) {
            return io.caravan.cli.KeysCommand.run(rest.toArray(String[]::new), System.out, System.err);
        }
        Settings settings;
        try {
            settings = Settings.load();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("caravan: " + e.getMessage());
            return 2;
        }
        // a mistyped name would otherwise leave its setting at the default without a word
        settings.unknown().forEach(name -> System.err.println("caravan: warning: unknown setting " + name
                + " is ignored (the settings: docs/operations.md)"));
        String catalogOption;
        try {
            catalogOption = io.caravan.cli.Options.take(rest, "--catalog");
        } catch (IllegalArgumentException e) {
            System.err.println("caravan " + command + ": " + e.getMessage() + " (caravan help)");
            return 2;
        }
        if (catalogOption != null) {
            settings = settings.with(Setting.CATALOG, catalogOption);
        }
        if ((command.equals("run") || command.equals("check")) && !rest.isEmpty()) {
            System.err.println("caravan " + command + ": unexpected argument '" + rest.get(0) + "' (caravan help)");
            return 2;
        }
        Path catalogFile = Path.of(settings.get(Setting.CATALOG));
        if ((command.equals("run") || command.equals("check")) && !java.nio.file.Files.isRegularFile(catalogFile)) {
            System.err.println(noCatalog(command, catalogFile));
            return 2;
        }
        switch (command) {
            case "check":
                return CheckCommand.run(catalogFile, System.out, System.err);
            case "run":
                return runRouter(settings, catalogFile);
            case "send":
                return SendCommand.run(rest, settings, System.in, System.out, System.err);
            case "tail":
                return TailCommand.run(rest, settings, System.out, System.err);
            case "report":
                return ReportCommand.run(rest, settings, System.out, System.err);
            case "train":
                return TrainCommand.run(rest, settings, System.out, System.err);
            default:
                return BatchCommand.run(settings, rest, System.out, System.err);
        }
    }

    private static int runRouter(Settings settings, Path catalogFile) throws Exception {
        // a thread that dies of a JVM error (out of memory...) stops the process: Kafka redelivers what it held
        Thread.setDefaultUncaughtExceptionHandler(new FatalErrors().uncaughtHandler());
        Catalog catalog;
        try {
            catalog = CatalogLoader.load(catalogFile);
        } catch (CatalogException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        String bootstrap = settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS);
        EmbeddedKafka embedded = null;
        if (bootstrap == null) {
            embedded = new EmbeddedKafka(Path.of(settings.get(Setting.EMBEDDED_KAFKA_DIR)),
                    settings.get(Setting.EMBEDDED_KAFKA_PORT));
            bootstrap = embedded.bootstrapServers();
        }
        // the broker starts and the topics are made while Camel loads its routes: seconds of each, side by side
        CompletableFuture<Void> kafkaUp = kafkaUp(embedded, settings, bootstrap);
        try (EmbeddedKafka broker = embedded) {
            try {
                new CaravanApp(settings, catalog, bootstrap).run(kafkaUp::join);
            } catch (Exception e) {
                // Camel's start-up wraps what the wait for Kafka threw: a bad topic setting is still one line
                Throwable kafkaFailed = kafkaUp.isDone() ? kafkaUp.handle((ok, failure) -> failure).join() : null;
                if (kafkaFailed instanceof IllegalArgumentException bad) {
                    System.err.println("caravan: " + bad.getMessage());
                    return 2;
                }
                throw e;
            } finally {
                // a broker still starting is not closed under its own feet
                kafkaUp.exceptionally(e -> null).join();
            }
        }
        return 0;
    }

    /** Starts the embedded broker (when there is one) and creates the topics, on a thread of their own. */
    private static CompletableFuture<Void> kafkaUp(EmbeddedKafka embedded, Settings settings, String bootstrap) {
        CompletableFuture<Void> up = new CompletableFuture<>();
        Thread starter = new Thread(() -> {
            try {
                if (embedded != null) {
                    embedded.start();
                }
                Topics.create(settings, bootstrap);
                up.complete(null);
            } catch (Throwable e) {
                up.completeExceptionally(e);
            }
        }, "caravan-kafka-start");
        starter.start();
        return up;
    }

    /** One line for a catalog that is not there: where it was looked for, and how to name another. */
    public static String noCatalog(String command, Path catalogFile) {
        return "caravan " + command + ": no catalog at " + catalogFile.toAbsolutePath().normalize()
                + " (a relative caravan.catalog is read from the folder you run in; name one with --catalog FILE)";
    }
}
