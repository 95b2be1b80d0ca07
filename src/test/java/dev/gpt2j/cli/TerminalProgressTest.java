package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A progress bar on a real terminal (a pseudo-terminal from util-linux's {@code script}, as a
 * user's shell has): it redraws itself in place on one line, across the terminal's width, although
 * the CLI's log filter has put a pipe on standard error; and it ends once.
 */
@Tag("process")
class TerminalProgressTest {
  @TempDir Path tmp;

  private static final int COLUMNS = 120;

  @Test
  void evalsBarRedrawsInPlaceAcrossTheTerminal() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "no /usr/bin/script: skipped");
    Path model = tmp.resolve("m");
    TinyModels.writeRandom(model, new HParams(HParams.GPT2_VOCAB, 32, 16, 2, 1), 5);
    Path text = Files.writeString(tmp.resolve("t.txt"), "To be, or not to be. ".repeat(60));
    List<String> eval =
        CliProcess.command(List.of(CliRunner.evalText(model, text, "--batch-size", "1")));
    String shell = "stty cols " + COLUMNS + "; " + quoted(eval) + " >/dev/null";
    Process p =
        new ProcessBuilder("/usr/bin/script", "-qefc", shell, "/dev/null")
            .redirectErrorStream(true)
            .start();
    String screen = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "eval ended");
    assertEquals(0, p.exitValue(), screen);

    // lines end in "\n" (the terminal adds "\r" before it); a redraw starts with "\r"
    List<String> bars =
        Arrays.stream(screen.split("\n"))
            .map(l -> l.endsWith("\r") ? l.substring(0, l.length() - 1) : l)
            .filter(l -> l.contains("windows ("))
            .toList();
    assertEquals(1, bars.size(), "the bar is one line, redrawn in place: " + screen);
    String[] draws = bars.get(0).split("\r");
    assertTrue(draws.length >= 3, "drawn, redrawn, then ended: " + bars.get(0)); // "" before \r
    assertTrue(draws[1].contains("text   0%"), draws[1]);
    String last = draws[draws.length - 1].replaceAll("\u001B\\[[0-9;]*m", ""); // no colours
    assertTrue(last.contains("text 100%"), last);
    assertTrue(last.length() <= COLUMNS, last.length() + " columns: " + last);
    Matcher bar = Pattern.compile("│([^│]*)│").matcher(last);
    assertTrue(bar.find(), last);
    assertTrue(bar.group(1).length() > COLUMNS / 4, "the bar uses the width: " + last);
    // "0.1 windows/s", or "?" before the first second is over
    assertTrue(last.matches(".* (\\d+\\.\\d|\\?) windows/s.*"), "the speed: " + last);
  }

  private static String quoted(List<String> argv) {
    List<String> q = new ArrayList<>();
    for (String a : argv) {
      q.add("'" + a.replace("'", "'\\''") + "'");
    }
    return q.stream().collect(Collectors.joining(" "));
  }
}
