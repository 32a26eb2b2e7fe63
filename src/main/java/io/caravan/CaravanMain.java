package io.caravan;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.cli.BatchCommand;
import io.caravan.cli.CheckCommand;
import io.caravan.cli.ReportCommand;
import io.caravan.intake.FatalErrors;
import io.caravan.kafka.EmbeddedKafka;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code java -jar caravan.jar [run|check|batch|report] [--catalog FILE]}. Nothing of Camel is touched before
 * the virtual-thread switch is set, because Camel reads it once when its thread pools first load.
 */
public final class CaravanMain {

    private CaravanMain() {}

    public static void main(String[] args) throws Exception {
        if (Runtime.version().feature() >= 21 && System.getProperty("camel.threads.virtual.enabled") == null) {
            System.setProperty("camel.threads.virtual.enabled", "true");
        }
        System.exit(run(args));
    }

    static int run(String[] args) throws Exception {
        List<String> rest = new ArrayList<>(List.of(args));
        String command = rest.isEmpty() || rest.get(0).startsWith("-") ? "run" : rest.remove(0);
        Settings settings;
        try {
            settings = Settings.load();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("caravan: " + e.getMessage());
            return 2;
        }
        String catalogOption = option(rest, "--catalog");
        if (catalogOption != null) {
            settings = settings.with("caravan.catalog", catalogOption);
        }
        Path catalogFile = Path.of(settings.get("caravan.catalog", "catalog.yaml"));
        switch (command) {
            case "check":
                return CheckCommand.run(catalogFile, System.out, System.err);
            case "run":
                return runRouter(settings, catalogFile);
            case "report":
                return ReportCommand.run(rest, settings, System.out, System.err);
            case "batch":
                return BatchCommand.run(settings, rest, System.out, System.err);
            case "help", "--help", "-h":
                System.out.println("usage: java [-Dname=value ...] -jar caravan.jar [run|check|report|batch] [--catalog FILE]\n"
                        + "       caravan batch IN.jsonl -o OUT.jsonl [--concurrency N]\n"
                        + "       caravan report [--by tier|model|provider|tenant|day] [--since D] [--until D] [--format table|csv|json] [--html FILE]");
                return 0;
            default:
                System.err.println("caravan: unknown command '" + command + "' (run, check, report, batch)");
                return 2;
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
        String bootstrap = settings.get("kafka.bootstrap-servers");
        EmbeddedKafka embedded = null;
        if (bootstrap == null) {
            embedded = new EmbeddedKafka(Path.of(settings.get("caravan.embedded-kafka.dir", "data/kafka")),
                    settings.getInt("caravan.embedded-kafka.port", 9092)).start();
            bootstrap = embedded.bootstrapServers();
        }
        try (EmbeddedKafka broker = embedded) {
            new CaravanApp(settings, catalog, bootstrap).run();
        }
        return 0;
    }

    /** Removes {@code --name VALUE} (or {@code --name=VALUE}) from the arguments and returns the value. */
    public static String option(List<String> args, String name) {
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals(name) && i + 1 < args.size()) {
                args.remove(i);
                return args.remove(i);
            }
            if (arg.startsWith(name + "=")) {
                args.remove(i);
                return arg.substring(name.length() + 1);
            }
        }
        return null;
    }
}
