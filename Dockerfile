# Build the jar first (mvn -B package -DskipTests); this image only runs it.
FROM eclipse-temurin:21-jre
WORKDIR /app
COPY target/caravan.jar /app/caravan.jar
COPY catalog.yaml /app/catalog.yaml
EXPOSE 8080
# out of memory anywhere (not only where Caravan can see it): exit at once, Kafka redelivers the uncommitted tasks
ENTRYPOINT ["java", "-XX:+ExitOnOutOfMemoryError", "-Dcaravan.http.host=0.0.0.0", "-jar", "/app/caravan.jar", "run"]
