package io.caravan.bench;

import io.vertx.core.buffer.Buffer;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.main.Main;

/**
 * The floor under Caravan's added latency (bench only): the same stack (Camel Main, platform-http on Vert.x,
 * camel-http) forwarding {@code POST /v1/chat/completions} to the mock with no routing, JSON or accounting.
 * Arguments: port, upstream URL.
 */
public final class BareCamelProxy {

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String upstream = args[1];
        Main main = new Main();
        main.configure().addRoutesBuilder(new RouteBuilder() {
            @Override
            public void configure() {
                from("platform-http:/v1/chat/completions")
                        .to(upstream + "?bridgeEndpoint=true&throwExceptionOnFailure=false")
                        // written in one go, as Caravan's replies are
                        .process(e -> e.getMessage().setBody(Buffer.buffer(e.getMessage().getBody(byte[].class))));
            }
        });
        // only this route: not the routes or settings of an application.properties nearby
        main.addOverrideProperty("camel.main.routes-include-pattern", "false");
        main.addOverrideProperty("camel.server.enabled", "true");
        main.addOverrideProperty("camel.server.host", "127.0.0.1");
        main.addOverrideProperty("camel.server.port", String.valueOf(port));
        main.addOverrideProperty("camel.main.stream-caching-enabled", "false");
        // the provider client as Caravan configures it
        for (String option : new String[] {"automatic-retries-disabled", "cookie-management-disabled",
                "redirect-handling-disabled", "auth-caching-disabled", "connection-state-disabled"}) {
            main.addOverrideProperty("camel.component.http." + option, "true");
        }
        main.run();
    }
}
