package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The command line's one option parser, which every command uses. */
class OptionsTest {

    @Test
    void takesBothSpellingsOutOfTheArguments() {
        List<String> args = new ArrayList<>(List.of("in.jsonl", "--output", "out.jsonl", "--since=2026-11-01"));
        assertThat(Options.take(args, "-o", "--output")).isEqualTo("out.jsonl");
        assertThat(Options.take(args, "--since")).isEqualTo("2026-11-01");
        assertThat(Options.take(args, "--until")).isNull();
        assertThat(args).containsExactly("in.jsonl");
    }

    @Test
    void aNameWithoutAValueIsAnError() {
        List<String> args = new ArrayList<>(List.of("run", "--catalog"));
        assertThatThrownBy(() -> Options.take(args, "--catalog"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("--catalog needs a value");
    }
}
