package io.caravan.batch;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes batch records (and tombstones) to {@code llm.batches}, each acknowledged by the broker before the caller
 * goes on: the offsets of a batch's tasks are committed only after its record is written. A write is retried while
 * the broker is away, with backoff, until {@link #close()} (then the caller fails and nothing is acknowledged).
 */
public final class BatchRecords implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BatchRecords.class);

    private final String topic;
    private final Properties producerSettings;
    private KafkaProducer<String, byte[]> producer;
    private volatile boolean closed;

    public BatchRecords(String bootstrapServers, String topic, long maxRecordBytes) {
        this.topic = topic;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(Math.max(1_048_576, maxRecordBytes + 65_536)));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        this.producerSettings = p;
    }

    /** Made on the first batch: an idempotent producer talks to the broker at once, and most routers never batch. */
    private synchronized KafkaProducer<String, byte[]> producer() {
        if (producer == null) {
            if (closed) {
                throw new IllegalStateException("batch records closed");
            }
            producer = new KafkaProducer<>(producerSettings);
        }
        return producer;
    }

    public void write(OpenBatch batch) {
        send(batch.id(), batch.record());
    }

    public void tombstone(OpenBatch batch) {
        send(batch.id(), null);
    }

    private void send(String key, byte[] value) {
        long delay = 200;
        while (true) {
            try {
                producer().send(new ProducerRecord<>(topic, key, value)).get(60, TimeUnit.SECONDS);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while recording batch " + key);
            } catch (ExecutionException | java.util.concurrent.TimeoutException | RuntimeException e) {
                Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                if (closed || cause instanceof org.apache.kafka.common.errors.RecordTooLargeException) {
                    throw new IllegalStateException("batch record " + key + " not written: " + cause, cause);
                }
                LOG.warn("batch record {} not written yet, retried in {} ms: {}", key, delay, cause.toString());
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while recording batch " + key);
                }
                delay = Math.min(delay * 2, Duration.ofSeconds(10).toMillis());
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (producer != null) {
                producer.close(Duration.ofSeconds(5));
            }
        }
    }
}
