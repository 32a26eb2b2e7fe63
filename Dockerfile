# Build the jar first (mvn -B package -DskipTests); this image only runs it.
FROM eclipse-temurin:21-jre
WORKDIR /app
COPY target/caravan.jar /app/target/caravan.jar
COPY bin/caravan /app/bin/caravan
COPY catalog.yaml /app/catalog.yaml
EXPOSE 8080
# the launcher's JVM defaults (heap CARAVAN_HEAP, default 512m; serial GC; out of memory exits at once so Kafka
# redelivers the uncommitted tasks); it execs java, which stays PID 1 and gets SIGTERM for the graceful drain
ENTRYPOINT ["/app/bin/caravan", "-Dcaravan.http.host=0.0.0.0", "run"]
