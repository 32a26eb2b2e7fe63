package io.caravan.cli;

import java.util.List;

/** The command line's one option parser: {@code --name VALUE} or {@code --name=VALUE}, taken out of the arguments. */
public final class Options {

    private Options() {}

    /**
     * Removes the first of {@code names} given ({@code -o VALUE}, {@code --output=VALUE}) and returns its value, or
     * null when none is given. A name without a value is an {@link IllegalArgumentException}.
     */
    public static String take(List<String> args, String... names) {
        for (String name : names) {
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                if (arg.equals(name)) {
                    if (i + 1 >= args.size()) {
                        throw new IllegalArgumentException(name + " needs a value");
                    }
                    args.remove(i);
                    return args.remove(i);
                }
                if (arg.startsWith(name + "=")) {
                    args.remove(i);
                    return arg.substring(name.length() + 1);
                }
            }
        }
        return null;
    }
}
